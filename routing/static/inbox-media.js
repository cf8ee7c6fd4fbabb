// Agent inbox, media and calls: e-mail attachments, Telegram photos, audio players, call records, the ringing banner.
(function () {
  "use strict";
  var I = window.InboxApp;
  var el = I.el, labels = I.labels;

  function photoView(m, a, i) {  // a citizen's Telegram photo: the picture once downloaded, else its state
    if (a.download === "ready") {
      var url = "/api/telegram/photos/" + encodeURIComponent(m.id) + "/" + i;
      var link = el("a", "photo"); link.href = url; link.target = "_blank"; link.rel = "noopener";
      var img = el("img"); img.src = url; img.alt = labels["telegram.photo"] || ""; img.loading = "lazy";
      link.appendChild(img);
      return link;
    }
    return el("span", "photo-state", labels["telegram.photo." + (a.download === "failed" ? "failed" : "pending")] || "");
  }
  function chatPhotoView(m, a, i) {  // a citizen's web-chat photo (stored before it was acknowledged)
    var url = "/api/web_chat/photos/" + encodeURIComponent(m.id) + "/" + i;
    var link = el("a", "photo"); link.href = url; link.target = "_blank"; link.rel = "noopener";
    if (/^image\/(jpeg|png|webp)$/.test(a.content_type || "")) {
      var img = el("img"); img.src = url; img.alt = a.name || labels["telegram.photo"] || ""; img.loading = "lazy";
      link.appendChild(img);
    } else {
      link.textContent = (labels["telegram.photo"] || "") + " " + (a.name || "");  // HEIC: a download
    }
    return link;
  }
  function duration(s) {
    if (s === null || s === undefined) { return "-"; }
    return I.duration(Math.round(Number(s)));
  }
  function audioPlayer(kind, seconds, url) {
    var fig = el("figure", "audio");
    fig.appendChild(el("figcaption", "", (labels["voice.audio." + kind] || kind || "") + (seconds ? " " + duration(seconds) : "")));
    var audio = el("audio"); audio.controls = true; audio.preload = "none"; audio.src = url;
    fig.appendChild(audio);
    return fig;
  }
  I.attachments = function (m, bubble) {
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
      if (a.kind === "photo" && a.source === "web_chat" && a.sha256) { bubble.appendChild(chatPhotoView(m, a, i)); }
    });
  };

  I.renderCalls = function (calls) {
    var list = document.getElementById("calls"); list.textContent = "";
    if (!calls.length) { list.appendChild(el("li", "empty", labels["voice.no_calls"])); }
    calls.forEach(function (c) {
      var li = el("li", "call");
      li.dataset.callId = c.id;
      li.appendChild(el("div", "", I.when(c.arrived_at) + " " + (c.caller || "") + " · " + (labels["voice.outcome." + c.outcome] || "")));
      li.appendChild(el("div", "meta", (c.ivr_path || []).map(function (p) { return p.node; }).join(" → ")));
      li.appendChild(el("div", "meta", labels["voice.wait"] + " " + duration(c.wait_s) + " · " + labels["voice.talk"] + " " +
        duration(c.talk_s) + (c.agent_name ? " · " + labels["voice.agent"] + " " + c.agent_name : "")));
      (c.recordings || []).forEach(function (r) { li.appendChild(audioPlayer(r.label, null, r.url)); });
      list.appendChild(li);
    });
  };

  var ringingConv = null;
  I.ring = function (data) {
    var c = data.conversation;
    ringingConv = c.id;
    var banner = document.getElementById("ringing");
    banner.textContent = (labels["voice.ringing"] || "{caller}").replace("{caller}", data.caller || labels["voice.unknown_caller"]);
    banner.dataset.conversation = c.id;
    banner.hidden = false;
    I.select(c.id);
  };
  I.callFinished = function (data) {
    if (ringingConv === data.conversation_id) {
      ringingConv = null;
      document.getElementById("ringing").hidden = true;
    }
    if (I.state.selected === data.conversation_id) { I.reloadDetail(); }
  };
})();
