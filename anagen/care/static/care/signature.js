/* A signature drawn on a tablet (consent signing). No inline script: loaded with the page's
   nonce. Draws with pointer events (finger, stylus, mouse) on #signature-pad and keeps the
   hidden field "signature" filled with the drawing as a PNG data URI; "Clear" empties both.
   Without this script the fieldset stays hidden and the typed name alone signs. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("signature-field");
    var canvas = document.getElementById("signature-pad");
    var field = document.querySelector('input[name="signature"]');
    var clear = document.getElementById("signature-clear");
    if (!box || !canvas || !field || !canvas.getContext) { return; }
    box.hidden = false;
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    function reset() {
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.strokeStyle = "#000000";
      ctx.lineWidth = 2.5;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
    }
    reset();
    if (field.value && field.value.indexOf("data:image/png;base64,") === 0) {
      var img = new Image();
      img.onload = function () { ctx.drawImage(img, 0, 0, canvas.width, canvas.height); drawn = true; };
      img.src = field.value;
    }
    function point(e) {
      var r = canvas.getBoundingClientRect();
      return {
        x: (e.clientX - r.left) * (canvas.width / r.width),
        y: (e.clientY - r.top) * (canvas.height / r.height)
      };
    }
    canvas.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      drawing = true;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(e.pointerId); }
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + 0.1, p.y + 0.1);
      ctx.stroke();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) { return; }
      e.preventDefault();
      var p = point(e);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    });
    function finish() {
      if (!drawing) { return; }
      drawing = false;
      drawn = true;
      field.value = canvas.toDataURL("image/png");
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("pointerleave", finish);
    if (clear) {
      clear.addEventListener("click", function () {
        reset();
        drawn = false;
        field.value = "";
      });
    }
    var form = canvas.closest("form");
    if (form) {
      form.addEventListener("submit", function () {
        if (!drawn) { field.value = ""; }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
