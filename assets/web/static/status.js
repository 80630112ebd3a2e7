// The patient's live status: "You're checked in" -> "We're ready for you, Room 2".
(function () {
  "use strict";
  var root = document.getElementById("status");
  if (!root) return;
  var token = root.getAttribute("data-token");
  var title = document.getElementById("status-title");
  var message = document.getElementById("status-message");
  var conn = document.getElementById("status-conn");
  var delay = 1000;
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/status/" + encodeURIComponent(token) + "/ws");
    ws.onopen = function () { delay = 1000; conn.textContent = ""; };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type !== "status") return;
      var before = root.getAttribute("data-status");
      root.setAttribute("data-status", m.status);
      message.textContent = m.message;
      var first = root.getAttribute("data-first-name");
      if (m.status === "called") {
        title.textContent = first ? "It's your turn, " + first : "It's your turn";
        // Buzz once when the call comes, not again on every reconnect.
        if (before !== "called" && navigator.vibrate) { navigator.vibrate([200, 100, 200]); }
      } else {
        title.textContent = first ? "Thanks, " + first : "Thanks";
      }
    };
    ws.onclose = function () {
      conn.textContent = "Reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
