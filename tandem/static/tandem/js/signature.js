// An optional drawn signature: strokes on a canvas become SVG path data in a
// hidden field ("M x y L x y ..."), which the server checks and keeps.
(function () {
  "use strict";
  function start() {
    var canvas = document.getElementById("signature-pad");
    if (!canvas) { return; }
    var target = document.getElementById(canvas.getAttribute("data-target"));
    var clear = document.getElementById("signature-clear");
    var ctx = canvas.getContext("2d");
    var path = [];
    var drawing = false;
    ctx.lineWidth = 2;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#1b2a41";

    function point(event) {
      var box = canvas.getBoundingClientRect();
      var x = (event.clientX - box.left) * (canvas.width / box.width);
      var y = (event.clientY - box.top) * (canvas.height / box.height);
      return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
    }
    function save() {
      var text = path.join(" ");
      target.value = text.length <= 20000 ? text : "";
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      path.push("M " + p[0] + " " + p[1]);
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      path.push("L " + p[0] + " " + p[1]);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    });
    function end() { if (drawing) { drawing = false; save(); } }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    clear.addEventListener("click", function () {
      path = [];
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      save();
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
