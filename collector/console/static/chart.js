// Interactive series charts of the host page (uPlot): ranges from 1 h to 1 y, drag to zoom, pan,
// the stored capacity forecast and its band. Each zoom or pan asks the collector for the window,
// which reads it from the rollup tier that fits.
"use strict";
(function () {
  var COLORS = ["#1f5f8b", "#2f855a", "#b7791f", "#805ad5", "#c53030", "#319795", "#d53f8c", "#4a5568"];

  function fmtValue(v, unit) {
    if (v == null) { return "—"; }
    if (unit === "bytes" || unit === "bytes/s") {
      var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0, x = Math.abs(v);
      while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
      return (v < 0 ? "-" : "") + x.toFixed(x >= 100 ? 0 : 1) + " " + units[i] + (unit === "bytes/s" ? "/s" : "");
    }
    var s = Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, "");
    return unit ? s + " " + unit : s;
  }

  function Chart(box) {
    this.box = box;
    this.host = box.dataset.host;
    this.metric = box.dataset.metric;
    this.range = parseFloat(box.dataset.range) || 86400;
    this.until = null; // null: now
    this.plot = null;
    this.el = box.querySelector(".chart");
    this.info = box.querySelector(".chart-info");
    var self = this;
    box.querySelector(".chart-metric").addEventListener("change", function (ev) {
      self.metric = ev.target.value; self.load();
    });
    box.querySelectorAll(".chart-range").forEach(function (b) {
      b.addEventListener("click", function () { self.range = parseFloat(b.dataset.seconds); self.until = null; self.load(); });
    });
    box.querySelectorAll(".chart-pan").forEach(function (b) {
      b.addEventListener("click", function () {
        var end = self.until || Date.now() / 1000;
        self.until = Math.min(Date.now() / 1000, end + parseFloat(b.dataset.dir) * self.range / 2);
        self.load();
      });
    });
    box.querySelector(".chart-now").addEventListener("click", function () { self.until = null; self.load(); });
  }

  Chart.prototype.url = function () {
    var q = "metric=" + encodeURIComponent(this.metric) + "&range_s=" + Math.round(this.range);
    if (this.until) { q += "&until=" + this.until.toFixed(0); }
    return "/console/api/hosts/" + encodeURIComponent(this.host) + "/series?" + q;
  };

  Chart.prototype.load = function () {
    var self = this;
    self.box.classList.add("loading");
    fetch(self.url(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) { self.draw(data); })
      .catch(function (err) { self.info.textContent = String(err); })
      .then(function () { self.box.classList.remove("loading"); });
  };

  Chart.prototype.draw = function (data) {
    var self = this;
    var series = [{}];
    var columns = [data.x];
    var bands = [];
    var valueIndex = 0;
    data.series.forEach(function (s, i) {
      var color = COLORS[valueIndex % COLORS.length];
      var spec = { label: s.label, stroke: color, width: 1.5, spanGaps: false,
                   value: function (u, v) { return fmtValue(v, data.unit); } };
      if (s.kind === "value") { valueIndex++; }
      if (s.kind === "forecast-trend") { spec.stroke = "#c53030"; spec.dash = [6, 4]; }
      if (s.kind === "forecast-low" || s.kind === "forecast-high") {
        spec.stroke = "rgba(197,48,48,0.35)"; spec.width = 1; spec.fill = undefined;
      }
      series.push(spec);
      columns.push(s.values);
      if (s.kind === "forecast-high" && i >= 1 && data.series[i - 1].kind === "forecast-low") {
        bands.push({ series: [i + 1, i], fill: "rgba(197,48,48,0.12)" });
      }
    });
    var width = Math.max(320, self.el.clientWidth || 800);
    var opts = {
      width: width, height: 260, series: series, bands: bands,
      scales: { x: { time: true } },
      axes: [{}, { size: 70, values: function (u, vals) { return vals.map(function (v) { return fmtValue(v, data.unit); }); } }],
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [function (u) {
        if (u.select.width < 5) { return; }
        var lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
        self.until = Math.min(hi, Date.now() / 1000);
        self.range = Math.max(600, self.until - lo);
        self.load();
      }] }
    };
    if (self.plot) { self.plot.destroy(); }
    self.el.textContent = "";
    self.plot = new uPlot(opts, columns, self.el);
    self.box.dataset.points = String(data.x.length);
    self.box.dataset.tier = data.tier || "";
    var fc = data.forecasts.length ? " · forecast " + data.forecasts.length : "";
    self.info.textContent = data.title + " · " + (data.tier || "—") + " tier · step " + Math.round(data.step_s) + " s · " +
      data.x.length + " points" + fc;
    self.box.classList.add("drawn");
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart-box").forEach(function (box) { new Chart(box).load(); });
  });
})();
