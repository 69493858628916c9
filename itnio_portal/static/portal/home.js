// The operations home: each running or scheduled campaign's bar and counts follow the
// campaign's progress endpoint (the numbers of the campaign page), every 5 seconds.
(function () {
  "use strict";
  function active(state) { return state === "running" || state === "scheduled"; }
  function render(row, data) {
    var pct = data.percent.toFixed(1);
    row.querySelector(".portal-bar-fill").style.width = pct + "%";
    row.querySelector(".portal-bar-label").textContent = pct + " %";
    row.querySelector(".board-done").textContent = data.done.toLocaleString();
    row.querySelector(".board-total").textContent = data.total.toLocaleString();
    var state = row.querySelector(".portal-state");
    state.textContent = data.state_display;
    state.className = "portal-state portal-state-" + data.state;
    row.dataset.state = data.state;
  }
  function poll(row) {
    fetch(row.dataset.progressUrl, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        render(row, data);
        if (active(data.state)) { setTimeout(function () { poll(row); }, 5000); }
      })
      .catch(function () { setTimeout(function () { poll(row); }, 10000); });
  }
  document.querySelectorAll("tr.board-campaign").forEach(function (row) {
    if (active(row.dataset.state)) { setTimeout(function () { poll(row); }, 2000); }
  });
})();
