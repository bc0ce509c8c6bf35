// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  // Prefill the time zone from the browser where the person has not chosen one.
  function prefillTimezone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) {
      if (!input.value) input.value = zone;
    });
    document.querySelectorAll(".prefill-timezone select").forEach(function (select) {
      if (Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) select.value = zone;
    });
  }

  // Value suggestions: tapping a chip adds or removes it from the comma-separated field.
  function valueChips() {
    document.querySelectorAll("[data-chips-for]").forEach(function (box) {
      var input = document.getElementById(box.getAttribute("data-chips-for"));
      if (!input) return;
      box.hidden = false;
      function current() {
        return input.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      }
      function sync() {
        var lower = current().map(function (v) { return v.toLowerCase(); });
        box.querySelectorAll(".chip").forEach(function (chip) {
          chip.setAttribute("aria-pressed", String(lower.indexOf(chip.dataset.value.toLowerCase()) >= 0));
        });
      }
      box.addEventListener("click", function (event) {
        var chip = event.target.closest(".chip");
        if (!chip) return;
        var values = current();
        var value = chip.dataset.value;
        var index = values.map(function (v) { return v.toLowerCase(); }).indexOf(value.toLowerCase());
        if (index >= 0) values.splice(index, 1);
        else if (values.length < 3) values.push(value);
        input.value = values.join(", ");
        sync();
      });
      input.addEventListener("input", sync);
      sync();
    });
  }

  // Gentle coaching while typing a note: the same rule as services/notes.coach_note.
  function noteCoach() {
    var coach = document.getElementById("coach");
    var body = document.querySelector(".note-body textarea");
    if (!coach || !body) return;
    var phrases = (coach.dataset.vague || "").split("|").filter(Boolean);
    var timer;
    function check() {
      var words = (body.value.match(/[\p{L}\p{N}_]+/gu) || []);
      var lowered = words.join(" ").toLowerCase();
      var vague = phrases.some(function (p) { return lowered.indexOf(p) >= 0; });
      coach.hidden = !(body.value.trim() && (words.length < 6 || (vague && words.length < 12)));
    }
    body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 600); });
    body.addEventListener("blur", check);
  }

  function start() {
    prefillTimezone();
    valueChips();
    noteCoach();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
