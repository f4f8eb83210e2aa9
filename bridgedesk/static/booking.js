// Live availability check for the booking form: while the user fills it in, ask the server
// which chosen sites are already held at that time. The form works without this script;
// the server refuses a conflicting booking with the same list.
(function () {
  "use strict";
  var form = document.querySelector("form[data-conflicts-url]");
  var preview = document.getElementById("conflicts-preview");
  if (!form || !preview || !window.fetch) {
    return;
  }
  var timer = null;
  var latest = 0;

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
    preview.setAttribute("aria-busy", "true");
    fetch(form.dataset.conflictsUrl + "?" + query(), {
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

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  if (!preview.hasAttribute("data-skip-first-check")) {
    check();
  }
})();
