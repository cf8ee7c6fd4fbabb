// Citizen web chat: WebSocket with resume (last_id) and a persistent outbox so nothing typed is lost; quick-reply
// buttons, photos (HTTP upload), location (Geolocation API), message times in the city's zone, a character
// counter, the privacy notice and the page's language switch. Every text from the hub goes in with textContent.
(function () {
  "use strict";
  var KEY = "rexian.chat.v1";
  var LANG_KEY = "rexian.chat.lang";
  var body = document.body;
  var locale = body.dataset.locale || "zh-CN";

  // The language is the page's choice: ?lang= (or the switch) is remembered; a later visit without ?lang uses it.
  var params = new URLSearchParams(location.search);
  try {
    if (params.has("lang")) {
      localStorage.setItem(LANG_KEY, locale);
    } else {
      var remembered = localStorage.getItem(LANG_KEY);
      if ((remembered === "en" || remembered === "zh-CN") && remembered !== locale) {
        params.set("lang", remembered);
        location.replace(location.pathname + "?" + params.toString());
        return;
      }
    }
  } catch (e) { /* storage unavailable: the cookie still remembers ?lang= */ }

  var S = JSON.parse(document.getElementById("chat-strings").textContent || "{}");
  var MAX_CHARS = parseInt(body.dataset.maxChars, 10) || 2000;
  var MAX_UPLOAD = parseInt(body.dataset.maxUpload, 10) || 10 * 1024 * 1024;
  var transcript = document.getElementById("transcript");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var counter = document.getElementById("counter");
  var tooLong = document.getElementById("too-long");
  var statusEl = document.getElementById("conn-status");
  var notice = document.getElementById("privacy-notice");
  var fileInput = document.getElementById("file");
  var photoPanel = document.getElementById("photo-panel");
  var caption = document.getElementById("caption");
  var state = load();
  var lastId = 0;  // per page: a fresh page loads the whole transcript, a reconnect only what it missed
  var ws = null;
  var retry = 0;
  var shown = {};
  var chosenFile = null;

  function str(key, params) {
    var text = S[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }
  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY) || "null");
      if (s && typeof s === "object") {
        s.outbox = s.outbox || []; s.labels = s.labels || {}; delete s.last_id; return s;
      }
    } catch (e) { /* corrupt storage: start over */ }
    return { conversation_id: null, outbox: [], labels: {} };
  }
  function save() {
    var ids = Object.keys(state.labels);
    if (ids.length > 100) { ids.slice(0, ids.length - 100).forEach(function (k) { delete state.labels[k]; }); }
    localStorage.setItem(KEY, JSON.stringify(state));
  }
  function uid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function setStatus(key) { statusEl.textContent = body.getAttribute("data-i18n-" + key); statusEl.dataset.state = key; }

  // -- times: HH:MM in the city's zone, with the date when it is not today there ---------------------------------
  var zone = body.dataset.timezone || undefined;
  var dayFormat, timeFormat;
  try {
    dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
    timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  } catch (e) {  // an unknown zone: the browser's own
    dayFormat = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });
    timeFormat = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
  function when(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) { return ""; }
    var day = dayFormat.format(d);
    return day === dayFormat.format(new Date()) ? timeFormat.format(d) : day + " " + timeFormat.format(d);
  }
  function setTime(li, iso) {
    var t = li.querySelector("time.when");
    if (!t) { t = document.createElement("time"); t.className = "when"; li.appendChild(t); }
    t.dateTime = iso;
    t.textContent = when(iso);
  }

  // -- rendering -------------------------------------------------------------------------------------------------
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
    if (kind.split(" ")[0] === "citizen") { settleChoices(); }
    return li;
  }
  function photoUrl(m, i) {
    return "/chat/photos/" + encodeURIComponent(m.id) + "/" + i + "?c=" + encodeURIComponent(state.conversation_id);
  }
  function fixed(n) { return Number(n).toFixed(5); }
  // The citizen's photo or location (rebuilt from the attachment, in the page's language) and a department's photos.
  function renderBody(li, m) {
    var div = li.querySelector(".bubble");
    var atts = m.attachments || [];
    var own = atts.filter(function (a) { return a.source === "web_chat" && a.kind === "photo"; });
    var place = atts.filter(function (a) { return a.kind === "location"; })[0];
    if (own.length || place) { div.textContent = ""; }
    if (place) {
      var label = str("chat.location.label", { lat: fixed(place.lat), lon: fixed(place.lon) });
      if (place.accuracy) { label += str("chat.location.accuracy", { meters: Math.round(place.accuracy) }); }
      div.textContent = label;
      li.classList.add("location");
    }
    atts.forEach(function (a, i) {
      if (a.kind !== "photo" || !state.conversation_id) { return; }
      if (a.source !== "web_chat" && a.source !== "work_order") { return; }
      var link = document.createElement("a");
      link.href = photoUrl(m, i);
      link.target = "_blank";
      link.rel = "noopener";
      if (/^image\/(jpeg|png|webp)$/.test(a.content_type || "") || a.source === "work_order") {
        link.className = "photo";
        var img = document.createElement("img");
        img.src = link.href;
        img.alt = a.name || str("chat.photo");
        link.appendChild(img);
      } else {  // HEIC: browsers do not show it; a link to the file
        link.className = "file";
        link.textContent = str("chat.photo") + " " + (a.name || "");
      }
      div.appendChild(link);
    });
    if (own.length && m.text && m.text !== "[图片]") {
      var cap = document.createElement("span");
      cap.className = "caption";
      cap.textContent = m.text;
      div.appendChild(cap);
    }
  }
  function showChoices(li, m) {
    if (!m.choices || !m.choices.length) { return; }
    var box = document.createElement("div");
    box.className = "choices";
    box.setAttribute("role", "group");
    m.choices.forEach(function (c) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = c.label;  // labels are text, never markup
      b.dataset.value = c.value;
      b.addEventListener("click", function () {
        if (b.disabled) { return; }
        b.classList.add("chosen");
        sendText(c.value, c.label);
      });
      box.appendChild(b);
    });
    li.appendChild(box);
  }
  // Once the citizen answers, the quick replies offered before are spent.
  function settleChoices() {
    transcript.querySelectorAll(".choices button").forEach(function (b) { b.disabled = true; });
  }
  function showNotice(attention) {
    notice.hidden = false;
    notice.classList.toggle("attention", !!attention);
  }
  function showPending(item) {
    if (document.querySelector('li[data-client-id="' + CSS.escape(item.client_id) + '"]')) { return; }
    var li = bubble("citizen pending", item.label || item.text);
    li.dataset.clientId = item.client_id;
  }
  function showMessage(m) {
    if (shown[m.id]) { return; }
    shown[m.id] = true;
    if (m.client_id) {
      var pending = document.querySelector('li[data-client-id="' + CSS.escape(m.client_id) + '"]');
      if (pending) {
        pending.classList.remove("pending", "uploading");
        pending.dataset.id = m.id;
        renderBody(pending, m);
        setTime(pending, m.created_at);
        return;
      }
    }
    var text = m.sender === "citizen" && m.client_id && state.labels[m.client_id] ? state.labels[m.client_id] : m.text;
    var li = bubble(m.sender, text, m.id);
    if (m.client_id) { li.dataset.clientId = m.client_id; }
    renderBody(li, m);
    setTime(li, m.created_at);
    if (m.sender === "bot") { showChoices(li, m); }
    if (m.asks_phone) { showNotice(true); }
  }
  function systemNote(text) { return bubble("system", text); }

  // -- sending ---------------------------------------------------------------------------------------------------
  function send(obj) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); } }
  function flush() {
    state.outbox.forEach(function (item) {
      if (item.kind === "location") {
        send({ type: "location", lat: item.lat, lon: item.lon, accuracy: item.accuracy, client_id: item.client_id });
      } else {
        send({ type: "message", text: item.text, client_id: item.client_id });
      }
    });
  }
  function sendText(text, label) {
    var item = { client_id: uid(), text: text };
    if (label && label !== text) { item.label = label; state.labels[item.client_id] = label; }
    state.outbox.push(item);
    save();
    showPending(item);
    send({ type: "message", text: item.text, client_id: item.client_id });
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/chat/ws?lang=" + encodeURIComponent(locale));
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
          systemNote(data.message);
        }
      }
    };
    ws.onclose = function () {
      setStatus("offline");
      var delay = Math.min(10000, 500 * Math.pow(2, retry++));
      setTimeout(connect, delay);
    };
  }

  // -- the counter: the length limit is shown, never silently enforced -------------------------------------------
  function updateCounter() {
    var n = input.value.trim().length;
    counter.textContent = n + "/" + MAX_CHARS;
    counter.classList.toggle("near", n >= MAX_CHARS * 0.9 && n <= MAX_CHARS);
    counter.classList.toggle("over", n > MAX_CHARS);
    var over = n > MAX_CHARS;
    sendButton.disabled = over;
    tooLong.hidden = !over;
    tooLong.textContent = over ? str("chat.too_long", { max: MAX_CHARS }) : "";
  }
  input.addEventListener("input", updateCounter);

  document.getElementById("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || text.length > MAX_CHARS) { updateCounter(); return; }
    input.value = "";
    updateCounter();
    sendText(text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      document.getElementById("composer").requestSubmit();
    }
  });

  // -- photos ----------------------------------------------------------------------------------------------------
  function closePhotoPanel() {
    chosenFile = null;
    fileInput.value = "";
    caption.value = "";
    photoPanel.hidden = true;
  }
  document.getElementById("attach").addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { return; }
    if (file.size > MAX_UPLOAD) {  // the hub checks again; this spares the citizen a long upload
      closePhotoPanel();
      systemNote(str("chat.upload.too_large", { max_mib: +(MAX_UPLOAD / 1048576).toFixed(2) })).classList.add("upload-error");
      return;
    }
    chosenFile = file;
    document.getElementById("photo-name").textContent = file.name;
    photoPanel.hidden = false;
    caption.focus();
  });
  document.getElementById("photo-cancel").addEventListener("click", closePhotoPanel);
  caption.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.isComposing) { ev.preventDefault(); document.getElementById("photo-send").click(); }
  });
  document.getElementById("photo-send").addEventListener("click", function () {
    if (!chosenFile || !state.conversation_id) { return; }
    var text = caption.value.trim();
    if (text.length > MAX_CHARS) { systemNote(str("chat.too_long", { max: MAX_CHARS })); return; }
    var clientId = uid();
    var form = new FormData();
    form.append("conversation_id", state.conversation_id);
    form.append("client_id", clientId);
    form.append("caption", text);
    form.append("file", chosenFile, chosenFile.name);
    var li = bubble("citizen pending uploading", str("chat.uploading") + " " + chosenFile.name);
    li.dataset.clientId = clientId;
    closePhotoPanel();
    fetch("/chat/upload?lang=" + encodeURIComponent(locale), { method: "POST", body: form, credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) {
            li.classList.remove("uploading");
            li.classList.add("failed");
            systemNote(data.message || str("chat.upload.failed")).classList.add("upload-error");
          }
        });
      })
      .catch(function () {
        li.classList.remove("uploading");
        li.classList.add("failed");
        systemNote(str("chat.upload.failed")).classList.add("upload-error");
      });
  });

  // -- location --------------------------------------------------------------------------------------------------
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { systemNote(str("chat.location.unavailable")); return; }
    var button = this;
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      button.disabled = false;
      var c = pos.coords;
      var item = { kind: "location", client_id: uid(), lat: c.latitude, lon: c.longitude, accuracy: c.accuracy || null };
      item.label = str("chat.location.label", { lat: fixed(c.latitude), lon: fixed(c.longitude) });
      state.outbox.push(item);
      save();
      showPending(item);
      send({ type: "location", lat: item.lat, lon: item.lon, accuracy: item.accuracy, client_id: item.client_id });
    }, function (err) {
      button.disabled = false;
      systemNote(str(err && err.code === 1 ? "chat.location.denied" : "chat.location.unavailable"));
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // -- privacy notice, language switch, new conversation ---------------------------------------------------------
  document.getElementById("privacy-dismiss").addEventListener("click", function () { notice.hidden = true; });
  document.querySelectorAll("#lang-switch a[data-lang]").forEach(function (a) {
    a.addEventListener("click", function () {
      try { localStorage.setItem(LANG_KEY, a.dataset.lang); } catch (e) { /* the ?lang= link still works */ }
    });
  });
  document.getElementById("new-chat").addEventListener("click", function () {
    state = { conversation_id: null, outbox: [], labels: {} };
    lastId = 0;
    save();
    transcript.textContent = "";
    shown = {};
    showNotice(false);
    send({ type: "hello", conversation_id: null, last_id: 0 });
  });
  state.outbox.forEach(showPending);
  updateCounter();
  connect();
})();
