// The account page's balance history (the balance watch's readings) with the vendored Chart.js.
(function () {
  "use strict";
  var source = document.getElementById("balance-history-data");
  var canvas = document.getElementById("balance-chart");
  if (!source || !canvas || !window.Chart) { return; }
  var history = JSON.parse(source.textContent);
  var colours = ["#1565c0", "#6a1b9a", "#c62828"];
  Chart.defaults.animation = false;
  var names = Object.keys(history.series);
  new Chart(canvas, {
    type: "line",
    data: {
      labels: history.labels,
      datasets: names.map(function (name, i) {
        return {
          label: name + " (" + history.currency + ")",
          data: history.series[name],
          borderColor: colours[i % colours.length],
          backgroundColor: colours[i % colours.length],
          borderDash: i === 2 ? [6, 4] : [],
          pointRadius: history.labels.length > 60 ? 0 : 2,
          tension: 0.2
        };
      })
    },
    options: {maintainAspectRatio: false, plugins: {legend: {position: "bottom"}}}
  });
})();
