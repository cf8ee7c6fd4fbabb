// Agent inbox: the queue and own conversations live over a WebSocket; actions via the JSON API.
(function () {
  "use strict";
  var body = document.body;
  var me = Number(body.dataset.userId);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var convs = {};      // id -> summary
  var selected = null; // id
  var shownIds = {};
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var choices = JSON.parse(document.getElementById("choices").textContent);
  function fill(select, items, current) {
    select.textContent = "";
    items.forEach(function (it) {
      var o = el("option", "", it[1]);
      o.value = it[0];
      if (it[0] === current) { o.selected = true; }
      select.appendChild(o);
    });
  }
  function label(kind, code) { return labels[kind + "." + code] || code || ""; }
  // Times are shown in the city's zone (the server's --timezone), whatever the browser's own zone is.
  var cityTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: body.dataset.timezone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  function when(iso) {  // an API time (ISO 8601 with an offset) as "2026-12-08 07:30" in the city's zone
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) { return ""; }
    var p = {};
    cityTime.formatToParts(d).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function instant(iso) { return iso ? Date.parse(iso) : 0; }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function api(method, path, payload) {
    var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) { if (!r.ok) { throw data; } return data; });
    });
  }

  function renderLists() {
    var queue = document.getElementById("queue"), mine = document.getElementById("mine");
    queue.textContent = ""; mine.textContent = "";
    var q = 0;
    Object.keys(convs).map(function (k) { return convs[k]; })
      .sort(function (a, b) { return instant(a.queued_at || a.updated_at) - instant(b.queued_at || b.updated_at); })
      .forEach(function (c) {
        var target = null;
        if (c.status === "queued") { target = queue; q++; }
        else if (c.status === "assigned" && c.assignee_id === me) { target = mine; }
        if (!target) { return; }
        var li = el("li", c.id === selected ? "selected" : "");
        li.dataset.id = c.id;
        li.appendChild(el("div", "title", (c.industry_name ? c.industry_name + " · " : "") + label("channel", c.channel)));
        if (c.subject) { li.appendChild(el("div", "meta subject", c.subject)); }
        if (c.status === "queued" && c.handoff_reason) { li.appendChild(el("div", "meta reason", label("handoff", c.handoff_reason))); }
        li.appendChild(el("div", "meta", c.last_text));
        li.addEventListener("click", function () { select(c.id); });
        target.appendChild(li);
      });
    document.getElementById("queue-count").textContent = q;
    [queue, mine].forEach(function (list) {
      if (!list.children.length) { list.appendChild(el("li", "empty", body.dataset.i18nEmpty)); }
    });
  }

  function photoView(m, a, i) {  // a citizen's Telegram photo: the picture once downloaded, else its state
    if (a.download === "ready") {
      var url = "/api/telegram/photos/" + encodeURIComponent(m.id) + "/" + i;
      var link = el("a", "photo"); link.href = url; link.target = "_blank"; link.rel = "noopener";
      var img = el("img"); img.src = url; img.alt = labels["telegram.photo"] || "photo"; img.loading = "lazy";
      link.appendChild(img);
      return link;
    }
    return el("span", "photo-state", labels["telegram.photo." + (a.download === "failed" ? "failed" : "pending")] || "");
  }
  function renderMessage(m) {
    var li = el("li", m.sender);
    li.dataset.id = m.id;
    var bubble = el("div", "bubble", m.text);
    (m.attachments || []).forEach(function (a, i) {
      if (a.source !== "email" || !a.sha256) { return; }  // stored email attachments: a download link each
      var link = el("a", "attachment", (a.name || "attachment") + " (" + Math.ceil((a.size || 0) / 1024) + " KB)");
      link.href = "/api/email/attachments/" + encodeURIComponent(m.id) + "/" + i;
      link.setAttribute("download", a.name || "");
      bubble.appendChild(document.createElement("br"));
      bubble.appendChild(link);
    });
    (m.attachments || []).forEach(function (a, i) {
      if (a.kind === "audio") { bubble.appendChild(audioPlayer(a.label, a.duration_s, "/voice/audio/" + encodeURIComponent(m.id) + "/" + i)); }
      if (a.kind === "photo" && a.source === "telegram") { bubble.appendChild(photoView(m, a, i)); }
    });
    var stamp = el("time", "when", when(m.created_at));
    stamp.setAttribute("datetime", m.created_at || "");
    bubble.appendChild(stamp);
    li.appendChild(bubble);
    return li;
  }
  function appendMessage(m) {
    if (shownIds[m.id]) { return; }
    shownIds[m.id] = true;
    var t = document.getElementById("agent-transcript");
    t.appendChild(renderMessage(m));
    t.scrollTop = t.scrollHeight;
  }
  function updateMessage(m) {  // a shown message changed (a photo finished downloading)
    var t = document.getElementById("agent-transcript");
    var old = Array.prototype.find.call(t.children, function (li) { return li.dataset.id === String(m.id); });
    if (old) { t.replaceChild(renderMessage(m), old); }
  }

  // -- voice: audio players, call records, the ringing banner --
  function duration(s) {
    if (s === null || s === undefined) { return "-"; }
    var n = Math.round(Number(s));
    return Math.floor(n / 60) + ":" + ("0" + (n % 60)).slice(-2);
  }
  function audioPlayer(kind, seconds, url) {
    var fig = el("figure", "audio");
    fig.appendChild(el("figcaption", "", (labels["voice.audio." + kind] || kind || "") + (seconds ? " " + duration(seconds) : "")));
    var audio = el("audio"); audio.controls = true; audio.preload = "none"; audio.src = url;
    fig.appendChild(audio);
    return fig;
  }
  function renderCalls(calls) {
    var list = document.getElementById("calls"); list.textContent = "";
    if (!calls.length) { list.appendChild(el("li", "empty", labels["voice.no_calls"])); }
    calls.forEach(function (c) {
      var li = el("li", "call");
      li.dataset.callId = c.id;
      li.appendChild(el("div", "", when(c.arrived_at) + " " + (c.caller || "") + " · " +
        (labels["voice.outcome." + c.outcome] || c.outcome)));
      li.appendChild(el("div", "meta", c.ivr_path.map(function (p) { return p.node; }).join(" → ")));
      li.appendChild(el("div", "meta", labels["voice.wait"] + " " + duration(c.wait_s) + " · " + labels["voice.talk"] + " " +
        duration(c.talk_s) + (c.agent_name ? " · " + labels["voice.agent"] + " " + c.agent_name : "")));
      c.recordings.forEach(function (r) { li.appendChild(audioPlayer(r.label, null, r.url)); });
      list.appendChild(li);
    });
  }
  var ringingConv = null;
  function ring(data) {
    var c = data.conversation;
    convs[c.id] = c;
    ringingConv = c.id;
    var banner = document.getElementById("ringing");
    banner.textContent = (labels["voice.ringing"] || "{caller}").replace("{caller}", data.caller || labels["voice.unknown_caller"]);
    banner.dataset.conversation = c.id;
    banner.hidden = false;
    select(c.id);
  }
  function callFinished(data) {
    if (ringingConv === data.conversation_id) {
      ringingConv = null;
      document.getElementById("ringing").hidden = true;
    }
    if (selected === data.conversation_id) { select(selected); }
  }

  function renderDetail(d) {
    var c = d.conversation;
    convs[c.id] = c;
    document.getElementById("detail").hidden = false;
    document.getElementById("no-selection").hidden = true;
    document.getElementById("detail-title").textContent =
      (c.industry_name ? c.industry_name + " · " : "") + label("channel", c.channel) + " · " + label("status", c.status);
    var subject = document.getElementById("detail-subject");
    subject.textContent = c.subject ? (labels["inbox.subject"] || "") + c.subject : "";
    subject.hidden = !c.subject;
    document.getElementById("claim").hidden = c.status !== "queued";
    document.getElementById("close").hidden = !(c.status === "assigned" && c.assignee_id === me);
    document.getElementById("reply-form").hidden = !(c.status === "assigned" && c.assignee_id === me);
    var t = document.getElementById("agent-transcript");
    t.textContent = ""; shownIds = {};
    d.messages.forEach(appendMessage);
    var kb = document.getElementById("kb-suggestions"); kb.textContent = "";
    var mine = c.status === "assigned" && c.assignee_id === me;
    (d.kb_suggestions || []).forEach(function (sug) {
      var li = el("li", "suggestion");
      li.appendChild(el("div", "q", sug.question + " (" + Number(sug.confidence).toFixed(2) + ")"));
      li.title = sug.answer;
      if (mine) {
        var btn = el("button", "send-answer", body.dataset.i18nSend);
        btn.type = "button";
        btn.addEventListener("click", function () {
          api("POST", "/api/conversations/" + c.id + "/reply", { text: sug.answer })
            .then(appendMessage).catch(function (e) { alert(e.message || e.error); });
        });
        li.appendChild(btn);
      }
      kb.appendChild(li);
    });
    var form = document.getElementById("labels-form");
    form.hidden = !mine;
    var labelKey = [c.id, c.request_type, c.industry].join("|");
    if (form.dataset.key !== labelKey) {  // re-renders of the same state keep what the agent is choosing
      form.dataset.key = labelKey;
      fill(document.getElementById("label-type"), choices.types, c.request_type);
      fill(document.getElementById("label-industry"), choices.industries, c.industry);
    }
    var nlu = document.getElementById("nlu"); nlu.textContent = "";
    if (d.nlu) {
      [["intent", d.nlu.intent], ["type", d.nlu.type], ["industry", d.nlu.industry]].forEach(function (p) {
        if (!p[1]) { return; }
        nlu.appendChild(el("dt", "", p[0]));
        nlu.appendChild(el("dd", "nlu-" + p[0], p[1].name + " (" + Number(p[1].confidence).toFixed(2) + ")"));
      });
      (d.nlu.entities || []).forEach(function (e) { nlu.appendChild(el("dt", "", e.entity)); nlu.appendChild(el("dd", "", e.value)); });
    }
    var contact = document.getElementById("contact"); contact.textContent = "";
    if (d.contact) {
      contact.appendChild(el("div", "", (d.contact.name || "") + " " + (d.contact.phone || "") + " " + (d.contact.email || "")));
      if (d.notice_channels.length) { contact.appendChild(noticeSelector(d.contact, d.notice_channels)); }
    }
    var orders = document.getElementById("orders"); orders.textContent = "";
    d.work_orders.forEach(function (o) {
      orders.appendChild(el("li", "order", o.number + " · " + label("state", o.state) + " · " + (o.unit_name || "") + " · " + (o.address || "")));
    });
    var history = document.getElementById("history"); history.textContent = "";
    d.history.forEach(function (h) {
      history.appendChild(el("li", "", when(h.updated_at) + " " + label("channel", h.channel) + " " + (h.subject || h.last_text)));
    });
    renderCalls(d.calls || []);
  }

  function noticeSelector(c, channels) {
    var wrap = el("label", "notify-via", body.dataset.i18nNotifyVia + " ");
    var sel = el("select"); sel.id = "notify-via";
    var auto = el("option", "", body.dataset.i18nNotifyAuto); auto.value = ""; sel.appendChild(auto);
    channels.forEach(function (ch) { var o = el("option", "", label("channel", ch)); o.value = ch; sel.appendChild(o); });
    sel.value = c.preferred_channel || "";
    sel.addEventListener("change", function () {
      api("POST", "/api/contacts/" + c.id + "/preferred-channel", { channel: sel.value || null })
        .then(function (r) { c.preferred_channel = r.preferred_channel; })
        .catch(function () { sel.value = c.preferred_channel || ""; });
    });
    wrap.appendChild(sel);
    return wrap;
  }

  function select(id) {
    selected = id;
    renderLists();
    api("GET", "/api/conversations/" + encodeURIComponent(id)).then(renderDetail);
  }
  function refresh() {
    return api("GET", "/api/inbox").then(function (d) {
      convs = {};
      d.queue.concat(d.mine).forEach(function (c) { convs[c.id] = c; });
      renderLists();
    });
  }

  document.getElementById("claim").addEventListener("click", function () {
    api("POST", "/api/conversations/" + selected + "/claim").then(function () { select(selected); })
      .catch(function (e) { alert(e.message || e.error); refresh(); });
  });
  document.getElementById("close").addEventListener("click", function () {
    api("POST", "/api/conversations/" + selected + "/close").then(function () { select(selected); });
  });
  document.getElementById("reply-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("reply-input");
    var text = input.value.trim();
    if (!text) { return; }
    api("POST", "/api/conversations/" + selected + "/reply", { text: text }).then(function (m) {
      input.value = ""; appendMessage(m);
    }).catch(function (e) { alert(e.message || e.error); });
  });
  document.getElementById("labels-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    api("POST", "/api/conversations/" + selected + "/labels", {
      request_type: document.getElementById("label-type").value,
      industry: document.getElementById("label-industry").value
    }).then(function () { select(selected); }).catch(function (e) { alert(e.message || e.error); });
  });
  document.getElementById("reply-input").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.ctrlKey) { ev.preventDefault(); document.getElementById("reply-form").requestSubmit(); }
  });

  var retry = 0;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/agent/ws");
    var live = document.getElementById("live");
    ws.onopen = function () { retry = 0; live.classList.add("on"); refresh(); };
    ws.onmessage = function (ev) {
      var data = JSON.parse(ev.data);
      if (data.type === "call_offered") { ring(data); return; }
      if (data.type === "call_finished") { callFinished(data); return; }
      if (data.conversation) {
        convs[data.conversation.id] = data.conversation;
        renderLists();
        if (data.conversation.id === selected) { select(selected); }
      } else if (data.type === "message") {
        var m = data.message;
        if (convs[m.conversation_id]) { convs[m.conversation_id].last_text = m.text.slice(0, 80); renderLists(); }
        if (m.conversation_id === selected) { appendMessage(m); }
      } else if (data.type === "message_updated") {
        if (data.message.conversation_id === selected) { updateMessage(data.message); }
      }
    };
    ws.onclose = function () {
      live.classList.remove("on");
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retry++)));
    };
  }
  var linked = /^#c=([0-9a-f-]{36})$/.exec(location.hash);  // /agent#c=<id>: links from the call records
  if (linked) { select(linked[1]); }
  refresh();
  connect();
})();
