// Progressive checks for QuestionForm pages (templates/questionform.html) that HTML attributes
// cannot express: selection counts, AnswerFormatRegex with its flags and errorText, file sizes.
// They only set the browser's custom validity, so the browser blocks the submit and says why;
// the server checks everything again (openturk/web/questionform/validate.py).
(function () {
  "use strict";

  function selectionControls(group) {
    if (group.tagName === "SELECT") {
      return [group];
    }
    return Array.prototype.slice.call(group.querySelectorAll("input[type=radio], input[type=checkbox]"));
  }

  function otherChoice(group) {
    var value = group.getAttribute("data-qf-other-value");
    if (value === null) {
      return null;
    }
    var controls = group.tagName === "SELECT" ? group.options : selectionControls(group);
    for (var i = 0; i < controls.length; i += 1) {
      if (controls[i].value === value) {
        return controls[i];
      }
    }
    return null;
  }

  function selectedCount(group) {
    if (group.tagName === "SELECT") {
      return Array.prototype.filter.call(group.options, function (option) {
        return option.selected && option.value !== "";
      }).length;
    }
    return selectionControls(group).filter(function (input) { return input.checked; }).length;
  }

  function hint(min, max) {
    if (min === max) {
      return "Choose exactly " + min + ".";
    }
    return min === 0 ? "Choose up to " + max + "." : "Choose from " + min + " to " + max + ".";
  }

  function checkSelection(group) {
    var min = Number(group.getAttribute("data-qf-min"));
    var max = Number(group.getAttribute("data-qf-max"));
    var required = group.getAttribute("data-qf-required") === "true";
    var count = selectedCount(group);
    var message = "";
    if (count === 0 && required) {
      message = "This question requires an answer.";
    } else if (count !== 0 && (count < min || count > max)) {
      message = hint(min, max);
    }
    var first = selectionControls(group)[0];
    if (first) {
      first.setCustomValidity(message);
    }
  }

  function checkRegexes(input) {
    var message = "";
    var rules = JSON.parse(input.getAttribute("data-qf-regexes"));
    // MTurk tested the regex on empty answers too; an empty required answer is the browser's to refuse.
    if (input.value !== "" || !input.required) {
      for (var i = 0; i < rules.length && message === ""; i += 1) {
        var expression = null;
        try {
          expression = new RegExp(rules[i].pattern, rules[i].flags);
        } catch (error) {
          expression = null; // a regex JavaScript cannot read: the server decides
        }
        if (expression !== null && !expression.test(input.value)) {
          message = rules[i].error || "Invalid input supplied.";
        }
      }
    }
    input.setCustomValidity(message);
  }

  function checkFile(input) {
    var min = Number(input.getAttribute("data-qf-min-bytes"));
    var max = Number(input.getAttribute("data-qf-max-bytes"));
    var message = "";
    if (input.files && input.files.length === 1) {
      var size = input.files[0].size;
      if (size < min) {
        message = "The file is " + size + " bytes; the question requires at least " + min + " bytes.";
      } else if (size > max) {
        message = "The file is " + size + " bytes; the question allows at most " + max + " bytes.";
      }
    }
    input.setCustomValidity(message);
  }

  function wireSelection(group) {
    var otherText = group.getAttribute("data-qf-other");
    var text = otherText ? document.getElementById(otherText) : null;
    var choice = otherChoice(group);
    if (text && choice) {
      // Typing an "Other" answer chooses Other, as the server reads it.
      text.addEventListener("input", function () {
        if (text.value.trim() !== "") {
          if (choice.tagName === "OPTION") {
            choice.selected = true;
          } else {
            choice.checked = true;
          }
          checkSelection(group);
        }
      });
    }
    group.addEventListener("change", function () { checkSelection(group); });
    checkSelection(group);
  }

  function wire(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-qf-selection]"), wireSelection);
    Array.prototype.forEach.call(form.querySelectorAll("[data-qf-regexes]"), function (input) {
      input.addEventListener("input", function () { checkRegexes(input); });
      checkRegexes(input);
    });
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file][data-qf-max-bytes]"), function (input) {
      input.addEventListener("change", function () { checkFile(input); });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form.qf"), wire);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
