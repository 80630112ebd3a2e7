// Front desk: today's schedule and the live queue. The page asks the box for
// the whole picture (/desk/api/today) on load and whenever the box says
// something changed; every change is a POST with the session's CSRF token.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function api(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ("The box answered " + r.status));
        return j;
      });
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showError(msg) {
    var e = $("desk-error");
    if (!e) { alert(msg); return; }
    e.textContent = msg; e.hidden = !msg;
  }

  // ---- pairing (desk page and the phone-sized /desk/pair page)
  var pairForm = $("pair-form");
  if (pairForm) {
    pairForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = $("pair-code-input").value, name = $("pair-name-input").value;
      $("pair-result").textContent = "Pairing…";
      api("/desk/api/displays/pair", { code: code, name: name }).then(function (j) {
        $("pair-result").textContent = "Paired: " + j.name + ". The TV is switching to the lobby screen.";
        $("pair-code-input").value = "";
        if (desk) refresh();
      }).catch(function (e) { $("pair-result").textContent = e.message; });
    });
  }

  var desk = $("desk");
  if (!desk) return;
  var rooms = JSON.parse(desk.getAttribute("data-rooms") || "[]");

  function action(id, verb, body) {
    showError("");
    return api("/desk/api/checkins/" + encodeURIComponent(id) + "/" + verb, body).then(refresh)
      .catch(function (e) { showError(e.message); });
  }

  function renderQueue(queue) {
    var tb = $("queue-body");
    tb.textContent = "";
    var active = queue.filter(function (q) { return q.status === "waiting" || q.status === "called"; });
    var done = queue.filter(function (q) { return !(q.status === "waiting" || q.status === "called"); });
    active.concat(done).forEach(function (q) {
      var tr = el("tr", { "data-checkin": q.checkin_id, "class": q.status });
      var who = el("td");
      who.appendChild(el("div", { "class": "who" }, q.name + (q.walk_in ? " (walk-in)" : "")));
      var b = q.brief, parts = [];
      if (b.appointment) parts.push(b.appointment);
      if (b.provider) parts.push("with " + b.provider);
      if (b.booked_for) parts.push("booked " + b.booked_for);
      var brief = el("div", { "class": "brief" }, parts.join(" · "));
      who.appendChild(brief);
      if (b.notes) who.appendChild(el("div", { "class": "brief notes" }, "Note: " + b.notes));
      tr.appendChild(who);
      var how = { qr: "phone", voice: "voice", desk: "desk" }[q.method] || q.method;
      tr.appendChild(el("td", {}, q.arrived + " (" + how + ")"));
      tr.appendChild(el("td", {}, q.wait_minutes + " min"));
      var st = el("td");
      st.appendChild(el("span", { "class": "badge " + q.status }, q.status.replace("_", "-") + (q.room ? " · " + q.room : "")));
      tr.appendChild(st);
      var act = el("td"), box = el("div", { "class": "actions" });
      if (q.status === "waiting" || q.status === "called") {
        var sel = el("select", { "aria-label": "Room for " + q.name });
        rooms.forEach(function (r) { var o = el("option", { value: r }, r); if (q.room === r) o.selected = true; sel.appendChild(o); });
        var call = el("button", { type: "button", "class": "call" }, q.status === "called" ? "Call again" : "Call");
        call.addEventListener("click", function () { action(q.checkin_id, "call", { room: sel.value }); });
        var seen = el("button", { type: "button", "class": "seen" }, "Seen");
        seen.addEventListener("click", function () { action(q.checkin_id, "seen"); });
        var ns = el("button", { type: "button", "class": "no-show" }, "No-show");
        ns.addEventListener("click", function () { action(q.checkin_id, "no-show"); });
        box.appendChild(sel); box.appendChild(call); box.appendChild(seen); box.appendChild(ns);
      } else {
        var back = el("button", { type: "button" }, "Back to waiting");
        back.addEventListener("click", function () { action(q.checkin_id, "waiting"); });
        box.appendChild(back);
      }
      act.appendChild(box); tr.appendChild(act);
      tb.appendChild(tr);
    });
    $("queue-empty").hidden = queue.length > 0;
  }

  function renderSchedule(rows) {
    var tb = $("schedule-body");
    tb.textContent = "";
    rows.forEach(function (s) {
      var tr = el("tr", { "data-appointment": s.appointment_id });
      tr.appendChild(el("td", {}, s.time));
      tr.appendChild(el("td", {}, s.name));
      tr.appendChild(el("td", {}, s.provider));
      tr.appendChild(el("td", {}, s.kind));
      var td = el("td");
      if (s.checkin_status) {
        td.appendChild(el("span", { "class": "badge " + s.checkin_status }, s.checkin_status.replace("_", "-")));
      } else {
        var btn = el("button", { type: "button", "class": "checkin" }, "Check in");
        btn.addEventListener("click", function () {
          showError("");
          api("/desk/api/checkins", { appointment_id: s.appointment_id }).then(refresh)
            .catch(function (e) { showError(e.message); });
        });
        td.appendChild(btn);
      }
      tr.appendChild(td);
      tb.appendChild(tr);
    });
  }

  function ago(ms) {
    if (!ms) return "never";
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return new Date(ms).toLocaleString();
  }

  function renderDisplays(list) {
    var ul = $("displays");
    ul.textContent = "";
    list.filter(function (d) { return !d.revoked_at; }).forEach(function (d) {
      var li = el("li", { "data-display": d.display_id });
      li.appendChild(el("span", { "class": "dot" + (d.online ? " on" : ""), "aria-hidden": "true" }));
      li.appendChild(document.createTextNode(d.name + " — " + (d.online ? "online" : "offline") + ", last seen " + ago(d.last_seen_ms) + " "));
      var rm = el("button", { type: "button", "class": "revoke" }, "Remove");
      rm.addEventListener("click", function () {
        if (!confirm("Remove " + d.name + "? It will stop showing the lobby.")) return;
        api("/desk/api/displays/" + encodeURIComponent(d.display_id) + "/revoke").then(function () {
          $("pair-result").textContent = "Removed: " + d.name + ". It now shows a pairing code.";
          return refresh();
        })
          .catch(function (e) { showError(e.message); });
      });
      li.appendChild(rm);
      ul.appendChild(li);
    });
    if (!ul.children.length) ul.appendChild(el("li", { "class": "muted" }, "No TVs paired yet."));
  }

  // ---- voice: the lobby speaker's state, mute, and talking to the box
  var muted = false;
  function renderVoice(v, l) {
    if (!$("voice-state")) return;
    var parts = [];
    if (!v || v.state === "off") parts.push("Lobby voice off" + (v && v.reason ? " (" + v.reason + ")" : ""));
    else if (!v.device_ok) parts.push("No speaker working" + (v.reason ? " (" + v.reason + ")" : "") + (v.sent_to_fallback ? "; the TV speaks instead" : ""));
    else parts.push("Lobby voice on");
    if (v && v.muted) parts.push("muted");
    if (!l || l.state === "off") parts.push("voice commands off" + (l && l.reason ? " (" + l.reason + ")" : ""));
    $("voice-state").textContent = parts.join(" · ");
    muted = !!(v && v.muted);
    var mb = $("mute-btn");
    mb.textContent = muted ? "Unmute voice" : "Mute voice";
    mb.setAttribute("aria-pressed", muted ? "true" : "false");
    mb.disabled = !v || v.state === "off";
    $("talk-btn").disabled = !l || l.state === "off";
  }
  if ($("mute-btn")) $("mute-btn").addEventListener("click", function () {
    api("/desk/api/voice/mute", { muted: !muted })
      .then(function (r) { renderVoice(r.voice, { state: $("talk-btn").disabled ? "off" : "ready" }); })
      .catch(function (e) { showError(e.message); });
  });
  if ($("talk-btn")) $("talk-btn").addEventListener("click", function () {
    var b = $("talk-btn");
    b.disabled = true; b.textContent = "Listening…";
    api("/desk/api/voice/listen", {}).then(function (r) {
      $("voice-reply").hidden = false;
      $("voice-heard").textContent = r.heard || "(nothing)";
      $("voice-say").textContent = r.say + (r.choices && r.choices.length ? " (" + r.choices.join(" / ") + ")" : "");
      refresh();
    }).catch(function (e) { showError(e.message); })
      .then(function () { b.disabled = false; b.textContent = "Talk"; });
  });

  function refresh() {
    return fetch("/desk/api/today", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { location.href = "/desk/login"; return null; }
      return r.json();
    }).then(function (d) {
      if (!d) return;
      renderQueue(d.queue);
      renderSchedule(d.schedule);
      renderDisplays(d.displays);
      var s = d.sync;
      renderVoice(d.voice, d.listen);
      var notice = $("billing-notice");
      if (notice) { notice.textContent = d.billing_notice || ""; notice.hidden = !d.billing_notice; }
      renderHttps(d.https);
      $("sync-state").textContent = (s.enrolled ? (s.revoked ? "Cloud: this box was removed; it needs a new enrollment. " : (s.online ? "Cloud: online. " : "Cloud: offline, working locally. ")) : "Cloud: not connected. ") + s.events_waiting + " event(s) waiting to go to the cloud.";
    }).catch(function () { $("live").textContent = "cannot reach the box"; });
  }

  // How phones reach the box: the desk says when it is not over HTTPS,
  // and why, in a notice; while it is, one quiet line.
  function renderHttps(h) {
    var notice = $("https-notice");
    if (!h || !notice) return;
    var problem = h.on ? h.renewal : "Not secure: " + (h.reason || "phones reach the box over plain HTTP");
    notice.textContent = problem || "";
    notice.hidden = !problem;
    $("https-state").textContent = h.on
      ? "Phones reach this box securely (HTTPS) as " + h.name + (h.expires ? "; certificate valid until " + h.expires.slice(0, 10) + "." : ".")
      : "";
  }

  var walkin = $("walkin-form");
  if (walkin) {
    walkin.addEventListener("submit", function (ev) {
      ev.preventDefault();
      showError("");
      api("/desk/api/checkins", {
        first_name: $("w-first").value, last_name: $("w-last").value, date_of_birth: $("w-dob").value
      }).then(function () { walkin.reset(); refresh(); }).catch(function (e) { showError(e.message); });
    });
  }

  var delay = 1000;
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/desk/ws");
    ws.onopen = function () { delay = 1000; $("live").textContent = "live"; refresh(); };
    ws.onmessage = function (ev) {
      var m; try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "ping") return;
      refresh();
    };
    ws.onclose = function () {
      $("live").textContent = "reconnecting…";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 15000);
    };
  }
  refresh();
  connect();
  setInterval(refresh, 30000); // wait times and TV last-seen move on their own
})();
