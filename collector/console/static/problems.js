// The problem board follows the collector's server-sent events: new rows replace the old without a reload.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("board");
    if (!table || !window.EventSource) { return; }
    var rows = document.getElementById("board-rows");
    var live = document.getElementById("live");
    var digest = table.dataset.digest || "";
    function state(on) {
      live.querySelector(".live-dot").classList.toggle("on", on);
      live.querySelector(".live-on").hidden = !on;
      live.querySelector(".live-off").hidden = on;
      table.dataset.live = on ? "1" : "0";
    }
    var source = new EventSource(table.dataset.stream + "?digest=" + encodeURIComponent(digest));
    source.addEventListener("open", function () { state(true); });
    source.addEventListener("error", function () { state(false); });
    source.addEventListener("board", function (ev) {
      rows.innerHTML = ev.data;
      table.dataset.updates = String((parseInt(table.dataset.updates || "0", 10)) + 1);
      if (window.Patrol && window.Patrol.tick) { window.Patrol.tick(); }
    });
    window.addEventListener("beforeunload", function () { source.close(); });
  });
})();
