// The supervisor's floor (班长监控台): renders the snapshots of /supervisor/floor/ws (waiting, agents, today's figures)
// and runs the supervisors' actions (status, reassign, watch and whisper to a chat, take over, monitor a call).
// Every text from the server goes in with textContent.
(function () {
  "use strict";
  var body = document.body;
  var mayAct = body.dataset.mayAct === "true";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var choices = JSON.parse(document.getElementById("choices").textContent);
  var snap = JSON.parse(document.getElementById("initial").textContent);
  var watching = null;  // {conversation_id, item_id, seen: {}} while the watch panel is open
  var socket = null, retry = 1000, lastFigures = "";

  function t(key, params) {
    var text = labels[key] || "";
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function button(text, cls, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function duration(seconds) {  // 65 -> "1:05", 3725 -> "1:02:05"
    if (seconds === null || seconds === undefined) { return "—"; }
    var n = Math.max(0, Math.floor(Number(seconds) || 0));
    var h = Math.floor(n / 3600), m = Math.floor((n % 3600) / 60), s = ("0" + (n % 60)).slice(-2);
    return h ? h + ":" + ("0" + m).slice(-2) + ":" + s : m + ":" + s;
  }
  function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function channelName(code) { return labels["channel." + code] || code; }
  function statusName(code) { return t("floor.status." + code) || code; }
  function reasonName(code) { return (choices.break_labels || {})[code] || t("floor.reason." + code) || code; }
  var clock = new Intl.DateTimeFormat("en-GB", {
    timeZone: body.dataset.timezone || undefined, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  function timeOf(iso) { var d = iso ? new Date(iso) : null; return d && !isNaN(d.getTime()) ? clock.format(d) : ""; }
  function agentName(id) {
    var found = (snap.agents || []).filter(function (a) { return a.id === id; })[0];
    return found ? found.name : String(id);
  }

  // -- messages to the supervisor -------------------------------------------------------------------------------
  var errorBox = document.getElementById("floor-error"), noticeBox = document.getElementById("floor-notice");
  function show(box, text) { box.textContent = text; box.hidden = !text; }
  function notice(text) { show(errorBox, ""); show(noticeBox, text); }
  function fail(e) { show(noticeBox, ""); show(errorBox, (e && (e.message || e.error)) || t("floor.error.network")); }

  function api(method, path, payload) {
    var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { if (!r.ok) { throw data; } return data; });
    });
  }

  // -- keyed rows: rows keep their buttons between snapshots, only their texts change ----------------------------
  function syncRows(tbody, list, keyOf, create, update, emptyText, columns) {
    var seen = {};
    list.forEach(function (x, i) {
      var key = String(keyOf(x));
      seen[key] = true;
      var row = null;
      Array.prototype.forEach.call(tbody.children, function (r) { if (r.dataset.key === key) { row = r; } });
      if (!row) { row = create(x); row.dataset.key = key; }
      update(row, x);
      if (tbody.children[i] !== row) { tbody.insertBefore(row, tbody.children[i] || null); }
    });
    Array.prototype.slice.call(tbody.children).forEach(function (r) { if (!seen[r.dataset.key]) { r.remove(); } });
    if (!list.length) {
      var empty = el("tr", "empty");
      empty.dataset.key = "";
      var cell = el("td", "", emptyText);
      cell.colSpan = columns;
      empty.appendChild(cell);
      tbody.appendChild(empty);
    }
  }
  function cells(row, n) { for (var i = 0; i < n; i++) { row.appendChild(el("td")); } return row; }
  function setText(node, text) { if (node.textContent !== String(text)) { node.textContent = String(text); } }

  // -- waiting per queue and channel ----------------------------------------------------------------------------
  function byChannel(channels) {
    return Object.keys(channels || {}).sort().map(function (c) { return channelName(c) + " " + channels[c].waiting; }).join(" · ");
  }
  function renderWaiting() {
    var tbody = document.querySelector("#waiting-table tbody");
    var w = snap.waiting, rows = Object.keys(w.queues).sort().map(function (q) { return [q, w.queues[q]]; });
    rows.push(["", { waiting: w.waiting, longest_wait_s: w.longest_wait_s, channels: w.channels }]);
    syncRows(tbody, rows, function (r) { return r[0] || "*total"; }, function (r) {
      var row = cells(el("tr", r[0] ? "queue" : "total"), 4);
      row.id = r[0] ? "waiting-" + r[0] : "waiting-total";
      return row;
    }, function (row, r) {
      var c = row.children;
      setText(c[0], r[0] || t("floor.total"));
      setText(c[1], r[1].waiting);
      setText(c[2], r[1].waiting ? duration(r[1].longest_wait_s) : "—");
      setText(c[3], byChannel(r[1].channels));
      c[1].className = "count";
    }, "", 4);
  }

  // -- waiting items --------------------------------------------------------------------------------------------
  function conversationLink(item) {  // leaders have no inbox: they see the conversation, not a link to it
    var text = channelName(item.channel) + (item.conversation_id ? " · " + item.conversation_id.slice(0, 8) : "");
    var node = el(item.conversation_id && mayAct ? "a" : "span", "conv-link", text);
    if (node.tagName === "A") { node.href = "/agent#c=" + encodeURIComponent(item.conversation_id); }
    node.title = timeOf(item.since);
    return node;
  }
  function renderQueueItems() {
    var tbody = document.querySelector("#queue-items tbody");
    syncRows(tbody, snap.waiting_items, function (i) { return i.item_id; }, function (item) {
      var row = cells(el("tr", "waiting-item"), mayAct ? 6 : 5);
      row.dataset.itemId = item.item_id;
      row.children[0].appendChild(conversationLink(item));
      if (mayAct && item.channel !== "voice" && item.conversation_id) {
        var cid = item.conversation_id;
        row.children[5].appendChild(button(t("floor.action.assign"), "small assign", function () { openAssign(cid, null); }));
        row.children[5].appendChild(button(t("floor.action.takeover"), "small takeover", function () { takeOver(cid); }));
      }
      return row;
    }, function (row, item) {
      var c = row.children;
      setText(c[1], channelName(item.channel));
      setText(c[2], item.queue);
      setText(c[3], item.priority);
      setText(c[4], duration(item.wait_s));
    }, t("floor.none_waiting"), mayAct ? 6 : 5);
  }

  // -- agents ---------------------------------------------------------------------------------------------------
  function statusText(a) {
    var text = statusName(a.status);
    if (a.status === "break" && a.reason) { text += " · " + reasonName(a.reason); }
    if (a.presence !== "available" && a.presence !== a.status && a.status !== "offline") {
      var presence = statusName(a.presence) + (a.presence === "break" && a.reason ? " · " + reasonName(a.reason) : "");
      text += " · " + t("floor.presence_set", { presence: presence });
    }
    return text;
  }
  function monitorText(m) {
    return m ? t("floor.monitor." + m.mode, { name: m.supervisor_name || m.supervisor_id || "" }) : "";
  }
  function callMonitor(cid, mode) {
    api("POST", "/api/floor/monitor", { conversation_id: cid, mode: mode })
      .then(function (r) { notice(t("floor.monitor.started", { mode: t("floor.action." + (r.mode || mode)) })); })
      .catch(fail);
  }
  function heldItem(a, item) {
    var li = el("li", "held-item");
    li.dataset.itemId = item.item_id;
    li.appendChild(conversationLink(item));
    li.appendChild(el("span", "held", duration(item.held_s)));
    if (item.monitor) { li.appendChild(el("span", "monitor", monitorText(item.monitor))); }
    if (mayAct && item.conversation_id) {
      var cid = item.conversation_id, tools = el("span", "tools");
      if (item.channel === "voice") {
        ["listen", "whisper", "barge", "stop"].forEach(function (mode) {
          tools.appendChild(button(t("floor.action." + mode), "small monitor-" + mode, function () { callMonitor(cid, mode); }));
        });
      } else {
        tools.appendChild(button(t("floor.action.watch"), "small watch", function () { openWatch(cid, item.item_id); }));
        tools.appendChild(button(t("floor.action.reassign"), "small reassign", function () { openAssign(cid, a.id); }));
        tools.appendChild(button(t("floor.action.takeover"), "small takeover", function () { takeOver(cid); }));
      }
      li.appendChild(tools);
    }
    return li;
  }
  function renderAgents() {
    var tbody = document.querySelector("#agents-table tbody"), columns = mayAct ? 8 : 7;
    syncRows(tbody, snap.agents, function (a) { return a.id; }, function (a) {
      var row = cells(el("tr", "agent"), columns);
      row.id = "agent-" + a.id;
      row.children[1].className = "status";
      row.children[6].appendChild(el("ul", "items"));
      if (mayAct) {
        var id = a.id;
        row.children[7].appendChild(button(t("floor.action.status"), "small set-status", function () { openStatus(id); }));
        row.children[7].appendChild(button(t("floor.action.sign_out"), "small sign-out", function () { setStatus(id, "offline", null); }));
      }
      return row;
    }, function (row, a) {
      var c = row.children;
      setText(c[0], a.name);
      setText(c[1], statusText(a));
      c[1].dataset.status = a.status;
      row.className = "agent status-" + a.status;
      setText(c[2], duration(a.in_status_s));
      setText(c[3], a.handled_today);
      setText(c[4], duration(a.talk_time_s));
      setText(c[5], a.load + "/" + a.capacity);
      var list = c[6].firstChild;
      var signature = JSON.stringify(a.items.map(function (i) { return [i.item_id, i.monitor && i.monitor.mode]; }));
      if (list.dataset.signature !== signature) {
        list.dataset.signature = signature;
        list.replaceChildren.apply(list, a.items.map(function (i) { return heldItem(a, i); }));
      } else {
        a.items.forEach(function (i, n) { setText(list.children[n].querySelector(".held"), duration(i.held_s)); });
      }
    }, t("floor.no_agents"), columns);
    var counts = snap.statuses || {};
    setText(document.getElementById("status-counts"), Object.keys(counts).sort().map(function (s) {
      return statusName(s) + " " + counts[s];
    }).join(" · "));
  }

  // -- figures --------------------------------------------------------------------------------------------------
  var FIGURES = ["entered", "answered", "abandoned", "overflowed", "answered_within", "abandoned_within"];
  function figureRow(name, f, cls) {
    var row = el("tr", cls);
    row.appendChild(el("th", "", name));
    FIGURES.forEach(function (k) { row.appendChild(el("td", k, f[k])); });
    ["sl1", "sl2", "sl3"].forEach(function (k) { row.appendChild(el("td", k, pct(f[k]))); });
    row.appendChild(el("td", "asa", duration(f.asa_s)));
    row.appendChild(el("td", "aht", duration(f.aht_s)));
    row.appendChild(el("td", "abandon-rate", pct(f.abandon_rate)));
    return row;
  }
  function renderFigures() {
    var figures = snap.figures, serial = JSON.stringify(figures);
    setText(document.getElementById("figures-threshold"), t("floor.figures.threshold", { seconds: figures.threshold_s }));
    if (serial === lastFigures) { return; }
    lastFigures = serial;
    var rows = [figureRow(t("floor.total"), figures.total, "total")];
    rows[0].id = "figures-total";
    [["queues", "floor.figures.by_queue", function (q) { return q; }], ["channels", "floor.figures.by_channel", channelName]]
      .forEach(function (group) {
        var names = Object.keys(figures[group[0]]).sort();
        if (!names.length) { return; }
        var head = el("tr", "group"), cell = el("th", "", t(group[1]));
        cell.colSpan = 13;
        head.appendChild(cell);
        rows.push(head);
        names.forEach(function (n) {
          var row = figureRow(group[2](n), figures[group[0]][n], group[0]);
          row.id = "figures-" + group[0] + "-" + n;
          rows.push(row);
        });
      });
    var tbody = document.querySelector("#figures-table tbody");
    tbody.replaceChildren.apply(tbody, rows);
  }

  function render() {
    setText(document.getElementById("updated"), t("floor.updated", { time: timeOf(snap.now) }));
    renderWaiting();
    renderQueueItems();
    renderAgents();
    renderFigures();
    if (mayAct) { refreshAssignChoices(); }
  }

  // -- actions --------------------------------------------------------------------------------------------------
  function setStatus(agentId, status, reason) {
    return api("POST", "/api/floor/agents/" + agentId + "/status", { status: status, reason: reason })
      .then(function (a) {
        var shown = statusName(status) + (reason ? " · " + reasonName(reason) : "");
        notice(t("floor.status.done", { name: a.name, status: shown }));
      }).catch(fail);
  }
  var statusPanel = document.getElementById("status-panel"), statusFor = null;
  function openStatus(agentId) {
    statusFor = agentId;
    setText(document.getElementById("status-panel-title"), t("floor.status_panel.title", { name: agentName(agentId) }));
    statusPanel.hidden = false;
    document.getElementById("status-choice").focus();
  }
  var assignPanel = document.getElementById("assign-panel"), assignFor = null;
  function refreshAssignChoices() {
    var select = document.getElementById("assign-agent"), keep = select.value;
    var options = snap.agents.filter(function (a) { return !assignFor || a.id !== assignFor.holder; }).map(function (a) {
      var o = el("option", "", a.name + " · " + statusName(a.status) + " · " + a.load + "/" + a.capacity);
      o.value = String(a.id);
      return o;
    });
    var serial = options.map(function (o) { return o.value + o.textContent; }).join("|");
    if (select.dataset.serial !== serial) {
      select.dataset.serial = serial;
      select.replaceChildren.apply(select, options);
      if (keep) { select.value = keep; }
    }
  }
  function openAssign(cid, holder) {
    assignFor = { conversation_id: cid, holder: holder };
    setText(document.getElementById("assign-what"), cid.slice(0, 8) + (holder ? " · " + agentName(holder) : ""));
    document.getElementById("assign-agent").dataset.serial = "";
    refreshAssignChoices();
    assignPanel.hidden = false;
    document.getElementById("assign-agent").focus();
  }
  function takeOver(cid) {
    api("POST", "/api/floor/conversations/" + encodeURIComponent(cid) + "/takeover", {})
      .then(function () { notice(t("floor.takeover.done")); }).catch(fail);
  }

  // -- watching a chat (监看) -----------------------------------------------------------------------------------
  var watchPanel = document.getElementById("watch-panel");
  function transcriptLine(kind, who, text, at, id) {
    var list = document.getElementById("watch-transcript");
    if (id && watching.seen[id]) { return; }
    if (id) { watching.seen[id] = true; }
    var li = el("li", "line " + kind);
    li.appendChild(el("span", "who", who));
    li.appendChild(el("time", "at", timeOf(at)));
    li.appendChild(el("div", "text", text));
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }
  function showMessage(m) {
    transcriptLine("message " + m.sender, t("floor.sender." + m.sender) || m.sender, m.text || "", m.created_at, "m" + m.id);
  }
  function showNote(n) {
    transcriptLine("note", t("floor.sender.note") + " · " + (n.author_name || ""), n.text, n.created_at, "n" + n.id);
  }
  function follow() {
    if (watching && socket && socket.readyState === 1) {
      socket.send(JSON.stringify({ type: "follow", conversation_id: watching.conversation_id }));
    }
  }
  function loadTranscript() {
    return api("GET", "/api/conversations/" + encodeURIComponent(watching.conversation_id)).then(function (d) {
      var lines = d.messages.map(function (m) { return [m.created_at, "m", m]; })
        .concat(d.notes.map(function (n) { return [n.created_at, "n", n]; }))
        .sort(function (x, y) { return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0; });
      lines.forEach(function (l) { if (l[1] === "m") { showMessage(l[2]); } else { showNote(l[2]); } });
    });
  }
  function openWatch(cid, itemId) {
    if (watching) { closeWatch(); }
    watching = { conversation_id: cid, item_id: itemId, seen: {} };
    document.getElementById("watch-transcript").replaceChildren();
    setText(document.getElementById("watch-what"), cid.slice(0, 8));
    watchPanel.hidden = false;
    follow();
    api("POST", "/api/floor/conversations/" + encodeURIComponent(cid) + "/watch", { mode: "join" })
      .then(loadTranscript).catch(fail);
  }
  function closeWatch() {
    if (!watching) { return; }
    var cid = watching.conversation_id;
    watching = null;
    watchPanel.hidden = true;
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify({ type: "unfollow" })); }
    api("POST", "/api/floor/conversations/" + encodeURIComponent(cid) + "/watch", { mode: "stop" }).catch(fail);
  }

  if (mayAct) {
    document.getElementById("status-confirm").addEventListener("click", function () {
      var value = document.getElementById("status-choice").value, parts = value.split(":");
      statusPanel.hidden = true;
      setStatus(statusFor, parts[0], parts[1] || null);
    });
    document.getElementById("status-cancel").addEventListener("click", function () { statusPanel.hidden = true; });
    document.getElementById("assign-confirm").addEventListener("click", function () {
      var agentId = Number(document.getElementById("assign-agent").value), target = assignFor;
      assignPanel.hidden = true;
      api("POST", "/api/floor/conversations/" + encodeURIComponent(target.conversation_id) + "/assign", { agent_id: agentId })
        .then(function () { notice(t("floor.assign.done", { name: agentName(agentId) })); }).catch(fail);
    });
    document.getElementById("assign-cancel").addEventListener("click", function () { assignPanel.hidden = true; assignFor = null; });
    document.getElementById("watch-close").addEventListener("click", closeWatch);
    document.getElementById("watch-takeover").addEventListener("click", function () { if (watching) { takeOver(watching.conversation_id); } });
    document.getElementById("whisper-send").addEventListener("click", function () {
      var box = document.getElementById("whisper-text"), text = box.value.trim();
      if (!watching || !text) { return; }
      api("POST", "/api/floor/conversations/" + encodeURIComponent(watching.conversation_id) + "/whisper", { text: text })
        .then(function (note) { box.value = ""; showNote(note); notice(t("floor.whisper.sent")); }).catch(fail);
    });
  }

  // -- the live socket ------------------------------------------------------------------------------------------
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/supervisor/floor/ws" + location.search);
    socket.addEventListener("open", function () {
      retry = 1000;
      setText(document.getElementById("connection"), t("floor.connected"));
      document.getElementById("connection").className = "live";
      follow();
    });
    socket.addEventListener("message", function (e) {
      var data = JSON.parse(e.data);
      if (data.type === "snapshot") {
        snap = data;
        render();
      } else if (watching && data.type === "chat_message") {
        if (data.message.conversation_id === watching.conversation_id) { showMessage(data.message); }
      } else if (watching && data.type === "chat_note") {
        if (data.note.conversation_id === watching.conversation_id) { showNote(data.note); }
      } else if (watching && data.type === "chat_state" && data.conversation.status === "closed") {
        transcriptLine("system", t("floor.sender.system"), t("floor.chat_closed"), null, null);
      } else if (watching && data.type === "chat_resync") {
        follow();
        loadTranscript().catch(fail);
      }
    });
    socket.addEventListener("close", function () {
      setText(document.getElementById("connection"), t("floor.reconnecting"));
      document.getElementById("connection").className = "down";
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    });
  }

  render();
  connect();
}());
