// Campaign progress: poll the JSON endpoint while the campaign is running or scheduled.
(function () {
  "use strict";
  var box = document.getElementById("campaign-progress");
  if (!box) { return; }
  var url = box.dataset.url;
  function render(data) {
    var pct = data.percent.toFixed(1);
    document.getElementById("progress-fill").style.width = pct + "%";
    document.getElementById("progress-label").textContent = pct + " %";
    Object.keys(data.counts).forEach(function (state) {
      var cell = document.getElementById("count-" + state);
      if (cell) { cell.textContent = data.counts[state]; }
    });
    document.getElementById("count-total").textContent = data.total;
    var eta = document.getElementById("progress-eta");
    if (data.eta) {
      eta.textContent = "Estimated finish " + new Date(data.eta).toLocaleString() +
        " (" + data.rate_per_minute + " callees/min)";
    } else if (data.state !== "running") {
      eta.textContent = data.state_display + (data.state_reason ? ": " + data.state_reason : "");
    }
    box.dataset.state = data.state;
  }
  function stopped(data) {
    // The run ended (completed, paused, cancelled): buttons for a running campaign go, and a
    // link offers the page as it is now (state, buttons, figures), without reloading under
    // the reader's eyes.
    var gone = data.state === "paused" ? ["pause-campaign"] : ["pause-campaign", "cancel-campaign"];
    gone.forEach(function (id) {
      var button = document.getElementById(id);
      if (button) { button.closest("li").style.display = "none"; }
    });
    var eta = document.getElementById("progress-eta");
    var link = document.createElement("a");
    link.href = window.location.pathname;
    link.id = "progress-reload";
    link.textContent = " Show the updated page";
    eta.appendChild(link);
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      var was = box.dataset.state;
      render(data);
      if (data.state === "running" || data.state === "scheduled") { setTimeout(poll, 2000); }
      else if (data.state !== was) { stopped(data); }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  if (box.dataset.state === "running" || box.dataset.state === "scheduled") { setTimeout(poll, 1000); }
})();
