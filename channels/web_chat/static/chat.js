// Citizen web chat: WebSocket with resume (last_id) and a persistent outbox so nothing typed is lost.
(function () {
  "use strict";
  var KEY = "rexian.chat.v1";
  var body = document.body;
  var transcript = document.getElementById("transcript");
  var input = document.getElementById("input");
  var statusEl = document.getElementById("conn-status");
  var state = load();
  var lastId = 0;  // per page: a fresh page loads the whole transcript, a reconnect only what it missed
  var ws = null;
  var retry = 0;
  var shown = {};

  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY) || "null");
      if (s && typeof s === "object") { s.outbox = s.outbox || []; delete s.last_id; return s; }
    } catch (e) { /* corrupt storage: start over */ }
    return { conversation_id: null, outbox: [] };
  }
  function save() { localStorage.setItem(KEY, JSON.stringify(state)); }
  function uid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function setStatus(key) { statusEl.textContent = body.getAttribute("data-i18n-" + key); statusEl.dataset.state = key; }

  function bubble(kind, text, id) {
    var li = document.createElement("li");
    li.className = kind;
    if (id) { li.dataset.id = id; }
    var div = document.createElement("div");
    div.className = "bubble";
    div.textContent = text;  // never innerHTML: citizen and agent text is untrusted
    li.appendChild(div);
    transcript.appendChild(li);
    transcript.scrollTop = transcript.scrollHeight;
    return li;
  }
  function showPending(item) {
    if (document.querySelector('li[data-client-id="' + CSS.escape(item.client_id) + '"]')) { return; }
    var li = bubble("citizen pending", item.text);
    li.dataset.clientId = item.client_id;
  }
  function showMessage(m) {
    if (shown[m.id]) { return; }
    shown[m.id] = true;
    if (m.client_id) {
      var pending = document.querySelector('li[data-client-id="' + CSS.escape(m.client_id) + '"]');
      if (pending) { pending.classList.remove("pending"); pending.dataset.id = m.id; return; }
    }
    var li = bubble(m.sender, m.text, m.id);
    (m.attachments || []).forEach(function (a, i) {  // a department's photos with a notice about the citizen's order
      if (a.kind !== "photo" || a.source !== "work_order" || !state.conversation_id) { return; }
      var link = document.createElement("a");
      link.className = "photo";
      link.href = "/chat/photos/" + encodeURIComponent(m.id) + "/" + i + "?c=" + encodeURIComponent(state.conversation_id);
      link.target = "_blank";
      link.rel = "noopener";
      var img = document.createElement("img");
      img.src = link.href;
      img.alt = a.name || "";
      link.appendChild(img);
      li.firstChild.appendChild(link);
    });
  }

  function send(obj) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); } }
  function flush() {
    state.outbox.forEach(function (item) { send({ type: "message", text: item.text, client_id: item.client_id }); });
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/chat/ws?lang=" + encodeURIComponent(body.dataset.locale || "zh-CN"));
    ws.onopen = function () {
      retry = 0;
      send({ type: "hello", conversation_id: state.conversation_id, last_id: lastId });
    };
    ws.onmessage = function (ev) {
      var data = JSON.parse(ev.data);
      if (data.type === "ready") {
        if (data.conversation_id !== state.conversation_id) { lastId = 0; }
        state.conversation_id = data.conversation_id;
        save();
        setStatus("online");
        body.dataset.conversationId = data.conversation_id;
        flush();
      } else if (data.type === "message") {
        showMessage(data.message);
        if (data.message.id > lastId) { lastId = data.message.id; }
      } else if (data.type === "ack") {
        state.outbox = state.outbox.filter(function (i) { return i.client_id !== data.client_id; });
        save();
      } else if (data.type === "error") {
        if (data.code === "unknown_conversation") {
          state.conversation_id = null; lastId = 0; save();
          send({ type: "hello", conversation_id: null, last_id: 0 });
        } else if (data.client_id) {
          state.outbox = state.outbox.filter(function (i) { return i.client_id !== data.client_id; });
          save();
          var li = document.querySelector('li[data-client-id="' + CSS.escape(data.client_id) + '"]');
          if (li) { li.classList.add("failed"); li.title = data.message; }
          bubble("system", data.message);
        }
      }
    };
    ws.onclose = function () {
      setStatus("offline");
      var delay = Math.min(10000, 500 * Math.pow(2, retry++));
      setTimeout(connect, delay);
    };
  }

  document.getElementById("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    var item = { client_id: uid(), text: text };
    state.outbox.push(item);
    save();
    showPending(item);
    input.value = "";
    send({ type: "message", text: item.text, client_id: item.client_id });
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      document.getElementById("composer").requestSubmit();
    }
  });
  document.getElementById("new-chat").addEventListener("click", function () {
    state = { conversation_id: null, outbox: [] };
    lastId = 0;
    save();
    transcript.textContent = "";
    shown = {};
    send({ type: "hello", conversation_id: null, last_id: 0 });
  });
  state.outbox.forEach(showPending);
  connect();
})();
