// Front desk: Cast TVs the box found, "Show lobby display here", stop.
// Polls /desk/api/cast; every state comes with a plain-language message.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function post(path) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) throw new Error(b.error || b.message || "Something went wrong. Please try again.");
        return b;
      });
    });
  }

  function say(text) { $("cast-result").textContent = text; }

  function button(label, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label; if (cls) b.className = cls;
    b.addEventListener("click", function () { b.disabled = true; onClick(b); });
    return b;
  }

  function render(data) {
    var panel = $("cast-panel"), list = $("cast-devices");
    panel.hidden = false;
    if (!data.enabled) { $("cast-note").textContent = data.message || "Casting is off on this box."; list.textContent = ""; return; }
    $("cast-note").textContent = data.discovery
      ? (data.devices.length ? "" : "No Chromecast or Google TV found yet. Make sure the TV is on and on the clinic network.")
      : "TV discovery (mDNS) is off; remembered TVs are still kept on.";
    list.textContent = "";
    data.devices.forEach(function (d) {
      var li = document.createElement("li");
      li.setAttribute("data-cast-id", d.id);
      var name = document.createElement("strong");
      name.textContent = d.name + (d.model ? " (" + d.model + ")" : "");
      li.appendChild(name);
      var st = document.createElement("span");
      st.className = "cast-status muted";
      st.setAttribute("data-state", d.status ? d.status.state : "idle");
      st.textContent = d.status ? " — " + d.status.message : (d.online ? "" : " — not on the network");
      li.appendChild(st);
      if (d.chosen) {
        li.appendChild(button("Stop showing", "secondary", function () {
          post("/desk/api/cast/" + encodeURIComponent(d.id) + "/stop")
            .then(function () { say("Stopped showing the lobby display on " + d.name + "."); refresh(); })
            .catch(function (e) { say(e.message); refresh(); });
        }));
      } else if (d.online) {
        li.appendChild(button("Show lobby display here", "", function () {
          say("Starting the lobby display on " + d.name + "…");
          post("/desk/api/cast/" + encodeURIComponent(d.id) + "/show")
            .then(function () { say(""); refresh(); soon(); })
            .catch(function (e) { say(e.message); refresh(); });
        }));
      }
      list.appendChild(li);
    });
  }

  // Launching takes well under a second: look again shortly after a change.
  function soon() { [300, 700, 1200].forEach(function (ms) { setTimeout(refresh, ms); }); }

  function refresh() {
    return fetch("/desk/api/cast", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); })
      .catch(function () { /* the desk page shows connection problems already */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    setInterval(refresh, 2000);
  });
})();
