// Lobby TV: pairs itself, then mirrors the lobby state the box sends.
// Every frame carries a sequence number; a gap means we missed something,
// so we reconnect and get a fresh snapshot.
(function () {
  "use strict";
  var KEY = "sos-tv-token";
  var $ = function (id) { return document.getElementById(id); };
  var state = { seq: 0, queue: [], practice: null };
  var messages = [], msgIndex = 0, delay = 1000, ws = null, welcomeTimer = null;
  var notice = ""; // why this TV is unpaired again (e.g. removed by the desk)
  // One-time pairing grant in the URL a Cast receiver loaded (see cast/).
  var grant = new URLSearchParams(location.search).get("grant");

  function show(which) {
    $("pairing").hidden = which !== "pairing";
    $("lobby").hidden = which !== "lobby";
    $("connecting").hidden = which !== "connecting" && which !== "lobby";
    if (which === "lobby") $("connecting").textContent = "";
  }

  function brand(p) {
    document.body.style.setProperty("--tv-bg", p.background_color || "#0f2233");
    document.body.style.setProperty("--tv-ink", p.text_color || "#fff");
    document.body.style.setProperty("--tv-accent", p.accent_color || "#f2a541");
    $("tv-name").textContent = p.name;
    document.title = p.name + " · Lobby";
    // The logo is the practice's own SVG from the box's replica.
    $("tv-logo").innerHTML = p.logo_svg || "";
    messages = p.messages || [];
    // A freshly paired or reloaded TV shows a message now, not 8 s later.
    if (!$("tv-message").textContent) rotate();
  }

  function render() {
    var list = $("queue");
    list.textContent = "";
    var waiting = state.queue.filter(function (e) { return e.status === "waiting" || e.status === "called"; });
    waiting.sort(function (a, b) { return a.arrived_at - b.arrived_at; });
    waiting.forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = e.name + (e.status === "called" && e.room ? " — " + e.room : "");
      if (e.status === "called") li.className = "called";
      list.appendChild(li);
    });
    $("queue-empty").hidden = waiting.length > 0;
    var called = state.queue.filter(function (e) { return e.status === "called"; });
    called.sort(function (a, b) { return (b.called_seq || 0) - (a.called_seq || 0); });
    if (called.length) {
      $("calling").hidden = false;
      $("calling-line").textContent = called[0].name + " — " + (called[0].room || "");
    } else {
      $("calling").hidden = true;
    }
  }

  function upsert(entry, seq) {
    var i = state.queue.findIndex(function (e) { return e.id === entry.id; });
    if (entry.status === "called") entry.called_seq = seq;
    if (i >= 0) state.queue[i] = entry; else state.queue.push(entry);
  }

  function welcome(text) {
    var w = $("welcome");
    w.textContent = text;
    w.hidden = false;
    clearTimeout(welcomeTimer);
    welcomeTimer = setTimeout(function () { w.hidden = true; }, 12000);
  }

  function onFrame(m) {
    if (m.type === "pairing") {
      state.seq = 0;
      show("pairing");
      $("pair-code").textContent = m.code;
      $("pair-qr").innerHTML = m.qr_svg || "";
      $("pair-note").textContent = "Or open " + m.url + " on a staff phone.";
      $("pair-notice").textContent = notice;
      $("pair-notice").hidden = !notice;
      return;
    }
    // The box serves HTTPS now: go there (with a grant, paired again).
    if (m.type === "moved") { if (/^https:\/\//.test(m.url)) location.replace(m.url); return; }
    if (m.type === "paired") { localStorage.setItem(KEY, m.token); grant = null; return; }
    if (m.type === "revoked") {
      localStorage.removeItem(KEY);
      notice = m.message || "This TV is not paired.";
      state.queue = [];
      render();
      show("connecting");
      $("connecting").textContent = m.message || "This TV is not paired.";
      return;
    }
    if (m.type === "welcome") return;
    if (typeof m.seq !== "number") return;
    if (m.type === "snapshot") {
      notice = "";
      state.seq = m.seq;
      state.queue = m.queue || [];
      state.queue.forEach(function (e) { if (e.status === "called") e.called_seq = 0; });
      brand(m.practice);
      show("lobby");
      render();
      return;
    }
    if (m.seq !== state.seq + 1) { ws.close(); return; } // gap: resync
    state.seq = m.seq;
    if (m.type === "arrived") { upsert(m.entry, m.seq); welcome(m.welcome); }
    else if (m.type === "called" || m.type === "updated") { upsert(m.entry, m.seq); }
    else if (m.type === "removed") { state.queue = state.queue.filter(function (e) { return e.id !== m.id; }); }
    else if (m.type === "speak") { speak(m.audio); return; }
    render();
    document.body.setAttribute("data-seq", String(state.seq));
  }

  // The box has no working speaker: this TV says the announcement instead.
  function speak(url) {
    try {
      var p = new Audio(url).play();
      if (p && p.catch) p.catch(function () { /* autoplay refused: the screen still shows it */ });
    } catch (e) { /* no audio on this screen */ }
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/tv/ws");
    ws.onopen = function () {
      delay = 1000;
      ws.send(JSON.stringify({ type: "hello", token: localStorage.getItem(KEY), grant: grant }));
    };
    ws.onmessage = function (ev) {
      try { onFrame(JSON.parse(ev.data)); } catch (e) { /* ignore a bad frame */ }
      document.body.setAttribute("data-seq", String(state.seq));
    };
    ws.onclose = function () {
      $("connecting").hidden = false;
      $("connecting").textContent = "Reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function tick() {
    var now = new Date();
    $("tv-clock").textContent = now.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }
  function rotate() {
    if (messages.length) { $("tv-message").textContent = messages[msgIndex % messages.length]; msgIndex++; }
  }
  show("connecting");
  tick(); setInterval(tick, 1000);
  setInterval(rotate, 8000);
  setTimeout(rotate, 500);
  connect();
})();
