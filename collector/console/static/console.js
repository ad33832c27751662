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
  window.Patrol = window.Patrol || {};
  window.Patrol.csrfToken = csrfToken;
})();
