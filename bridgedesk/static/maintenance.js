// The maintenance form's live check: as times change, ask the server what the window would
// mean (short notice, conferences inside) and show it under the form before saving.
(function () {
  "use strict";
  var form = document.getElementById("schedule-window");
  if (!form) { return; }
  var target = document.getElementById("window-preview");
  var pending = null;
  function check() {
    var start = form.elements.start.value, end = form.elements.end.value;
    if (!start || !end) { return; }
    var query = new URLSearchParams({component: form.elements.component.value, start: start, end: end});
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(form.dataset.preview + "?" + query.toString(), {credentials: "same-origin", signal: pending.signal})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) { target.innerHTML = html; } })
      .catch(function () { /* a newer check replaced this one */ });
  }
  ["component", "start", "end"].forEach(function (name) {
    form.elements[name].addEventListener("change", check);
  });
  // Irreversible actions ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (other) {
    other.addEventListener("submit", function (event) {
      if (!window.confirm(other.dataset.confirm)) { event.preventDefault(); }
    });
  });
}());
