// Callee import page: poll the progress URL every 2 s while the job runs; reload when it ends.
(function () {
  "use strict";
  const panel = document.getElementById("import-panel");
  if (!panel || panel.dataset.active !== "1") return;
  const url = panel.dataset.progressUrl;
  const bar = document.getElementById("import-progress-bar");
  const meter = document.getElementById("import-progress");
  const percent = document.getElementById("import-percent");
  const state = document.getElementById("import-state");
  const size = document.getElementById("import-size");
  const note = document.getElementById("import-note");

  function show(data) {
    bar.style.width = data.percent + "%";
    meter.setAttribute("aria-valuenow", data.percent);
    percent.textContent = data.percent + " %";
    state.textContent = data.state_display;
    size.textContent = data.size_display;
    if (note) {
      note.textContent = data.note || "";
      note.hidden = !data.note;
    }
    for (const name of ["rows", "imported", "rejected", "duplicates", "confirmed"]) {
      const cell = panel.querySelector('[data-count="' + name + '"]');
      if (cell) cell.textContent = data[name];
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        show(data);
        if (data.finished) {
          // The page shows the rejected rows and the Confirm / Cancel buttons once it is read.
          setTimeout(() => window.location.reload(), 600);
        } else {
          setTimeout(poll, 2000);
        }
      })
      .catch(() => setTimeout(poll, 5000));
  }

  setTimeout(poll, 2000);
})();
