// Agent inbox, transfer (转接): the open conversation to another agent, back to a queue or to a department
// (POST /api/conversations/{id}/transfer); a conversation with a live call transfers the call instead, blind or after
// a consultation (POST /api/calls/{id}/transfer, /complete, /cancel). User data is only ever set with textContent.
(function () {
  "use strict";
  var I = window.InboxApp;
  if (!I) { return; }
  var el = I.el;
  var dialog = null;
  var current = null;  // the conversation the dialog is for
  var targets = null;  // GET /api/transfer/targets?conversation_id=

  function t(key, params) { return I.t(key, params) || key; }

  function option(value, text, disabled) {
    var o = el("option", "", text);
    o.value = value;
    if (disabled) { o.disabled = true; }
    return o;
  }

  function radio(name, value, text, checked) {
    var label = el("label", "transfer-choice");
    var input = el("input");
    input.type = "radio"; input.name = name; input.value = value; input.checked = !!checked;
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + text));
    return label;
  }

  function chosen(form, name) {
    var picked = form.querySelector('input[name="' + name + '"]:checked');
    return picked ? picked.value : null;
  }

  function build() {
    dialog = el("dialog", "transfer-dialog");
    dialog.id = "transfer-dialog";
    dialog.setAttribute("aria-labelledby", "transfer-title");
    var form = el("form", "transfer-form");
    form.id = "transfer-form";
    form.method = "dialog";
    var title = el("h3", "", ""); title.id = "transfer-title";
    form.appendChild(title);
    var body = el("div", "transfer-body"); body.id = "transfer-body";
    form.appendChild(body);
    var status = el("p", "error"); status.id = "transfer-error"; status.setAttribute("role", "alert"); status.hidden = true;
    form.appendChild(status);
    var buttons = el("div", "dialog-buttons"); buttons.id = "transfer-buttons";
    form.appendChild(buttons);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  }

  function button(id, text, onClick) {
    var b = el("button", "", text);
    b.type = "button"; b.id = id;
    b.addEventListener("click", onClick);
    return b;
  }

  function showError(e) {
    var status = document.getElementById("transfer-error");
    status.textContent = (e && (e.message || e.error)) || String(e);
    status.hidden = false;
  }

  function done() {
    if (dialog && dialog.open) { dialog.close(); }
    I.reloadDetail();
    if (I.scheduleRefresh) { I.scheduleRefresh(); }
  }

  // -- choosing a target --------------------------------------------------------------------------------------

  function agentSelect(id, withPhone) {  // withPhone: a call goes only to an agent whose softphone is registered
    var select = el("select"); select.id = id;
    select.setAttribute("aria-label", t("inbox.transfer.to_agent"));
    var agents = targets.agents.filter(function (a) { return !withPhone || a.registered; });
    if (!agents.length) { select.appendChild(option("", t("inbox.transfer.none_agents"), true)); }
    agents.forEach(function (a) {
      var status = t("inbox.transfer.status." + a.status);
      select.appendChild(option(String(a.id), t("inbox.transfer.agent_option", { name: a.name, status: status, free: a.free })));
    });
    return select;
  }

  function queueSelect(id, onlyText) {
    var select = el("select"); select.id = id;
    select.setAttribute("aria-label", t("inbox.transfer.to_queue"));
    targets.queues.forEach(function (q) {
      if (onlyText && q.name !== targets.text_queue) { return; }
      select.appendChild(option(q.name, q.label));
    });
    return select;
  }

  function unitSelect(id, phonesOnly) {
    var select = el("select"); select.id = id;
    select.setAttribute("aria-label", t("inbox.transfer.to_department"));
    var units = targets.units.filter(function (u) { return !phonesOnly || u.channel === "sms"; });
    if (!units.length) { select.appendChild(option("", t("inbox.transfer.none_units"), true)); }
    units.forEach(function (u) {
      var channel = I.label("channel", u.channel) || u.channel;
      var text = phonesOnly ? t("voice.transfer.ui.unit_phone", { name: u.name, phone: u.address })
        : u.ready ? t("inbox.transfer.unit_option", { name: u.name, channel: channel, address: u.address })
        : t("inbox.transfer.unit_off", { name: u.name });
      select.appendChild(option(u.code, text, !phonesOnly && !u.ready));
    });
    return select;
  }

  function row(form, name, value, text, control, checked) {
    var wrap = el("div", "transfer-row");
    wrap.appendChild(radio(name, value, text, checked));
    wrap.appendChild(control);
    control.addEventListener("focus", function () { form.querySelector('input[name="' + name + '"][value="' + value + '"]').checked = true; });
    form.appendChild(wrap);
  }

  // -- a conversation -----------------------------------------------------------------------------------------

  function conversationForm() {
    var body = document.getElementById("transfer-body");
    document.getElementById("transfer-title").textContent = t("inbox.transfer.title");
    row(body, "transfer-to", "agent", t("inbox.transfer.to_agent"), agentSelect("transfer-agent", false), true);
    row(body, "transfer-to", "queue", t("inbox.transfer.to_queue"), queueSelect("transfer-queue", !targets.routed));
    row(body, "transfer-to", "department", t("inbox.transfer.to_department"), unitSelect("transfer-unit", false));
    var label = el("label", "transfer-note", t("inbox.transfer.note_label"));
    var note = el("textarea"); note.id = "transfer-note"; note.rows = 3; note.maxLength = 500;
    label.appendChild(note);
    body.appendChild(label);
    var buttons = document.getElementById("transfer-buttons");
    buttons.appendChild(button("transfer-confirm", t("inbox.transfer.confirm"), function () {
      var to = chosen(body, "transfer-to");
      var payload = { to: to, note: note.value };
      if (to === "agent") { payload.agent_id = Number(document.getElementById("transfer-agent").value); }
      if (to === "queue") { payload.queue = document.getElementById("transfer-queue").value; }
      if (to === "department") { payload.unit = document.getElementById("transfer-unit").value; }
      I.api("POST", "/api/conversations/" + encodeURIComponent(current.id) + "/transfer", payload).then(done).catch(showError);
    }));
  }

  // -- a live call --------------------------------------------------------------------------------------------

  function callForm(call) {
    var body = document.getElementById("transfer-body");
    var buttons = document.getElementById("transfer-buttons");
    var base = "/api/calls/" + encodeURIComponent(current.id) + "/transfer";
    document.getElementById("transfer-title").textContent = t("voice.transfer.ui.title");
    if (call.state === "consulting") {
      body.appendChild(el("p", "transfer-consulting", t("voice.transfer.ui.consulting", { target: call.target || "" })));
      buttons.appendChild(button("transfer-complete", t("voice.transfer.ui.complete"), function () {
        I.api("POST", base + "/complete", {}).then(done).catch(showError);
      }));
      buttons.appendChild(button("transfer-back", t("voice.transfer.ui.cancel"), function () {
        I.api("POST", base + "/cancel", {}).then(done).catch(showError);
      }));
      return;
    }
    if (call.state === "transferring") {  // a blind transfer rings its target: nothing to choose meanwhile
      body.appendChild(el("p", "transfer-consulting", t("voice.transfer.ui.transferring", { target: call.target || "" })));
      return;
    }
    var modes = el("div", "transfer-modes");
    modes.appendChild(radio("transfer-mode", "blind", t("voice.transfer.ui.mode_blind"), true));
    modes.appendChild(radio("transfer-mode", "attended", t("voice.transfer.ui.mode_attended")));
    body.appendChild(modes);
    row(body, "transfer-to", "agent", t("inbox.transfer.to_agent"), agentSelect("transfer-agent", true), true);
    row(body, "transfer-to", "queue", t("inbox.transfer.to_queue"), queueSelect("transfer-queue", false));
    if (call.trunk) {
      row(body, "transfer-to", "unit", t("inbox.transfer.to_department"), unitSelect("transfer-unit", true));
      var number = el("input"); number.id = "transfer-number"; number.type = "tel"; number.maxLength = 20;
      number.placeholder = t("voice.transfer.ui.number_placeholder");
      row(body, "transfer-to", "number", t("voice.transfer.ui.to_number"), number);
    } else {
      body.appendChild(el("p", "meta", t("voice.transfer.ui.no_trunk")));
    }
    buttons.appendChild(button("transfer-confirm", t("inbox.transfer.confirm"), function () {
      var to = chosen(body, "transfer-to");
      var payload = { mode: chosen(body, "transfer-mode"), to: to };
      if (to === "agent") { payload.agent_id = Number(document.getElementById("transfer-agent").value); }
      if (to === "queue") { payload.queue = document.getElementById("transfer-queue").value; }
      if (to === "unit") { payload.unit = document.getElementById("transfer-unit").value; }
      if (to === "number") { payload.number = document.getElementById("transfer-number").value; }
      I.api("POST", base, payload).then(done).catch(showError);
    }));
  }

  function open(conversation) {
    current = conversation;
    I.api("GET", "/api/transfer/targets?conversation_id=" + encodeURIComponent(conversation.id)).then(function (data) {
      targets = data;
      if (!dialog) { build(); }
      ["transfer-body", "transfer-buttons"].forEach(function (id) { document.getElementById(id).textContent = ""; });
      document.getElementById("transfer-error").hidden = true;
      if (data.call) { callForm(data.call); } else { conversationForm(); }
      document.getElementById("transfer-buttons").appendChild(button("transfer-cancel", t("inbox.transfer.cancel"), function () {
        dialog.close();
      }));
      if (!dialog.open) { dialog.showModal(); }
    }).catch(I.fail);
  }

  // The button, next to the conversation's other actions, for whoever may act on it.
  document.addEventListener("rexian:conversation", function (ev) {
    var slot = document.getElementById("transfer-slot");
    if (!slot) { return; }
    slot.textContent = "";
    var c = ev.detail && ev.detail.conversation;
    if (!c || c.status !== "assigned" || !I.canAct(c)) { return; }
    var b = button("transfer-open", t("inbox.transfer.button"), function () { open(c); });
    slot.appendChild(b);
  });
})();
