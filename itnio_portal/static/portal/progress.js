// Campaign progress: poll the JSON endpoint while the campaign is running or scheduled, and
// while a sent campaign still waits for final records (progress counts final callees). When the
// run ends, or the last record arrives, the page is shown anew (state, buttons, batches and
// figures all agree), unless the reader has typed into the form: then a link offers it.
(function () {
  "use strict";
  var box = document.getElementById("campaign-progress");
  if (!box) { return; }
  // Django's JavaScript catalogue (admin:jsi18n, loaded by the change form); English without it.
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\(\w+\)s/g, function (m) { return String(obj[m.slice(2, -2)]); });
  };
  var url = box.dataset.url;
  var edited = false;
  document.addEventListener("input", function () { edited = true; }, true);
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
      eta.textContent = interpolate(gettext("Estimated finish %(eta)s (%(rate)s callees/min)"), {
        eta: new Date(data.eta).toLocaleString(),
        rate: data.rate_per_minute
      }, true);
    } else if (data.state !== "running") {
      eta.textContent = data.state_display + (data.state_reason ? ": " + data.state_reason : "");
    }
    box.dataset.state = data.state;
  }
  function stopped(data) {
    // The run ended (completed, paused, cancelled), or its last record arrived.
    if (!edited) {
      box.dataset.reloading = "yes";  // the page that shows up next has no such mark
      window.location.reload();
      return;
    }
    var gone = data.state === "paused" ? ["pause-campaign"] : ["pause-campaign", "cancel-campaign"];
    gone.forEach(function (id) {
      var button = document.getElementById(id);
      if (button) { button.closest("li").style.display = "none"; }
    });
    // Beside the status line, not in it: polling for final records rewrites that line.
    if (document.getElementById("progress-reload")) { return; }
    var eta = document.getElementById("progress-eta");
    var link = document.createElement("a");
    link.href = window.location.pathname;
    link.id = "progress-reload";
    link.textContent = " " + gettext("Show the updated page");
    eta.insertAdjacentElement("afterend", link);
  }
  function active(state) { return state === "running" || state === "scheduled"; }
  function recordsDue(data) { return data.state === "completed" && data.counts.submitted > 0; }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      var was = box.dataset.state;
      var waited = box.dataset.recordsDue === "yes";
      render(data);
      if (!active(data.state) && data.state !== was) { stopped(data); return; }
      if (waited && !recordsDue(data)) { box.dataset.recordsDue = "no"; stopped(data); return; }
      if (active(data.state) || recordsDue(data)) {
        if (recordsDue(data)) { box.dataset.recordsDue = "yes"; }
        setTimeout(poll, 2000);
      }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  if (active(box.dataset.state) || box.dataset.recordsDue === "yes") { setTimeout(poll, 1000); }
})();
