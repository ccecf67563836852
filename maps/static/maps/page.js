/* Small page behaviours without inline event handlers (the Content-Security-Policy runs no onclick="…"):
   [data-print] prints the page, select[data-autosubmit] submits its form when changed. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-print]");
    if (el) { e.preventDefault(); window.print(); }
  });
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });
})();
