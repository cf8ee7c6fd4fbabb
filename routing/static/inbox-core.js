// Agent inbox, shared core: state, strings, times, the JSON API and a tiny event hub for the other inbox scripts.
(function () {
  "use strict";
  var body = document.body;
  var I = window.InboxApp = {};
  I.me = Number(body.dataset.userId);
  I.manager = body.dataset.manager === "true";
  I.csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  I.labels = JSON.parse(document.getElementById("labels").textContent);
  I.choices = JSON.parse(document.getElementById("choices").textContent);
  I.state = { view: null, selected: null, detail: null, items: {}, offset: 0, canned: [], labelMessageId: null };
  I.clockOffset = 0;  // server time minus browser time (ms): waiting times tick from the server's clock

  function pairs(list) { var m = {}; (list || []).forEach(function (p) { m[p[0]] = p[1]; }); return m; }
  var typeNames = pairs(I.choices.types), industryNames = pairs(I.choices.industries);
  I.typeName = function (code) { return code ? typeNames[code] || "" : ""; };
  I.industryName = function (code) { return code ? industryNames[code] || "" : ""; };

  // A UI string with {placeholders} filled; never shows a raw key.
  I.t = function (key, params) {
    var text = I.labels[key] || "";
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  };
  I.label = function (kind, code) { return code ? I.labels[kind + "." + code] || "" : ""; };

  I.el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  };

  // Times are shown in the city's zone (the server's --timezone), whatever the browser's own zone is.
  var cityTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: body.dataset.timezone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  function parts(d) {
    var p = {};
    cityTime.formatToParts(d).forEach(function (part) { p[part.type] = part.value; });
    return p;
  }
  I.when = function (iso) {  // "2026-12-08 07:30" in the city's zone
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) { return ""; }
    var p = parts(d);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  };
  I.shortWhen = function (iso) {  // today: "07:30"; other days: "12-07 18:30" (city zone)
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) { return ""; }
    var p = parts(d), today = parts(new Date(I.now()));
    var sameDay = p.year === today.year && p.month === today.month && p.day === today.day;
    return sameDay ? p.hour + ":" + p.minute : p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  };
  I.instant = function (iso) { return iso ? Date.parse(iso) : 0; };
  I.now = function () { return Date.now() + I.clockOffset; };
  I.duration = function (seconds) {  // 65 -> "1:05", 3725 -> "1:02:05"
    var n = Math.max(0, Math.floor(Number(seconds) || 0));
    var h = Math.floor(n / 3600), m = Math.floor((n % 3600) / 60), s = n % 60;
    var ss = ("0" + s).slice(-2);
    return h ? h + ":" + ("0" + m).slice(-2) + ":" + ss : m + ":" + ss;
  };

  I.api = function (method, path, payload) {
    var opts = { method: method, headers: { "X-CSRF-Token": I.csrf }, credentials: "same-origin" };
    if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
    return fetch(path, opts).then(function (r) {
      if (r.status === 204) { return null; }
      return r.json().then(function (data) { if (!r.ok) { throw data; } return data; });
    });
  };
  I.fail = function (e) { window.alert((e && (e.message || e.error)) || String(e)); };

  var handlers = {};
  I.on = function (name, fn) { (handlers[name] = handlers[name] || []).push(fn); };
  I.emit = function (name, data) { (handlers[name] || []).forEach(function (fn) { fn(data); }); };

  // The selected conversation: what the agent may do with it.
  I.isMine = function (c) { return !!c && c.status === "assigned" && c.assignee_id === I.me; };
  I.canAct = function (c) { return I.isMine(c) || (!!c && c.status === "assigned" && I.manager); };
  I.current = function () { return I.state.detail ? I.state.detail.conversation : null; };
})();
