// Agent inbox, start: the first view, the live WebSocket (/agent/ws) and the API for channel extensions.
// The parts: inbox-core.js (state, API), inbox-list.js (views), inbox-notify.js (unread, sound, notifications),
// inbox-media.js (attachments, calls), inbox-detail.js (the conversation), inbox-composer.js, inbox-keys.js,
// inbox-status.js (the agent's status and text offers).
(function () {
  "use strict";
  var I = window.InboxApp;

  // For channel extensions (e.g. the voice channel's call-back buttons in #channel-actions): they listen to the
  // "rexian:conversation" event, post with the CSRF token and ask for the open conversation to be reloaded.
  window.RexianInbox = { csrf: I.csrf, labels: I.labels, refresh: function () { return I.reloadDetail(); } };

  function markSeen(conversationId, messageId) {
    return I.api("POST", "/api/conversations/" + encodeURIComponent(conversationId) + "/read",
      messageId ? { last_read_id: messageId } : {}).catch(function () {});
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && I.state.selected) { markSeen(I.state.selected).then(I.scheduleRefresh); }
  });

  function onEvent(data) {
    if (data.type === "call_offered") { I.ring(data); I.scheduleRefresh(); return; }
    if (data.type === "call_finished") { I.callFinished(data); return; }
    if (data.type === "agent_status" || data.type === "offer" || data.type === "offer_gone") {
      I.emit(data.type, data);
      return;
    }
    if (data.conversation) {  // queued, assigned, closed
      if (data.type === "queued" || data.type === "assigned" || data.type === "closed") { I.emit(data.type, data.conversation); }
      if (data.conversation.id === I.state.selected) { I.reloadDetail(); }
      I.scheduleRefresh();
      return;
    }
    if (data.type === "message") {
      var m = data.message;
      var viewing = m.conversation_id === I.state.selected;
      if (viewing) { I.appendMessage(m); }
      if (m.sender === "citizen") {
        I.emit("citizen_message", data);
        if (viewing && !document.hidden) {
          markSeen(m.conversation_id, m.id).then(I.scheduleRefresh);
          return;
        }
      }
      I.scheduleRefresh();
    } else if (data.type === "note") {
      I.noteAdded(data.note);
    } else if (data.type === "message_updated") {
      if (data.message.conversation_id === I.state.selected) { I.updateMessage(data.message); }
    }
  }

  var retry = 0;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/agent/ws");
    var live = document.getElementById("live");
    ws.onopen = function () {
      retry = 0;
      live.classList.add("on");
      I.refreshList().catch(function () {});
      I.loadStatus().catch(function () {});  // the socket only tells changes: read the state on every (re)connect
    };
    ws.onmessage = function (ev) { onEvent(JSON.parse(ev.data)); };
    ws.onclose = function () {
      live.classList.remove("on");
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retry++)));
    };
  }

  // The first view: the one last used in this tab, else "mine" when the agent holds conversations, else the queue.
  var saved = I.savedView();
  var first = I.VIEWS.indexOf(saved) >= 0 ? I.setView(saved) : I.setView("unassigned").then(function (data) {
    if (data && data.counts && data.counts.mine > 0) { return I.setView("mine"); }
    return data;
  });
  // /agent#c=<id>: links from the call records, orders and notifications; also when only the hash changes
  function linked() { var m = /^#c=([0-9a-f-]{36})$/.exec(location.hash); return m ? m[1] : null; }
  first.then(function () { if (linked()) { I.select(linked()); } }).catch(function () {});
  window.addEventListener("hashchange", function () {
    first.then(function () { if (linked() && linked() !== I.state.selected) { I.select(linked()); } });
  });
  connect();
})();
