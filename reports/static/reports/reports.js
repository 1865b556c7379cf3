/* The report pages' charts: drawn from the JSON the page carries (#report-chart-data), with
 * Chart.js served by Carshop (vendor/chartjs). Colors from the Okabe-Ito palette (safe for
 * color-blind readers), each series also with its own pattern, and values written on the bars
 * when there are few, so that the chart reads without color and on paper. */
(function () {
  "use strict";
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"];

  function pattern(color, index) {
    var size = 10;
    var canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
    ctx.lineWidth = 2;
    var kind = index % 4;
    if (kind === 1) {          // diagonal stripes
      ctx.beginPath();
      ctx.moveTo(0, size);
      ctx.lineTo(size, 0);
      ctx.stroke();
    } else if (kind === 2) {   // dots
      ctx.beginPath();
      ctx.arc(size / 2, size / 2, 2, 0, 2 * Math.PI);
      ctx.fill();
    } else if (kind === 3) {   // horizontal lines
      ctx.fillRect(0, size / 2 - 1, size, 2);
    }
    return ctx.createPattern(canvas, "repeat");
  }

  var valueLabels = {
    id: "carshopValueLabels",
    afterDatasetsDraw: function (chart) {
      var horizontal = chart.options.indexAxis === "y";
      var count = chart.data.labels.length * chart.data.datasets.length;
      if (count > 24 || chart.config.type !== "bar" || chart.options.scales.x.stacked) {
        return;
      }
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "#222";
      ctx.font = "11px sans-serif";
      ctx.textAlign = horizontal ? "left" : "center";
      ctx.textBaseline = horizontal ? "middle" : "bottom";
      chart.data.datasets.forEach(function (dataset, i) {
        chart.getDatasetMeta(i).data.forEach(function (bar, j) {
          var value = dataset.data[j];
          if (value === null || value === undefined) {
            return;
          }
          var text = Number(value).toLocaleString(undefined, {maximumFractionDigits: 2});
          if (horizontal) {
            ctx.fillText(text, bar.x + 4, bar.y);
          } else {
            ctx.fillText(text, bar.x, bar.y - 2);
          }
        });
      });
      ctx.restore();
    }
  };

  function draw() {
    var canvas = document.getElementById("report-chart");
    var source = document.getElementById("report-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var type = data.kind === "line" ? "line" : "bar";
    var stacked = data.kind === "stacked";
    var horizontal = data.kind === "hbar";
    var datasets = data.datasets.map(function (set, i) {
      var color = PALETTE[i % PALETTE.length];
      return {
        label: set.label,
        data: set.data,
        backgroundColor: type === "bar" ? pattern(color, i) : color,
        borderColor: color,
        borderWidth: type === "bar" ? 1 : 2,
        pointStyle: ["circle", "rect", "triangle", "rectRot"][i % 4]
      };
    });
    canvas.dataset.drawn = "pending";
    new Chart(canvas, {
      type: type,
      data: {labels: data.labels, datasets: datasets},
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? "y" : "x",
        scales: {
          x: {stacked: stacked, ticks: {color: "#222"}},
          y: {stacked: stacked, beginAtZero: true, ticks: {color: "#222"}}
        },
        plugins: {
          legend: {labels: {color: "#222", usePointStyle: false}},
          title: {display: Boolean(data.title), text: data.title, color: "#222"}
        }
      },
      plugins: [valueLabels]
    });
    canvas.dataset.drawn = "yes";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
