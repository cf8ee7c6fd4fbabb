// Agent inbox, the agent's own status: the status control (shown status and its time ticking, set available / break
// with a reason / offline, end wrap-up, load), the no-answer banner, and text offers (accept / decline with a
// countdown). Fed by GET /api/agent/status and the inbox socket's "agent_status", "offer" and "offer_gone" frames.
(function () {
  "use strict";
  var I = window.InboxApp;
  var el = I.el;
  var bar = document.getElementById("agent-bar");
  var pill = document.getElementById("agent-status");
  var timeNode = document.getElementById("status-time");
  var select = document.getElementById("status-select");
  var wrapEnd = document.getElementById("wrap-up-end");
  var loadNode = document.getElementById("agent-load");
  var banner = document.getElementById("no-answer-banner");
  var offersBox = document.getElementById("offers");
  var current = null;
  var offers = {};  // item id -> card (one offer per item at a time; a new deadline replaces the card)

  function statusText(s) {
    var name = I.t("inbox.agent_status." + s.status) || s.status_name || s.status;
    if (s.status === "break" && s.reason_name) { return I.t("inbox.agent.break_with", { reason: s.reason_name }); }
    return name;
  }
  function tickStatus() {
    if (!current || !current.since) { timeNode.textContent = ""; return; }
    var secs = (I.now() - I.instant(current.since)) / 1000;
    timeNode.textContent = I.t("inbox.agent.time_in_status", { time: I.duration(secs) });
  }

  I.renderStatus = function (s, noAnswer) {
    if (!s || s.routed === false) { bar.hidden = true; banner.hidden = true; return; }
    current = s;
    bar.hidden = false;
    pill.dataset.status = s.status;
    pill.dataset.reason = s.reason || "";
    pill.textContent = statusText(s);
    select.value = s.presence === "break" ? "break:" + (s.reason || "") : s.presence;
    if (select.selectedIndex < 0) {  // a configured reason without an option: show its code
      var extra = el("option", "", I.t("inbox.agent.break_with", { reason: s.reason_name || s.reason }));
      extra.value = "break:" + s.reason;
      extra.disabled = true;
      select.appendChild(extra);
      select.value = extra.value;
    }
    wrapEnd.hidden = !s.wrap_up_until;
    loadNode.textContent = I.t("inbox.agent.load", { load: s.load, capacity: s.capacity });
    if (s.no_answer) {
      banner.textContent = I.t("inbox.agent.no_answer", { missed: (noAnswer && noAnswer.missed) || s.missed_offers });
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    tickStatus();
  };

  function post(path, payload) {
    return I.api("POST", path, payload).then(function (s) { I.renderStatus(s); return s; });
  }
  select.addEventListener("change", function () {
    var parts = select.value.split(":");
    post("/api/agent/status", { status: parts[0], reason: parts[1] || null }).catch(function (e) {
      I.fail(e);
      I.renderStatus(current);
    });
  });
  wrapEnd.addEventListener("click", function () { post("/api/agent/wrap-up/end").catch(I.fail); });

  // -- text offers ---------------------------------------------------------------------------------------------
  function countdown(card) {
    var secs = Math.max(0, Math.ceil((I.instant(card.dataset.deadline) - I.now()) / 1000));
    card.querySelector(".countdown").textContent = I.t("inbox.offer.countdown", { seconds: secs });
  }
  function removeOffer(itemId, deadline) {  // with a deadline: only that offer (a re-offer may have replaced it)
    var card = offers[itemId];
    if (card && (!deadline || card.dataset.deadline === deadline)) { card.remove(); delete offers[itemId]; }
  }
  function answer(o, verb) {
    var url = "/api/agent/offers/" + encodeURIComponent(o.item_id) + "/" + verb;
    if (verb === "accept") { I.state.taking = o.conversation_id; }
    return I.api("POST", url).then(function (r) {
      removeOffer(o.item_id, o.deadline);
      if (verb === "accept") {
        I.renderStatus(r.status);
        return I.setView("mine").then(function () { return I.select(r.conversation_id); });
      }
      I.renderStatus(r);
      return null;
    }).catch(function (e) { removeOffer(o.item_id, o.deadline); I.fail(e); });
  }
  I.showOffer = function (o) {
    if (!o || (offers[o.item_id] && offers[o.item_id].dataset.deadline === o.deadline)) { return; }
    removeOffer(o.item_id);
    var card = el("article", "offer-card");
    card.dataset.itemId = o.item_id;
    card.dataset.conversation = o.conversation_id;
    card.dataset.deadline = o.deadline;
    card.appendChild(el("h3", "offer-title", I.t("inbox.offer.title")));
    var who = [I.label("channel", o.channel), o.citizen_name, o.citizen].filter(Boolean).join(" · ");
    card.appendChild(el("div", "offer-who", who || I.t("inbox.citizen")));
    if (o.excerpt) { card.appendChild(el("p", "offer-excerpt", o.excerpt)); }
    var foot = el("div", "offer-actions");
    foot.appendChild(el("span", "countdown meta"));
    var accept = el("button", "offer-accept", I.t("inbox.offer.accept"));
    accept.type = "button";
    accept.addEventListener("click", function () { accept.disabled = true; answer(o, "accept"); });
    var decline = el("button", "offer-decline secondary", I.t("inbox.offer.decline"));
    decline.type = "button";
    decline.addEventListener("click", function () { decline.disabled = true; answer(o, "decline"); });
    foot.appendChild(accept);
    foot.appendChild(decline);
    card.appendChild(foot);
    offers[o.item_id] = card;
    offersBox.appendChild(card);
    countdown(card);
    I.beep();
    I.notify(I.t("inbox.offer.title"), who + (o.excerpt ? "：" + o.excerpt : ""), o.conversation_id);
  };

  I.loadStatus = function () {
    return I.api("GET", "/api/agent/status").then(function (s) {
      I.renderStatus(s);
      var live = {};
      (s.offers || []).forEach(function (o) { live[o.item_id] = true; I.showOffer(o); });
      Object.keys(offers).forEach(function (id) { if (!live[id]) { removeOffer(id); } });
      return s;
    });
  };
  var pending = null;
  I.scheduleStatus = function () {  // the load changes without a status event when one of several items ends
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; I.loadStatus().catch(function () {}); }, 300);
  };

  I.on("agent_status", function (data) { I.renderStatus(data.status, data.no_answer); });
  I.on("offer", function (data) { I.showOffer(data.offer); });
  I.on("offer_gone", function (data) { removeOffer(data.item_id); });
  I.on("assigned", function (c) {
    if (c.assignee_id !== I.me) { return; }
    I.scheduleStatus();
    if (c.id !== I.state.selected && c.id !== I.state.taking) {
      I.beep();
      I.notify(I.t("inbox.notify.assigned"), [I.label("channel", c.channel), c.last_text].filter(Boolean).join("："), c.id);
    }
  });
  I.on("closed", function (c) { if (c.assignee_id === I.me) { I.scheduleStatus(); } });

  setInterval(function () {
    tickStatus();
    Object.keys(offers).forEach(function (id) { countdown(offers[id]); });
  }, 1000);
})();
