// Patrol console: behaviour that the CSP keeps out of the HTML (no inline scripts or handlers).
"use strict";
(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx requests that write carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (ev) {
    if (ev.detail.verb !== "get") { ev.detail.headers["X-CSRF-Token"] = csrfToken(); }
  });
  // <select class="autosubmit"> submits its form on change (the language switch).
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.classList && el.classList.contains("autosubmit") && el.form) { el.form.submit(); }
  });
  // SLA countdowns: <span class="countdown" data-deadline="ISO" data-left="… {time} …" data-overdue="…">.
  function duration(seconds) {
    var s = Math.floor(Math.abs(seconds)), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60), sec = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (d) { return d + "d " + two(h) + "h " + two(m) + "m"; }
    if (h) { return h + "h " + two(m) + "m " + two(sec) + "s"; }
    return m + "m " + two(sec) + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.dataset.deadline) - now) / 1000;
      var text = (left >= 0 ? el.dataset.left : el.dataset.overdue).replace("{time}", duration(left));
      var target = el.querySelector(".clock-time") || el;
      if (target.textContent !== text) { target.textContent = text; }
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); window.setInterval(tick, 1000); });
  window.Patrol = window.Patrol || {};
  window.Patrol.tick = tick;
  window.Patrol.csrfToken = csrfToken;
})();
