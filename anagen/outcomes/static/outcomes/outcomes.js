// Capture overlay (live preview under the previous visit's photo) and the comparison slider.
// Loaded as a static file with the page's CSP nonce; styles are set through the CSSOM only.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var input = document.querySelector("[data-capture-input]");
    var live = document.querySelector("[data-capture-live]");
    if (input && live) {
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        if (file) { live.src = URL.createObjectURL(file); live.hidden = false; }
      });
    }
    var ghost = document.querySelector("[data-ghost]");
    var opacity = document.querySelector("[data-ghost-opacity]");
    if (ghost && opacity) {
      opacity.addEventListener("input", function () { ghost.style.opacity = String(opacity.value / 100); });
    }
    var slider = document.querySelector("[data-compare-slider]");
    var top = document.querySelector("[data-compare-top]");
    if (slider && top) {
      var apply = function () { top.style.clipPath = "inset(0 " + (100 - slider.value) + "% 0 0)"; };
      slider.addEventListener("input", apply);
      apply();
    }
  });
})();
