// Agent inbox, the list: views (mine, unassigned, all, closed) with counts, search and filters (server-side),
// unread badges, last-activity times and waiting times ticking live, keyboard focus in the list.
(function () {
  "use strict";
  var I = window.InboxApp;
  var VIEWS = ["mine", "unassigned", "all", "closed"];
  var LIST_IDS = { mine: "mine", unassigned: "queue", all: "all", closed: "closed" };
  var COUNT_IDS = { mine: "mine-count", unassigned: "queue-count", all: "all-count", closed: "closed-count" };
  var PAGE = 100;
  I.VIEWS = VIEWS;

  function listOf(view) { return document.getElementById(LIST_IDS[view || I.state.view]); }

  function query() {
    var q = new URLSearchParams();
    q.set("view", I.state.view);
    [["q", "search"], ["channel", "filter-channel"], ["industry", "filter-industry"], ["status", "filter-status"],
      ["waiting", "filter-waiting"]].forEach(function (p) {
      var v = document.getElementById(p[1]).value.trim();
      if (v) { q.set(p[0], v); }
    });
    if (I.state.offset) { q.set("offset", String(I.state.offset)); }
    return q.toString();
  }

  function waitingText(node) {
    var since = I.instant(node.dataset.since);
    var secs = (I.now() - since) / 1000;
    node.textContent = I.t("inbox.waiting", { time: I.duration(secs) });
    node.classList.toggle("warn", secs >= 300 && secs < 1800);
    node.classList.toggle("late", secs >= 1800);
  }
  I.tick = function () { Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), waitingText); };

  function renderItem(c) {
    var li = I.el("li", "conv" + (c.id === I.state.selected ? " selected" : "") + (c.unread ? " has-unread" : ""));
    li.dataset.id = c.id;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", c.id === I.state.selected ? "true" : "false");
    li.tabIndex = -1;
    var head = I.el("div", "title");
    head.appendChild(I.el("span", "who", c.contact_name || c.contact_phone || I.t("inbox.citizen")));
    if (c.unread) {
      var badge = I.el("span", "unread", c.unread);
      badge.title = I.t("inbox.unread", { count: c.unread });
      badge.setAttribute("aria-label", badge.title);
      head.appendChild(badge);
    }
    var stamp = I.el("time", "at", I.shortWhen(c.last_at || c.updated_at));
    stamp.setAttribute("datetime", c.last_at || c.updated_at || "");
    stamp.title = I.when(c.last_at || c.updated_at);
    head.appendChild(stamp);
    li.appendChild(head);
    var kinds = [I.label("channel", c.channel), c.industry_name, c.request_type_name].filter(Boolean);
    li.appendChild(I.el("div", "meta kinds", kinds.join(" · ")));
    if (c.subject) { li.appendChild(I.el("div", "meta subject", c.subject)); }
    if (c.status === "queued" && c.handoff_reason) { li.appendChild(I.el("div", "meta reason", I.label("handoff", c.handoff_reason))); }
    li.appendChild(I.el("div", "meta last", c.last_text));
    var foot = I.el("div", "meta foot");
    if (c.waiting_since && (c.status === "queued" || c.status === "assigned")) {
      var wait = I.el("span", "waiting");
      wait.dataset.since = c.waiting_since;
      waitingText(wait);
      foot.appendChild(wait);
    }
    if (I.state.view === "all" || I.state.view === "closed") {
      foot.appendChild(I.el("span", "status", I.label("status", c.status)));
      if (c.assignee_name) { foot.appendChild(I.el("span", "assignee", I.t("inbox.assignee", { name: c.assignee_name }))); }
    }
    if (c.status === "closed" && c.outcome) { foot.appendChild(I.el("span", "outcome", I.label("outcome", c.outcome))); }
    if (foot.children.length) { li.appendChild(foot); }
    li.addEventListener("click", function () { I.focusItem(c.id); I.select(c.id); });
    return li;
  }

  function renderCounts(counts) {
    VIEWS.forEach(function (v) { document.getElementById(COUNT_IDS[v]).textContent = counts[v] || 0; });
  }

  function render(data, append) {
    var list = listOf();
    var focusedId = document.activeElement && document.activeElement.parentNode === list ? document.activeElement.dataset.id : null;
    if (!append) { list.textContent = ""; I.state.items = {}; }
    data.items.forEach(function (c) { I.state.items[c.id] = c; list.appendChild(renderItem(c)); });
    if (!list.children.length) { list.appendChild(I.el("li", "empty", I.t("inbox.empty"))); }
    renderCounts(data.counts);
    document.getElementById("list-total").textContent = I.t("inbox.total", { count: data.total });
    document.getElementById("list-more").hidden = I.state.offset + PAGE >= data.total;
    I.emit("unread", data.unread_total);
    if (focusedId) { I.focusItem(focusedId); }
  }

  I.refreshList = function (append) {
    if (!append) { I.state.offset = 0; }
    var view = I.state.view;
    return I.api("GET", "/api/inbox?" + query()).then(function (data) {
      if (view !== I.state.view) { return data; }
      if (data.now) { I.clockOffset = Date.parse(data.now) - Date.now(); }
      render(data, append);
      return data;
    });
  };
  var pending = null;
  I.scheduleRefresh = function () {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; I.refreshList().catch(function () {}); }, 200);
  };

  I.setView = function (view) {
    if (VIEWS.indexOf(view) < 0) { return Promise.resolve(); }
    I.state.view = view;
    try { sessionStorage.setItem("inbox.view", view); } catch (e) { /* storage off */ }
    VIEWS.forEach(function (v) {
      var on = v === view;
      listOf(v).hidden = !on;
      var tab = document.getElementById("view-" + v);
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.classList.toggle("active", on);
      tab.tabIndex = on ? 0 : -1;
    });
    return I.refreshList();
  };
  I.savedView = function () {
    try { return sessionStorage.getItem("inbox.view"); } catch (e) { return null; }
  };

  // -- keyboard focus in the list (roving tabindex) --
  function items() { return Array.prototype.filter.call(listOf().children, function (li) { return li.dataset.id; }); }
  I.focusItem = function (id) {
    items().forEach(function (li) {
      var on = li.dataset.id === id;
      li.tabIndex = on ? 0 : -1;
      if (on && document.activeElement !== li) { li.focus(); }
    });
  };
  I.moveFocus = function (delta) {
    var all = items();
    if (!all.length) { return; }
    var at = all.indexOf(document.activeElement);
    if (at < 0) { at = all.findIndex(function (li) { return li.dataset.id === I.state.selected; }); }
    var next = at < 0 ? (delta > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, at + delta));
    I.focusItem(all[next].dataset.id);
    all[next].scrollIntoView({ block: "nearest" });
  };
  I.focusedItemId = function () {
    var a = document.activeElement;
    return a && a.parentNode === listOf() && a.dataset.id ? a.dataset.id : null;
  };
  I.markSelected = function () {
    items().forEach(function (li) {
      var on = li.dataset.id === I.state.selected;
      li.classList.toggle("selected", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
    });
  };

  // -- wiring --
  VIEWS.forEach(function (v) {
    document.getElementById("view-" + v).addEventListener("click", function () { I.setView(v); });
  });
  var typing = null;
  document.getElementById("search").addEventListener("input", function () {
    if (typing) { clearTimeout(typing); }
    typing = setTimeout(function () { I.refreshList(); }, 300);
  });
  ["filter-channel", "filter-industry", "filter-status", "filter-waiting"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", function () { I.refreshList(); });
  });
  document.getElementById("inbox-filters").addEventListener("submit", function (ev) { ev.preventDefault(); I.refreshList(); });
  document.getElementById("list-more").addEventListener("click", function () {
    I.state.offset += PAGE;
    I.refreshList(true);
  });
  setInterval(I.tick, 1000);
})();
