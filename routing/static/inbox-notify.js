// Agent inbox, attention: the unread count in the title, a short beep (WebAudio, no file) and desktop notifications
// (Notification API, permission asked from the agent's click) for citizens writing in the agent's own conversations
// and for new conversations in the queue.
(function () {
  "use strict";
  var I = window.InboxApp;
  var baseTitle = document.title;
  var button = document.getElementById("enable-notify");
  var sound = document.getElementById("sound-toggle");
  var audio = null;

  I.on("unread", function (total) {
    I.state.unreadTotal = total || 0;
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
  });

  function supported() { return "Notification" in window; }
  function showState() {
    if (!supported()) { button.textContent = I.t("inbox.notify.unsupported"); button.disabled = true; return; }
    var p = window.Notification.permission;
    button.textContent = I.t(p === "granted" ? "inbox.notify.on" : p === "denied" ? "inbox.notify.denied" : "inbox.notify.enable");
    button.classList.toggle("on", p === "granted");
    button.setAttribute("aria-pressed", p === "granted" ? "true" : "false");
  }
  function unlockAudio() {  // browsers start audio only after a gesture: make the context on the first one
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    if (!audio) { audio = new Ctx(); }
    if (audio.state === "suspended") { audio.resume(); }
  }
  button.addEventListener("click", function () {
    unlockAudio();
    if (!supported()) { return; }
    var asked = window.Notification.requestPermission(showState);
    if (asked && asked.then) { asked.then(showState); }
  });
  ["click", "keydown"].forEach(function (kind) { document.addEventListener(kind, unlockAudio, { once: true }); });
  try { sound.checked = localStorage.getItem("inbox.sound") !== "off"; } catch (e) { /* storage off */ }
  sound.addEventListener("change", function () {
    try { localStorage.setItem("inbox.sound", sound.checked ? "on" : "off"); } catch (e) { /* storage off */ }
  });
  showState();

  I.beep = function () {
    if (!sound.checked) { return; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    if (!audio) { audio = new Ctx(); }
    var osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.3);
  };

  I.notify = function (title, text, conversationId) {
    if (!supported() || window.Notification.permission !== "granted") { return; }
    var n = new window.Notification(title, { body: text || "", tag: conversationId || undefined });
    n.onclick = function () { window.focus(); if (conversationId) { I.select(conversationId); } };
  };

  function attentionNeeded(conversationId) { return document.hidden || I.state.selected !== conversationId; }

  // A new citizen message (inbox WebSocket "message" with "conversation_state").
  I.on("citizen_message", function (data) {
    var c = data.conversation_state || {};
    if (!(c.status === "assigned" && c.assignee_id === I.me) || !attentionNeeded(c.id)) { return; }
    var known = I.state.items[c.id] || {};
    var who = known.contact_name || known.contact_phone || I.t("inbox.citizen");
    I.beep();
    I.notify(I.t("inbox.notify.new_message", { name: who }), data.message.text.slice(0, 120), c.id);
  });
  // A conversation joined the queue.
  I.on("queued", function (c) {
    I.beep();
    var kinds = [I.label("channel", c.channel), c.industry_name].filter(Boolean).join(" · ");
    I.notify(I.t("inbox.notify.queued"), kinds + (c.last_text ? "：" + c.last_text : ""), c.id);
  });
})();
