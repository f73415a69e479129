/* openturk's externalHIT_v1.js: what MTurk's https://s3.amazonaws.com/mturk-public/externalHIT_v1.js
   did for an HTMLQuestion or ExternalQuestion page. Reads the parameters the task was loaded with,
   puts assignmentId into the form's "assignmentId" input, points the form "mturk_form" at
   turkSubmitTo + "/mturk/externalSubmit", and in preview disables the submit button. */
(function () {
  "use strict";

  function turkGetParam(name, defaultValue) {
    var params = new URLSearchParams(window.location.search);
    var value = params.get(name);
    return value === null ? defaultValue : value;
  }

  function turkSetAssignmentID() {
    var assignmentId = turkGetParam("assignmentId", "");
    var input = document.getElementById("assignmentId");
    if (input) {
      input.value = assignmentId;
    }
    var form = document.getElementById("mturk_form");
    var submitTo = turkGetParam("turkSubmitTo", "");
    if (form && submitTo) {
      form.action = submitTo.replace(/\/+$/, "") + "/mturk/externalSubmit";
      form.method = "POST";
    }
    if (assignmentId === "ASSIGNMENT_ID_NOT_AVAILABLE") {
      var label = "You must ACCEPT the HIT before you can submit the results.";
      var button = document.getElementById("submitButton");
      if (button) {
        button.disabled = true;
        if (button.tagName === "INPUT") {
          button.value = label;
        } else {
          button.textContent = label;
        }
      }
    }
  }

  window.turkGetParam = turkGetParam;
  window.turkSetAssignmentID = turkSetAssignmentID;
  // MTurk's templates call turkSetAssignmentID() themselves after the form; pages that do not get it
  // once the document is parsed (calling it twice changes nothing).
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", turkSetAssignmentID);
  } else {
    turkSetAssignmentID();
  }
})();
