// Live checks for the booking form: while the user fills it in, ask the server which chosen
// sites are already held at that time or, for a repeating meeting, list every date of the
// series as free or taken. The form works without this script: every Recurrence field is then
// shown, and the server refuses a conflicting booking with the same list.
(function () {
  "use strict";
  var form = document.querySelector("form[data-conflicts-url]");
  var preview = document.getElementById("conflicts-preview");
  if (!form || !preview || !window.fetch) {
    return;
  }
  var repeat = form.querySelector("[data-repeat-choice]");
  // date.getDay() order (Sunday first), as RFC 5545 weekday codes.
  var WEEKDAY_CODES = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
  var timer = null;
  var latest = 0;

  function repeating() {
    return repeat !== null && repeat.value !== "";
  }

  // Show only the Recurrence fields that apply to the chosen frequency.
  function showRepeatFields() {
    var chosen = repeat ? repeat.value : "";
    form.querySelectorAll("[data-repeat-show]").forEach(function (part) {
      var wanted = part.getAttribute("data-repeat-show");
      part.hidden = chosen === "" || (wanted !== "any" && wanted !== chosen);
    });
  }

  // A weekly series needs the first meeting's weekday: tick it if no day is ticked yet.
  function tickFirstWeekday() {
    if (!repeat || repeat.value !== "weekly") {
      return;
    }
    var boxes = form.querySelectorAll("input[name=weekday]");
    var anyTicked = Array.prototype.some.call(boxes, function (box) {
      return box.checked;
    });
    var day = form.elements.namedItem("date");
    if (anyTicked || !day || !day.value) {
      return;
    }
    var code = WEEKDAY_CODES[new Date(day.value + "T12:00:00").getDay()];
    boxes.forEach(function (box) {
      box.checked = box.value === code;
    });
  }

  // A count is needed unless the series ends on a date: propose a few meetings.
  function proposeCount() {
    var count = form.elements.namedItem("count");
    if (repeating() && count && !count.value) {
      count.value = "4";
    }
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && typeof value === "string") {
        params.append(name, value);
      }
    });
    return params.toString();
  }

  function check() {
    var ticket = ++latest;
    var url = repeating() ? form.dataset.seriesPreviewUrl : form.dataset.conflictsUrl;
    preview.setAttribute("aria-busy", "true");
    fetch(url + "?" + query(), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        // A redirect means the session ended; the submit will send the user to sign in.
        if (!response.ok || response.redirected) {
          throw new Error("availability check failed: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (ticket === latest) {
          preview.innerHTML = html;
        }
      })
      .catch(function () {
        if (ticket === latest) {
          preview.textContent = "";
        }
      })
      .finally(function () {
        if (ticket === latest) {
          preview.removeAttribute("aria-busy");
        }
      });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  }

  function changed(event) {
    if (event.target === repeat || (event.target && event.target.name === "date")) {
      showRepeatFields();
      tickFirstWeekday();
      proposeCount();
    }
    soon();
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  showRepeatFields();
  if (!preview.hasAttribute("data-skip-first-check")) {
    check();
  }
})();
