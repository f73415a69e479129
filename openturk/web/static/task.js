/* The work page, progressively: a time-left countdown, the auto-accept box saved as it changes, and
   moving on once the task in the frame has submitted. The server stays the truth: an expired
   assignment is refused there whatever this page shows. */
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function countdown() {
    var clock = document.getElementById("time-left");
    if (!clock) {
      return;
    }
    var left = parseInt(clock.getAttribute("data-seconds-left"), 10) || 0;
    var end = Date.now() + left * 1000;
    var timer = null;
    function show() {
      var seconds = Math.max(0, Math.round((end - Date.now()) / 1000));
      clock.textContent = Math.floor(seconds / 3600) + ":" + pad(Math.floor(seconds % 3600 / 60)) + ":" + pad(seconds % 60);
      if (seconds === 0) {
        window.clearInterval(timer);
        var up = document.getElementById("time-up");
        if (up) {
          up.hidden = false;
        }
      }
    }
    timer = window.setInterval(show, 1000);
    show();
  }

  function autoAccept() {
    var form = document.getElementById("auto-accept-form");
    var box = document.getElementById("auto_accept");
    var save = document.getElementById("auto-accept-save");
    if (!form || !box || !window.fetch) {
      return;
    }
    if (save) {
      save.hidden = true;
    }
    box.addEventListener("change", function () {
      var data = new FormData(form);
      fetch(form.action, {method: "POST", body: data, credentials: "same-origin", headers: {"Accept": "application/json"}})
        .catch(function () {
          if (save) {
            save.hidden = false;
          }
        });
    });
  }

  function afterSubmit() {
    var frame = document.getElementById("task-frame");
    var next = document.getElementById("after-submit");
    if (!frame || !next || !window.fetch) {
      return;
    }
    var state = next.getAttribute("action").replace(/\/continue$/, "/state");
    // Any load of the frame may be the task's "submitted" page: ask the server, then move on. Every
    // load asks (the task's own first load may have happened before this script ran, so loads are
    // not counted); while the assignment is still Accepted nothing happens.
    frame.addEventListener("load", function () {
      fetch(state, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.Status !== "Accepted") {
            next.submit();
          }
        })
        .catch(function () { /* the Continue button still works */ });
    });
  }

  countdown();
  autoAccept();
  afterSubmit();
})();
