// Draws the call figures (the same numbers as the CSV) with the vendored Chart.js.
(function () {
  "use strict";
  var source = document.getElementById("call-figures-data");
  if (!source || !window.Chart) { return; }
  var figures = JSON.parse(source.textContent);
  // Answered green, not answered red, still open grey; other series in neutral colours.
  var outcome = ["#2e7d32", "#c62828", "#9e9e9e"];
  var palette = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#795548", "#558b2f"];
  var style = getComputedStyle(document.documentElement);
  var text = style.getPropertyValue("--body-fg").trim() || "#333";
  var grid = style.getPropertyValue("--hairline-color").trim() || "#ddd";
  Chart.defaults.color = text;
  Chart.defaults.borderColor = grid;
  Chart.defaults.animation = false;
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var chart = figures.charts[canvas.dataset.chart];
    if (!chart) { return; }
    var names = Object.keys(chart.series);
    var horizontal = chart.type === "hbar";
    var line = chart.type === "line";
    var datasets = names.map(function (name, i) {
      var colour = (chart.stacked ? outcome : palette)[i % palette.length];
      return {
        label: name,
        data: chart.series[name],
        backgroundColor: colour,
        borderColor: colour,
        spanGaps: true,
        tension: 0.2,
        pointRadius: chart.labels.length > 60 ? 0 : 3
      };
    });
    new Chart(canvas, {
      type: line ? "line" : "bar",
      data: {labels: chart.labels, datasets: datasets},
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        plugins: {legend: {display: names.length > 1, position: "bottom"}},
        scales: {
          x: {stacked: !!chart.stacked, beginAtZero: true},
          y: {stacked: !!chart.stacked, beginAtZero: true}
        }
      }
    });
  });
})();
