// While the prompt check of the viewed flow version runs, poll its section and swap it in when it is done.
(function () {
  "use strict";
  function poll() {
    var section = document.getElementById("prompt-check");
    if (!section) return;
    var state = section.getAttribute("data-state");
    var url = section.getAttribute("data-url");
    if (!url || (state !== "queued" && state !== "running")) return;
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html) {
            var holder = document.createElement("div");
            holder.innerHTML = html;
            var fresh = holder.querySelector("#prompt-check");
            if (fresh) section.replaceWith(fresh);
          }
          poll();
        })
        .catch(function () { poll(); });
    }, 3000);
  }
  document.addEventListener("DOMContentLoaded", poll);
})();
