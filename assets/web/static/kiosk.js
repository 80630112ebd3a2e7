// The lobby kiosk: one button opens the box's microphone for one utterance;
// the box answers on its speakers and here. No audio passes through the page.
(function () {
  "use strict";
  var talk = document.getElementById("talk");
  if (!talk) return;
  var state = document.getElementById("state");
  var answer = document.getElementById("answer");
  var heard = document.getElementById("heard");
  var say = document.getElementById("say");
  var choices = document.getElementById("choices");

  function show(reply) {
    answer.hidden = false;
    heard.textContent = reply.heard || "(nothing)";
    say.textContent = reply.say || "";
    choices.textContent = "";
    (reply.choices || []).forEach(function (c) {
      var li = document.createElement("li");
      li.textContent = c;
      choices.appendChild(li);
    });
    document.body.dataset.done = reply.done || "";
  }

  talk.addEventListener("click", function () {
    talk.disabled = true;
    state.textContent = "Listening… please speak now.";
    fetch("/kiosk/api/listen", { method: "POST" })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (res) {
        state.textContent = "";
        if (!res.ok) {
          state.textContent = res.body.error || "Something went wrong. Please see the front desk.";
          return;
        }
        show(res.body);
      })
      .catch(function () {
        state.textContent = "The box did not answer. Please see the front desk.";
      })
      .then(function () { talk.disabled = false; });
  });
})();
