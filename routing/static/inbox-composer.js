// Agent inbox, the composer: a reply to the citizen or a private note (staff only), Ctrl+Enter to send, and canned
// replies: "/" plus a few letters opens the filtered list, arrows choose, Enter inserts the expanded text.
(function () {
  "use strict";
  var I = window.InboxApp;
  var form = document.getElementById("reply-form");
  var input = document.getElementById("reply-input");
  var menu = document.getElementById("canned-menu");
  var sendButton = document.getElementById("reply-send");
  var replyPlaceholder = input.getAttribute("placeholder");
  var active = 0, matches = [], token = null;

  I.setMode = function (mode) {
    var c = I.current();
    if (mode === "reply" && !I.canAct(c)) { mode = "note"; }
    form.dataset.mode = mode;
    document.getElementById("mode-reply").setAttribute("aria-pressed", mode === "reply" ? "true" : "false");
    document.getElementById("mode-note").setAttribute("aria-pressed", mode === "note" ? "true" : "false");
    input.setAttribute("placeholder", mode === "note" ? I.t("inbox.note_placeholder") : replyPlaceholder);
    input.setAttribute("aria-label", I.t(mode === "note" ? "inbox.mode.note" : "inbox.mode.reply"));
    sendButton.textContent = mode === "note" ? I.t("inbox.note_save") : I.t("inbox.reply");
    form.classList.toggle("note-mode", mode === "note");
  };
  var lastKey = null;
  I.composerFor = function (c) {  // replies only in a conversation the agent may act in; notes anywhere
    var act = I.canAct(c);
    document.getElementById("mode-reply").disabled = !act;
    var key = c.id + "|" + act;
    if (key !== lastKey || !act) { I.setMode(act ? "reply" : "note"); }
    lastKey = key;
    form.hidden = false;
  };
  I.focusComposer = function (mode) {
    if (document.getElementById("detail").hidden) { return; }
    I.setMode(mode);
    input.focus();
  };
  I.insertText = function (text) {
    var start = input.selectionStart, end = input.selectionEnd;
    input.setRangeText(text, start, end, "end");
    input.focus();
  };

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    var id = I.state.selected;
    if (!text || !id) { return; }
    if (form.dataset.mode === "note") {
      I.api("POST", "/api/conversations/" + id + "/notes", { text: text }).then(function (n) {
        input.value = ""; I.appendNote(n);
      }).catch(I.fail);
      return;
    }
    I.api("POST", "/api/conversations/" + id + "/reply", { text: text }).then(function (m) {
      input.value = ""; I.appendMessage(m); I.scheduleRefresh();
    }).catch(I.fail);
  });
  document.getElementById("mode-reply").addEventListener("click", function () { I.focusComposer("reply"); });
  document.getElementById("mode-note").addEventListener("click", function () { I.focusComposer("note"); });

  // -- canned replies --
  I.loadCanned = function (conversationId) {
    I.api("GET", "/api/conversations/" + encodeURIComponent(conversationId) + "/canned").then(function (r) {
      if (I.state.selected === conversationId) { I.state.canned = r.items; }
    }).catch(function () { I.state.canned = []; });
  };
  function currentToken() {  // "/abc" right before the caret, at the start or after a space
    var before = input.value.slice(0, input.selectionStart);
    var m = /(^|\s)\/([^\s\/]*)$/.exec(before);
    return m ? { start: before.length - m[2].length - 1, query: m[2].toLowerCase() } : null;
  }
  function closeMenu() {
    menu.hidden = true; menu.textContent = ""; token = null; matches = [];
    input.removeAttribute("aria-activedescendant");
  }
  function renderMenu() {
    menu.textContent = "";
    if (!matches.length) { menu.appendChild(I.el("li", "empty", I.t("inbox.canned.none"))); }
    matches.forEach(function (r, i) {
      var li = I.el("li", i === active ? "active" : "");
      li.id = "canned-" + r.id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.dataset.shortcut = r.shortcut;
      li.appendChild(I.el("span", "shortcut", "/" + r.shortcut));
      li.appendChild(I.el("span", "title", r.title));
      li.appendChild(I.el("span", "preview", r.expanded));
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); active = i; choose(); });
      menu.appendChild(li);
    });
    menu.hidden = false;
    if (matches[active]) { input.setAttribute("aria-activedescendant", "canned-" + matches[active].id); }
  }
  function update() {
    token = currentToken();
    if (!token) { closeMenu(); return; }
    matches = (I.state.canned || []).filter(function (r) {
      return !token.query || r.shortcut.toLowerCase().indexOf(token.query) >= 0 || r.title.toLowerCase().indexOf(token.query) >= 0;
    });
    active = Math.min(active, Math.max(0, matches.length - 1));
    renderMenu();
  }
  function choose() {
    var r = matches[active];
    if (!r || !token) { closeMenu(); return; }
    input.setRangeText(r.expanded, token.start, input.selectionStart, "end");
    closeMenu();
    input.focus();
  }
  input.addEventListener("input", function () { active = 0; update(); });
  input.addEventListener("blur", function () { setTimeout(closeMenu, 150); });
  input.addEventListener("keydown", function (ev) {
    if (!menu.hidden && token) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        if (matches.length) { active = (active + (ev.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length; }
        renderMenu();
        return;
      }
      if ((ev.key === "Enter" || ev.key === "Tab") && !ev.ctrlKey && matches.length) { ev.preventDefault(); choose(); return; }
      if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); closeMenu(); return; }
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
