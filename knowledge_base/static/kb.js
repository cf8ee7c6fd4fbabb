// Knowledge-base pages: live preview of both answer forms in the editor; CSV/Excel upload (CSRF header).
"use strict";
(function () {
  document.querySelectorAll("textarea[data-preview]").forEach(function (field) {
    var target = document.getElementById(field.dataset.preview);
    var counter = document.getElementById(field.dataset.preview + "-count");
    function update() {
      target.textContent = field.value; // text only: never interpreted as markup
      if (counter) counter.textContent = "(" + field.value.length + ")";
    }
    field.addEventListener("input", update);
    update();
  });

  var form = document.getElementById("kb-import");
  if (!form) return;
  var out = document.getElementById("kb-import-result");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    out.hidden = false;
    out.textContent = "…";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-CSRF-Token": form.dataset.csrf },
      credentials: "same-origin",
    })
      .then(function (resp) { return resp.json(); })
      .then(function (data) { out.textContent = JSON.stringify(data, null, 2); })
      .catch(function (err) { out.textContent = String(err); });
  });
})();
