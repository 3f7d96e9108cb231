// aidmall pages: progressive enhancement only; every page works without this script.
"use strict";
(function () {
  // A form marked data-once disables its submit buttons when sent, so a double click
  // sends it once (the server refuses a repeat all the same).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!(f instanceof HTMLFormElement) || !f.hasAttribute("data-once")) return;
    if (f.dataset.sent === "1") { e.preventDefault(); return; }
    f.dataset.sent = "1";
    f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  });
})();
