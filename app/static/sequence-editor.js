// The sequence editor, enhanced: show only the inputs the chosen option uses, and say a wait's
// duration in words as it is typed. Without this script every input shows and the server says it.
(function () {
  "use strict";
  function controlValue(control) {
    if (control.type === "checkbox") return control.checked ? "on" : "";
    return control.value;
  }
  document.querySelectorAll("[data-show-for]").forEach(function (block) {
    var control = document.getElementById(block.getAttribute("data-show-for"));
    if (!control) return;
    var values = block.getAttribute("data-show-values").split(" ");
    function sync() { block.hidden = values.indexOf(controlValue(control)) === -1; }
    control.addEventListener("change", sync);
    sync();
  });

  var UNITS = [["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  var ISO = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
  var WORD = /(\d+)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b/g;
  var SIZE = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  function seconds(text) {
    var iso = ISO.exec(text.trim().toUpperCase());
    if (iso && text.trim().length > 2) {
      return [604800, 86400, 3600, 60, 1].reduce(function (sum, size, i) { return sum + size * (+iso[i + 1] || 0); }, 0);
    }
    var lower = text.trim().toLowerCase(), total = 0, match;
    if (lower.replace(WORD, "").replace(/,|and/g, "").trim()) return 0;
    while ((match = WORD.exec(lower))) total += +match[1] * SIZE[match[2][0]];
    return total;
  }
  function words(total) {
    return UNITS.map(function (unit) {
      var amount = Math.floor(total / unit[1]);
      total -= amount * unit[1];
      return amount ? amount + " " + unit[0] + (amount === 1 ? "" : "s") : "";
    }).filter(Boolean).join(" ");
  }
  document.querySelectorAll("[data-duration]").forEach(function (input) {
    var hint = document.getElementById(input.id + "-hint");
    if (!hint) return;
    input.addEventListener("input", function () {
      var total = seconds(input.value);
      hint.textContent = total ? "That is " + words(total) + "." : "Not a duration yet.";
    });
  });
})();
