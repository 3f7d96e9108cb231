// The aid office's pages: progressive enhancement only; every form works without it.
"use strict";
(function () {
  // A form marked data-confirm asks before it is sent (closing and reopening periods).
  // A form marked data-max-bytes refuses a file larger than the server takes, before
  // uploading it (the server refuses it all the same).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!(f instanceof HTMLFormElement)) return;
    var max = Number(f.getAttribute("data-max-bytes") || 0);
    if (max > 0) {
      var inputs = f.querySelectorAll("input[type=file]");
      for (var i = 0; i < inputs.length; i++) {
        var files = inputs[i].files || [];
        for (var j = 0; j < files.length; j++) {
          if (files[j].size > max) {
            e.preventDefault();
            e.stopImmediatePropagation();
            window.alert("文件 " + files[j].name + " 过大：每次上传不超过 " + Math.round(max / 1048576) + " MB。");
            return;
          }
        }
      }
    }
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
})();
