// Agent inbox, the open conversation: transcript with private notes inline, NLU, KB suggestions, label correction
// per message, contact, orders, history; the hook for channel extensions ("rexian:conversation").
(function () {
  "use strict";
  var I = window.InboxApp;
  var el = I.el;
  var shown = {};

  function fill(select, items, current) {
    select.textContent = "";
    items.forEach(function (it) {
      var o = el("option", "", it[1]);
      o.value = it[0];
      if (it[0] === current) { o.selected = true; }
      select.appendChild(o);
    });
  }
  function stamp(iso) {
    var s = el("time", "when", I.when(iso));
    s.setAttribute("datetime", iso || "");
    return s;
  }

  function renderMessage(m) {
    var li = el("li", m.sender);
    li.dataset.id = m.id;
    li.dataset.messageId = m.id;
    li.dataset.at = m.created_at || "";
    var bubble = el("div", "bubble", m.text);
    I.attachments(m, bubble);
    bubble.appendChild(stamp(m.created_at));
    li.appendChild(bubble);
    if (m.sender === "citizen") {
      var tools = el("div", "msg-tools");
      if (m.labels) { tools.appendChild(el("span", "msg-labels", m.labels)); }
      if (I.canAct(I.current())) {
        var fix = el("button", "correct-label small", I.t("inbox.correct_message"));
        fix.type = "button";
        fix.addEventListener("click", function () { chooseMessage(m); document.getElementById("label-type").focus(); });
        tools.appendChild(fix);
      }
      li.appendChild(tools);
    }
    return li;
  }
  function renderNote(n) {
    var li = el("li", "note");
    li.dataset.noteId = n.id;
    li.dataset.at = n.created_at || "";
    var bubble = el("div", "bubble");
    bubble.appendChild(el("div", "note-head", I.t("inbox.note_by", { name: n.author_name })));
    bubble.appendChild(el("div", "note-text", n.text));
    bubble.appendChild(stamp(n.created_at));
    li.appendChild(bubble);
    return li;
  }
  function place(li) {  // keep the transcript in time order (notes and messages interleave)
    var t = document.getElementById("agent-transcript");
    var at = I.instant(li.dataset.at);
    var after = null;
    for (var i = t.children.length - 1; i >= 0; i--) {
      if (I.instant(t.children[i].dataset.at) <= at) { after = t.children[i]; break; }
    }
    if (after) { t.insertBefore(li, after.nextSibling); } else { t.insertBefore(li, t.firstChild); }
    t.scrollTop = t.scrollHeight;
  }
  I.appendMessage = function (m) {
    if (shown["m" + m.id]) { return; }
    shown["m" + m.id] = true;
    if (I.state.detail) { I.state.detail.messages.push(m); }
    place(renderMessage(m));
  };
  I.appendNote = function (n) {
    if (shown["n" + n.id]) { return; }
    shown["n" + n.id] = true;
    place(renderNote(n));
  };
  I.noteAdded = function (n) {  // a note pushed live (WebSocket "note"): shown if its conversation is open
    if (n && n.conversation_id === I.state.selected) { I.appendNote(n); }
  };
  I.updateMessage = function (m) {  // a shown message changed (a photo finished downloading)
    var t = document.getElementById("agent-transcript");
    var old = t.querySelector('li[data-message-id="' + String(Number(m.id)) + '"]');
    if (old) { t.replaceChild(renderMessage(m), old); }
  };

  function chooseMessage(m) {
    I.state.labelMessageId = m ? m.id : null;
    var text = m ? m.text : "";
    document.getElementById("label-message").textContent =
      m ? I.t("inbox.correct_for", { text: text.length > 40 ? text.slice(0, 40) + "…" : text }) : "";
    Array.prototype.forEach.call(document.querySelectorAll("#agent-transcript li.citizen"), function (li) {
      li.classList.toggle("chosen", !!m && li.dataset.messageId === String(m.id));
    });
  }
  I.chosenMessageId = function () {
    var d = I.state.detail;
    return I.state.labelMessageId || (d ? d.last_citizen_message_id : null);
  };

  function renderSuggestions(d, canReply) {
    var kb = document.getElementById("kb-suggestions"); kb.textContent = "";
    if (!(d.kb_suggestions || []).length) { kb.appendChild(el("li", "empty", I.t("inbox.kb.none"))); }
    (d.kb_suggestions || []).forEach(function (sug) {
      var li = el("li", "suggestion");
      var box = el("details");
      var sum = el("summary", "q", sug.question);
      sum.appendChild(el("span", "confidence", " " + I.t("inbox.kb.confidence", { percent: Math.round(Number(sug.confidence) * 100) })));
      box.appendChild(sum);
      box.appendChild(el("p", "answer", sug.answer));
      li.appendChild(box);
      if (canReply) {
        var btn = el("button", "insert-answer small", I.t("inbox.kb.insert"));
        btn.type = "button";
        btn.addEventListener("click", function () { I.setMode("reply"); I.insertText(sug.answer); });
        li.appendChild(btn);
      }
      kb.appendChild(li);
    });
  }

  function renderContext(d) {
    var nlu = document.getElementById("nlu"); nlu.textContent = "";
    (d.nlu_display || []).forEach(function (row) {
      nlu.appendChild(el("dt", "", row.field));
      var conf = row.confidence === null || row.confidence === undefined ? "" : " (" + Number(row.confidence).toFixed(2) + ")";
      nlu.appendChild(el("dd", "", row.value + conf));
    });
    var contact = document.getElementById("contact"); contact.textContent = "";
    if (d.contact) {
      contact.appendChild(el("div", "", [d.contact.name, d.contact.phone, d.contact.email].filter(Boolean).join(" ")));
      if (d.notice_channels.length) { contact.appendChild(noticeSelector(d.contact, d.notice_channels)); }
    }
    var orders = document.getElementById("orders"); orders.textContent = "";
    d.work_orders.forEach(function (o) {
      var li = el("li", "order");
      var link = el("a", "", o.number);
      link.href = "/orders/" + encodeURIComponent(o.number);
      link.target = "_blank"; link.rel = "noopener";
      li.appendChild(link);
      li.appendChild(document.createTextNode(" · " + [I.label("state", o.state), o.unit_name, o.address].filter(Boolean).join(" · ")));
      orders.appendChild(li);
    });
    var history = document.getElementById("history"); history.textContent = "";
    d.history.forEach(function (h) {
      history.appendChild(el("li", "", I.when(h.updated_at) + " " + I.label("channel", h.channel) + " " + (h.subject || h.last_text)));
    });
    I.renderCalls(d.calls || []);
  }
  function noticeSelector(c, channels) {
    var wrap = el("label", "notify-via", I.t("inbox.notify_via") + " ");
    var sel = el("select"); sel.id = "notify-via";
    var auto = el("option", "", I.t("inbox.notify_auto")); auto.value = ""; sel.appendChild(auto);
    channels.forEach(function (ch) { var o = el("option", "", I.label("channel", ch)); o.value = ch; sel.appendChild(o); });
    sel.value = c.preferred_channel || "";
    sel.addEventListener("change", function () {
      I.api("POST", "/api/contacts/" + c.id + "/preferred-channel", { channel: sel.value || null })
        .then(function (r) { c.preferred_channel = r.preferred_channel; })
        .catch(function () { sel.value = c.preferred_channel || ""; });
    });
    wrap.appendChild(sel);
    return wrap;
  }

  I.renderDetail = function (d) {
    var c = d.conversation;
    var sameConversation = I.state.detail && I.state.detail.conversation.id === c.id;
    I.state.detail = d;
    if (!sameConversation) { I.state.labelMessageId = null; }
    document.getElementById("detail").hidden = false;
    document.getElementById("no-selection").hidden = true;
    document.getElementById("detail-title").textContent =
      [c.industry_name, I.label("channel", c.channel), I.label("status", c.status)].filter(Boolean).join(" · ");
    var meta = [];
    if (c.request_type_name) { meta.push(c.request_type_name); }
    if (c.status === "closed" && c.outcome) { meta.push(I.t("inbox.outcome_label", { outcome: I.label("outcome", c.outcome) })); }
    document.getElementById("detail-meta").textContent = meta.join(" · ");
    var subject = document.getElementById("detail-subject");
    subject.textContent = c.subject ? I.t("inbox.subject") + c.subject : "";
    subject.hidden = !c.subject;
    var act = I.canAct(c);
    document.getElementById("claim").hidden = c.status !== "queued";
    document.getElementById("close").hidden = !act;
    document.getElementById("new-order").hidden = false;
    I.composerFor(c);
    var t = document.getElementById("agent-transcript");
    t.textContent = ""; shown = {};
    var messages = d.messages; d.messages = [];
    messages.forEach(I.appendMessage);
    (d.notes || []).forEach(I.appendNote);
    renderSuggestions(d, act);
    var form = document.getElementById("labels-form");
    form.hidden = !act;
    var labelKey = [c.id, c.request_type, c.industry].join("|");
    if (form.dataset.key !== labelKey) {  // re-renders of the same state keep what the agent is choosing
      form.dataset.key = labelKey;
      fill(document.getElementById("label-type"), I.choices.types, c.request_type);
      fill(document.getElementById("label-industry"), I.choices.industries, c.industry);
    }
    var chosen = I.chosenMessageId();
    chooseMessage(d.messages.filter(function (m) { return m.id === chosen; })[0] || null);
    renderContext(d);
    I.loadCanned(c.id);
    document.dispatchEvent(new CustomEvent("rexian:conversation", { detail: d }));
  };

  I.select = function (id) {
    I.state.selected = id;
    I.markSelected();
    return I.api("GET", "/api/conversations/" + encodeURIComponent(id)).then(function (d) {
      if (I.state.selected !== id) { return; }
      I.renderDetail(d);
      I.scheduleRefresh();  // viewing marked it read
    });
  };
  I.reloadDetail = function () { return I.state.selected ? I.select(I.state.selected) : Promise.resolve(); };

  document.getElementById("labels-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var status = document.getElementById("label-status");
    I.api("POST", "/api/conversations/" + I.state.selected + "/labels", {
      request_type: document.getElementById("label-type").value,
      industry: document.getElementById("label-industry").value,
      message_id: I.chosenMessageId()
    }).then(function () { status.textContent = I.t("inbox.correct_saved"); I.reloadDetail(); }).catch(I.fail);
  });
})();
