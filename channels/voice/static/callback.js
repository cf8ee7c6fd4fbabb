// Call-back (回拨) buttons and voicemail actions, added to the inbox and to the work-order page by the voice channel
// (hub/web/extensions.py). User data is only ever set with textContent.
(function () {
  "use strict";
  var strings = null;
  var MOBILE_OR_LANDLINE = /(?:\+?86[- ]?)?(1[3-9]\d(?:[- ]?\d{4}){2}|0\d{2,3}-?\d{7,8})(?!\d)/g;

  function s(key, params) {
    var text = (strings && strings["voice.callback.ui." + key]) || key;
    Object.keys(params || {}).forEach(function (name) { text = text.split("{" + name + "}").join(params[name]); });
    return text;
  }

  function loadStrings() {
    if (strings) { return Promise.resolve(strings); }
    return fetch("/api/voice/strings", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (data) { strings = data; return data; });
  }

  function csrf() {
    if (window.RexianInbox && window.RexianInbox.csrf) { return window.RexianInbox.csrf; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function refresh() {
    if (window.RexianInbox && typeof window.RexianInbox.refresh === "function") { window.RexianInbox.refresh(); }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    });
  }

  function normalise(number) {
    var digits = String(number || "").replace(/[\s()\-]/g, "").replace(/^\+/, "");
    if (/^861[3-9]\d{9}$/.test(digits)) { digits = digits.slice(2); }
    return /^\d{3,20}$/.test(digits) ? digits : null;
  }

  // -- call-back -----------------------------------------------------------------------------------------------

  function callButton(container, number, payload) {
    var wrap = el("span", "voice-callback");
    var button = el("button", "voice-callback-button", s("call_number", { number: number }));
    button.type = "button";
    button.setAttribute("data-number", number);
    var status = el("span", "voice-callback-status");
    status.setAttribute("role", "status");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      var body = Object.assign({ number: number }, payload);
      send("POST", "/api/voice/callback", body).then(function (res) {
        if (!res.ok) {
          status.textContent = (res.data && res.data.message) || s("failed_request");
          button.disabled = false;
          return;
        }
        status.textContent = s(res.data.state);
        follow(res.data.callback_id, status, button);
      }).catch(function () { status.textContent = s("failed_request"); button.disabled = false; });
    });
    wrap.appendChild(button);
    wrap.appendChild(status);
    container.appendChild(wrap);
  }

  function follow(id, status, button) {
    var timer = setInterval(function () {
      fetch("/api/voice/callbacks/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (row) {
          if (!row) { return; }
          var text = s(row.state);
          if (row.state === "failed" || row.state === "ended") {
            clearInterval(timer);
            button.disabled = false;
            if (row.cause_text) { text += "（" + row.cause_text + "）"; }
            refresh();
          }
          status.textContent = text;
        });
    }, 1500);
  }

  function conversationNumbers(detail) {
    var seen = {};
    var out = [];
    function add(value) {
      var n = normalise(value);
      if (n && !seen[n]) { seen[n] = true; out.push(n); }
    }
    if (detail.contact) { add(detail.contact.phone); }
    (detail.calls || []).forEach(function (c) { add(c.direction === "outbound" ? c.called : c.caller); });
    (detail.messages || []).forEach(function (m) {
      if (m.sender_kind !== "citizen" || !m.text) { return; }
      var match;
      MOBILE_OR_LANDLINE.lastIndex = 0;
      while ((match = MOBILE_OR_LANDLINE.exec(m.text)) !== null) { add(match[1]); }
    });
    return out;
  }

  // -- voicemail -----------------------------------------------------------------------------------------------

  function voicemailIndex(message) {
    var found = -1;
    (message.attachments || []).forEach(function (a, i) {
      if (a && a.label === "voicemail" && (a.kind === "audio" || a.kind === "audio_deleted")) { found = i; }
    });
    return found;
  }

  function voicemailActions(message) {
    var item = document.querySelector('[data-message-id="' + String(Number(message.id)) + '"]');
    if (!item || item.querySelector(".voicemail-actions")) { return; }
    var attachment = message.attachments[voicemailIndex(message)];
    var box = el("div", "voicemail-actions");
    box.setAttribute("data-voicemail", String(message.id));
    var status = el("span", "voicemail-status");
    status.setAttribute("role", "status");
    if (attachment.kind === "audio_deleted") {
      box.appendChild(el("p", "voicemail-deleted", s("deleted")));
    }
    var smsButton = el("button", "voicemail-sms", s("sms"));
    smsButton.type = "button";
    var form = el("form", "voicemail-sms-form");
    form.hidden = true;
    var label = el("label", "", s("sms_label"));
    var text = el("textarea");
    text.name = "text";
    text.rows = 2;
    label.appendChild(text);
    var submit = el("button", "", s("sms_send"));
    submit.type = "submit";
    form.appendChild(label);
    form.appendChild(submit);
    smsButton.addEventListener("click", function () { form.hidden = !form.hidden; if (!form.hidden) { text.focus(); } });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit.disabled = true;
      send("POST", "/api/voice/voicemail/" + encodeURIComponent(message.id) + "/sms", { text: text.value })
        .then(function (res) {
          submit.disabled = false;
          status.textContent = res.ok ? s("sms_sent") : ((res.data && res.data.message) || s("failed_request"));
          if (res.ok) { text.value = ""; form.hidden = true; refresh(); }
        });
    });
    box.appendChild(smsButton);
    if (attachment.kind === "audio") {
      var del = el("button", "voicemail-delete", s("delete"));
      del.type = "button";
      del.addEventListener("click", function () {
        if (!window.confirm(s("delete_confirm"))) { return; }
        send("DELETE", "/api/voice/voicemail/" + encodeURIComponent(message.id)).then(function (res) {
          status.textContent = res.ok ? s("deleted") : ((res.data && res.data.message) || s("failed_request"));
          if (res.ok) { refresh(); }
        });
      });
      box.appendChild(del);
    }
    box.appendChild(status);
    box.appendChild(form);
    var history = el("ul", "voicemail-audit");
    history.setAttribute("aria-label", s("audit"));
    box.appendChild(history);
    item.appendChild(box);
    fetch("/api/voice/voicemail/" + encodeURIComponent(message.id), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (audit) {
        if (!audit) { return; }
        audit.actions.forEach(function (a) {
          history.appendChild(el("li", "", a.at_local + " " + a.user + " " + s("action." + a.action)));
        });
      });
  }

  // -- pages ---------------------------------------------------------------------------------------------------

  function onConversation(detail) {
    var container = document.getElementById("channel-actions");
    if (!container || !detail || !detail.conversation) { return; }
    loadStrings().then(function () {
      var old = container.querySelector(".voice-callbacks");
      if (old) { old.remove(); }
      var box = el("div", "voice-callbacks");
      box.setAttribute("aria-label", s("numbers"));
      conversationNumbers(detail).forEach(function (n) {
        callButton(box, n, { conversation_id: detail.conversation.id });
      });
      container.appendChild(box);
      (detail.messages || []).forEach(function (m) { if (voicemailIndex(m) >= 0) { voicemailActions(m); } });
    });
  }

  document.addEventListener("rexian:conversation", function (event) { onConversation(event.detail); });

  function orderPage() {
    var container = document.getElementById("order-channel-actions");
    if (!container) { return; }
    var phone = normalise(container.getAttribute("data-phone"));
    var order = container.getAttribute("data-number");
    if (!phone || !order) { return; }
    loadStrings().then(function () { callButton(container, phone, { order_number: order }); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", orderPage);
  } else {
    orderPage();
  }
})();
