// Runs a diagnostic action and streams its output into the page, then shows its audit entries.
"use strict";
(function () {
  function el(tag, text) { var e = document.createElement(tag); if (text != null) { e.textContent = text; } return e; }

  function showArgs(form) {
    var select = form.querySelector("#diag-action");
    var box = form.querySelector("#diag-args");
    var option = select.options[select.selectedIndex];
    var args = option ? JSON.parse(option.dataset.args || "{}") : {};
    box.querySelectorAll(".arg").forEach(function (n) { n.remove(); });
    Object.keys(args).forEach(function (name) {
      var wrap = el("div"); wrap.className = "arg";
      var label = el("label", name); label.htmlFor = "arg-" + name;
      var input = el("input"); input.id = "arg-" + name; input.name = "arg:" + name; input.placeholder = args[name];
      wrap.appendChild(label); wrap.appendChild(input); box.appendChild(wrap);
    });
    box.hidden = Object.keys(args).length === 0;
  }

  // The result's audit row is written as the request ends: ask again until it is there.
  function loadAudit(requestId, attempt) {
    attempt = attempt || 0;
    fetch("/console/api/diag/" + encodeURIComponent(requestId) + "/audit",
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        var ended = rows.some(function (r) { return r.event !== "diag.request"; });
        if (!ended && attempt < 20) { window.setTimeout(function () { loadAudit(requestId, attempt + 1); }, 500); }
        var body = document.querySelector("#diag-audit tbody");
        body.textContent = "";
        rows.forEach(function (r) {
          var tr = el("tr"); tr.className = "audit-row"; tr.dataset.event = r.event;
          [new Date(r.at_ms).toISOString(), r.actor, r.event, r.action || "", r.outcome || "",
           r.detail || (r.bytes != null ? r.bytes + " B" : "")].forEach(function (v) { tr.appendChild(el("td", v)); });
          body.appendChild(tr);
        });
        if (ended || attempt >= 20) { document.getElementById("diag-result").dataset.audited = String(rows.length); }
      });
  }

  function run(form) {
    var output = document.getElementById("diag-output");
    var status = document.getElementById("diag-status");
    var result = document.getElementById("diag-result");
    var args = {};
    form.querySelectorAll("#diag-args input").forEach(function (i) { if (i.value) { args[i.name.slice(4)] = i.value; } });
    output.textContent = ""; status.textContent = "…"; result.hidden = false;
    delete result.dataset.status; delete result.dataset.audited;
    var decoder = new TextDecoder();
    var requestId = null, buffer = "";
    function handle(line) {
      if (!line.trim()) { return; }
      var item = JSON.parse(line);
      if (item.type === "started") { requestId = item.request_id; status.textContent = item.request_id; }
      else if (item.type === "chunk") {
        var bytes = Uint8Array.from(atob(item.data), function (c) { return c.charCodeAt(0); });
        output.textContent += decoder.decode(bytes, { stream: true });
      } else if (item.type === "final") {
        status.textContent = item.status + (item.error ? ": " + item.error : "") + " · " + item.total_bytes + " B";
        result.dataset.status = item.status;
        if (requestId) { loadAudit(requestId); }
      }
    }
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": window.Patrol.csrfToken() },
      body: JSON.stringify({ host: form.querySelector("#diag-host").value,
                             action: form.querySelector("#diag-action").value, args: args })
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (j) { status.textContent = response.status + ": " + j.detail; result.dataset.status = "refused"; });
      }
      var reader = response.body.getReader();
      var text = new TextDecoder();
      function pump() {
        return reader.read().then(function (part) {
          if (part.done) { if (buffer) { handle(buffer); } return; }
          buffer += text.decode(part.value, { stream: true });
          var lines = buffer.split("\n"); buffer = lines.pop();
          lines.forEach(handle);
          return pump();
        });
      }
      return pump();
    }).catch(function (err) { status.textContent = String(err); result.dataset.status = "error"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("diag-form");
    if (!form) { return; }
    form.querySelector("#diag-action").addEventListener("change", function () { showArgs(form); });
    showArgs(form);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); run(form); });
  });
})();
