// Agent inbox, actions and the keyboard: claim, close (with an outcome), new work order, the shortcut help.
// j/k or arrows move in the list, Enter/o open, r reply, p note, a claim, c close, n new order, s search,
// 1-4 views, ? help, Esc leaves the composer or a dialog. Shortcuts never fire while typing.
(function () {
  "use strict";
  var I = window.InboxApp;
  var closeDialog = document.getElementById("close-dialog");
  var helpDialog = document.getElementById("help-dialog");

  I.claim = function () {
    var c = I.current();
    if (!c || c.status !== "queued") { return; }
    I.state.taking = c.id;  // no "assigned to you" notice for what the agent takes themselves
    I.api("POST", "/api/conversations/" + c.id + "/claim").then(function () {
      return I.setView("mine");
    }).then(function () {
      return I.select(c.id);
    }).then(function () { I.focusItem(c.id); }).catch(function (e) { I.fail(e); I.refreshList(); });
  };

  I.openClose = function () {
    var d = I.state.detail;
    if (!d || !I.canAct(d.conversation)) { return; }
    document.getElementById("close-form").reset();
    document.getElementById("close-warning").hidden = !d.unanswered;
    document.getElementById("close-error").hidden = true;
    closeDialog.showModal();
    closeDialog.querySelector('input[name="outcome"]').focus();
  };
  document.getElementById("close-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var chosen = closeDialog.querySelector('input[name="outcome"]:checked');
    if (!chosen) {
      document.getElementById("close-error").hidden = false;
      closeDialog.querySelector('input[name="outcome"]').focus();
      return;
    }
    var id = I.state.selected;
    I.api("POST", "/api/conversations/" + id + "/close", { outcome: chosen.value }).then(function () {
      closeDialog.close();
      I.reloadDetail();
      I.scheduleRefresh();
      var first = document.querySelector(".convlist:not([hidden]) li[data-id]");
      if (first) { first.focus(); }
    }).catch(function (e) { closeDialog.close(); I.fail(e); });
  });
  document.getElementById("close-cancel").addEventListener("click", function () { closeDialog.close(); });
  closeDialog.addEventListener("close", function () {
    if (document.activeElement === document.body) { document.getElementById("close").focus(); }
  });

  I.newOrder = function () {
    var id = I.state.selected;
    if (!id) { return; }
    var url = "/orders/new?conversation=" + encodeURIComponent(id);
    var mid = I.chosenMessageId();
    if (mid) { url += "&message=" + encodeURIComponent(mid); }
    window.open(url, "_blank", "noopener");
  };
  I.openHelp = function () { helpDialog.showModal(); document.getElementById("help-close").focus(); };

  document.getElementById("claim").addEventListener("click", I.claim);
  document.getElementById("close").addEventListener("click", I.openClose);
  document.getElementById("new-order").addEventListener("click", I.newOrder);
  document.getElementById("help-open").addEventListener("click", I.openHelp);

  function typing(node) {
    if (!node) { return false; }
    var tag = node.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || node.isContentEditable;
  }
  var VIEW_KEYS = { "1": "mine", "2": "unassigned", "3": "all", "4": "closed" };

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    if (closeDialog.open || helpDialog.open) { return; }  // dialogs handle their own keys (Esc closes them)
    var target = ev.target;
    if (typing(target)) {
      if (ev.key === "Escape") {  // leave the composer or the search box, back to the list
        target.blur();
        var back = I.state.selected && document.querySelector('.convlist:not([hidden]) li[data-id="' + I.state.selected + '"]');
        if (back) { back.focus(); } else { I.moveFocus(0); }
      }
      return;
    }
    var inList = target && target.parentNode && target.parentNode.classList && target.parentNode.classList.contains("convlist");
    var key = ev.key;
    var action = null;
    if (key === "j" || key === "ArrowDown") { action = function () { I.moveFocus(1); }; }
    else if (key === "k" || key === "ArrowUp") { action = function () { I.moveFocus(-1); }; }
    else if ((key === "Enter" && inList) || key === "o") {
      action = function () {
        var id = I.focusedItemId();
        if (id) { I.select(id); }
      };
    }
    else if (key === "r") { action = function () { I.focusComposer("reply"); }; }
    else if (key === "p") { action = function () { I.focusComposer("note"); }; }
    else if (key === "a") { action = I.claim; }
    else if (key === "c") { action = I.openClose; }
    else if (key === "n") { action = I.newOrder; }
    else if (key === "s" || key === "/") { action = function () { document.getElementById("search").focus(); }; }
    else if (key === "?") { action = I.openHelp; }
    else if (VIEW_KEYS[key]) { action = function () { I.setView(VIEW_KEYS[key]).then(function () { I.moveFocus(0); }); }; }
    if (!action) { return; }
    if ((key === "ArrowDown" || key === "ArrowUp") && !inList && target !== document.body) { return; }  // let widgets scroll
    ev.preventDefault();
    action();
  });
})();
