// The calendar page's Copy button: the feed URL to the clipboard (selected, as a fallback).
(function () {
  "use strict";
  var button = document.getElementById("copy-feed");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var field = document.getElementById(button.dataset.copy);
    field.select();
    var done = function () { document.getElementById("copy-done").hidden = false; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
}());
