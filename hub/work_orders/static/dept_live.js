// Live alerts on the department portal (/dept) and the centre's list (/orders): new, urgent and escalated orders.
// Listens to the Server-Sent Events feed named by the script tag's data-feed, shows a banner, updates the
// "to sign" count, beeps and shows a desktop notification when allowed. Text goes in with textContent only.
(function () {
  "use strict";
  var script = document.getElementById("dept-live");
  if (!script || !window.EventSource) { return; }
  var feed = script.getAttribute("data-feed");
  var labels = {
    enable: script.getAttribute("data-i18n-enable"),
    title: script.getAttribute("data-i18n-title"),
    open: script.getAttribute("data-i18n-open"),
    dismiss: script.getAttribute("data-i18n-dismiss")
  };
  var main = document.querySelector("main") || document.body;
  var banner = document.createElement("div");
  banner.id = "live-banner";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  main.insertBefore(banner, main.firstChild);

  function notifyButton() {
    if (!("Notification" in window) || Notification.permission !== "default") { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.id = "live-notify";
    button.textContent = labels.enable;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.remove(); });
    });
    main.insertBefore(button, banner.nextSibling);
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var audio = new Ctx();
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.15;
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.35);
      tone.onended = function () { audio.close(); };
    } catch (e) { /* no sound: the banner still shows */ }
  }

  function setCount(name, value) {
    var tab = document.getElementById("tab-" + name);
    var badge = document.querySelector('[data-count="' + name + '"]') || (tab && tab.querySelector(".count"));
    if (!badge && tab) {
      badge = document.createElement("span");
      badge.className = "count";
      badge.setAttribute("data-count", name);
      tab.appendChild(badge);
    }
    if (badge) { badge.textContent = String(value); }
  }

  function show(data) {
    banner.textContent = "";
    banner.className = "live-" + data.kind;
    var text = document.createElement("span");
    text.className = "live-text";
    text.textContent = data.text;
    var link = document.createElement("a");
    link.href = data.url;
    link.textContent = labels.open;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "live-dismiss";
    close.textContent = labels.dismiss;
    close.addEventListener("click", function () { banner.hidden = true; });
    banner.appendChild(text);
    banner.appendChild(link);
    banner.appendChild(close);
    banner.setAttribute("data-number", data.number);
    banner.hidden = false;
  }

  function desktop(data) {
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    try {
      var note = new Notification(labels.title, { body: data.text, tag: "order-" + data.number });
      note.onclick = function () { window.focus(); window.location.href = data.url; };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  var source = new EventSource(feed);
  source.addEventListener("order", function (ev) {
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    show(data);
    if (data.counts && typeof data.counts.to_sign === "number") { setCount("to_sign", data.counts.to_sign); }
    beep();
    desktop(data);
    document.body.setAttribute("data-live-last", data.number);
  });
  source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
  notifyButton();
})();
