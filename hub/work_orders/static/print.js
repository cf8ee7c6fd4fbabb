// The printable work-order form: the toolbar's button opens the browser's print dialog (CSP: no inline script).
"use strict";
document.getElementById("print-now").addEventListener("click", function () {
  window.print();
});
