// Report pages: the period field follows the chosen kind (this month or this quarter) until edited.
"use strict";
(function () {
  var kind = document.getElementById("gen-kind");
  var period = document.getElementById("gen-period");
  if (!kind || !period) { return; }
  var edited = false;
  period.addEventListener("input", function () { edited = true; });
  kind.addEventListener("change", function () {
    if (!edited) { period.value = period.dataset[kind.value] || period.value; }
  });
})();
