// Reads every drawn chart back into data coordinates and writes, per chart and series, the
// number of points and their ranges into #render-check (JSON), for tests and for anyone
// who wants to check a chart against the report. A point outside its plot is an error.
// Then shows each line's value under the pointer.
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
  // Hover: a vertical rule and, for each line, its value at the nearest point.
  function fmt(v) {
    if (v === 0) { return "0"; }
    var a = Math.abs(v);
    return a >= 1000 ? Math.round(v).toLocaleString("en") : a >= 10 ? v.toFixed(1) : v.toPrecision(3);
  }
  function hover() {
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    document.body.appendChild(tip);
    var charts = document.querySelectorAll("svg.chart");
    for (var c = 0; c < charts.length; c++) { follow(charts[c], tip); }
  }
  function follow(svg, tip) {
    var plot = svg.getAttribute("data-plot").split(" ").map(parseFloat);
    var left = plot[0], top = plot[1], width = plot[2], height = plot[3];
    var x0 = num(svg, "data-x-min"), x1 = num(svg, "data-x-max");
    var y0 = num(svg, "data-y-min"), y1 = num(svg, "data-y-max");
    var log = svg.getAttribute("data-y-log") === "1";
    var percentile = svg.getAttribute("data-x-kind") === "percentile";
    var rule = document.createElementNS("http://www.w3.org/2000/svg", "line");
    rule.setAttribute("class", "rule");
    rule.setAttribute("y1", top);
    rule.setAttribute("y2", top + height);
    rule.style.display = "none";
    svg.appendChild(rule);
    function value(py) {
      var share = (top + height - py) / height;
      return log ? Math.pow(10, Math.log10(y0) + share * (Math.log10(y1) - Math.log10(y0)))
                 : y0 + share * (y1 - y0);
    }
    svg.addEventListener("mousemove", function (event) {
      var at = svg.createSVGPoint();
      at.x = event.clientX;
      at.y = event.clientY;
      var p = at.matrixTransform(svg.getScreenCTM().inverse());
      if (p.x < left || p.x > left + width) { return; }
      var lines = svg.querySelectorAll("polyline"), rows = [], nearest = null;
      for (var i = 0; i < lines.length; i++) {
        var pts = lines[i].points, best = null;
        for (var k = 0; k < pts.numberOfItems; k++) {
          var q = pts.getItem(k);
          if (best === null || Math.abs(q.x - p.x) < Math.abs(best.x - p.x)) { best = q; }
        }
        if (best === null) { continue; }
        if (nearest === null || Math.abs(best.x - p.x) < Math.abs(nearest - p.x)) { nearest = best.x; }
        rows.push(lines[i].getAttribute("data-series") + ": " + fmt(value(best.y)));
      }
      if (nearest === null) { return; }
      var x = x0 + (nearest - left) / width * (x1 - x0);
      var head = percentile ? (100 * (1 - Math.pow(10, -x))).toPrecision(6).replace(/\.?0+$/, "") + "%"
                            : x.toFixed(1) + " s";
      rule.setAttribute("x1", nearest);
      rule.setAttribute("x2", nearest);
      rule.style.display = "";
      tip.textContent = head + "\n" + rows.join("\n");
      tip.style.left = (event.clientX + 14) + "px";
      tip.style.top = (event.clientY + 10) + "px";
      tip.hidden = false;
    });
    svg.addEventListener("mouseleave", function () {
      rule.style.display = "none";
      tip.hidden = true;
    });
  }
  function start() {
    check();
    hover();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
