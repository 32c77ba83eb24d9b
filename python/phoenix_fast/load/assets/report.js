// Reads every drawn chart back into data coordinates and writes, per chart and series, the
// number of points and their ranges into #render-check (JSON), for tests and for anyone
// who wants to check a chart against the report. A point outside its plot is an error.
(function () {
  "use strict";
  function num(el, name) { return parseFloat(el.getAttribute(name)); }
  function check() {
    var out = {};
    var charts = document.querySelectorAll("svg.chart");
    for (var c = 0; c < charts.length; c++) {
      var svg = charts[c];
      var plot = svg.getAttribute("data-plot").split(" ").map(parseFloat);
      var left = plot[0], top = plot[1], width = plot[2], height = plot[3];
      var x0 = num(svg, "data-x-min"), x1 = num(svg, "data-x-max");
      var y0 = num(svg, "data-y-min"), y1 = num(svg, "data-y-max");
      var log = svg.getAttribute("data-y-log") === "1";
      var box = svg.getBoundingClientRect();
      var found = {
        x: [x0, x1], y: [y0, y1], yLog: log, xKind: svg.getAttribute("data-x-kind"),
        shown: [Math.round(box.width), Math.round(box.height)], series: {}
      };
      var lines = svg.querySelectorAll("polyline");
      for (var i = 0; i < lines.length; i++) {
        var pts = lines[i].points, xs = [], ys = [];
        for (var k = 0; k < pts.numberOfItems; k++) {
          var p = pts.getItem(k);
          var share = (top + height - p.y) / height;
          if (p.x < left - 0.5 || p.x > left + width + 0.5 || share < -0.005 || share > 1.005) {
            console.error("chart " + svg.getAttribute("data-chart") + ": a point outside the plot");
          }
          xs.push(x0 + (p.x - left) / width * (x1 - x0));
          ys.push(log ? Math.pow(10, Math.log10(y0) + share * (Math.log10(y1) - Math.log10(y0)))
                      : y0 + share * (y1 - y0));
        }
        found.series[lines[i].getAttribute("data-series")] = {
          points: xs.length,
          x: [Math.min.apply(null, xs), Math.max.apply(null, xs)],
          y: [Math.min.apply(null, ys), Math.max.apply(null, ys)]
        };
      }
      out[svg.getAttribute("data-chart")] = found;
    }
    var target = document.getElementById("render-check");
    target.textContent = JSON.stringify(out);
    document.body.setAttribute("data-rendered", String(charts.length));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", check);
  } else {
    check();
  }
})();
