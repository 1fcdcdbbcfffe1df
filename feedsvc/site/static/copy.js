// Copy buttons for feed addresses. The clipboard API needs a secure context
// (https or localhost); elsewhere the address is selected so that the reader
// can press Ctrl+C. Loaded as a file because the pages forbid inline script.
(function () {
  "use strict";

  var RESET_AFTER_MS = 2000;
  var COPY_KEYS = /Mac|iPhone|iPad/.test(navigator.platform) ? "\u2318C" : "Ctrl+C";

  function fieldOf(button) {
    var row = button.closest(".feed-url");
    return row ? row.querySelector("input") : null;
  }

  function selectField(button) {
    var field = fieldOf(button);
    if (!field) {
      return false;
    }
    field.focus();
    field.select();
    return true;
  }

  function announce(button, message, copied) {
    if (!button.hasAttribute("data-label")) {
      button.setAttribute("data-label", button.textContent);
    }
    button.textContent = message;
    button.classList.toggle("copied", copied);
    window.clearTimeout(Number(button.getAttribute("data-timer")));
    var timer = window.setTimeout(function () {
      button.textContent = button.getAttribute("data-label");
      button.classList.remove("copied");
    }, RESET_AFTER_MS);
    button.setAttribute("data-timer", String(timer));
  }

  function copyBySelection(button) {
    var copied = false;
    if (selectField(button)) {
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
    }
    announce(button, copied ? "Copied" : "Press " + COPY_KEYS, copied);
  }

  function copy(event) {
    var button = event.currentTarget;
    var address = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(address).then(
        function () {
          selectField(button);
          announce(button, "Copied", true);
        },
        function () {
          copyBySelection(button);
        }
      );
    } else {
      copyBySelection(button);
    }
  }

  function selectAll(event) {
    event.currentTarget.select();
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.setAttribute("aria-live", "polite");
    button.addEventListener("click", copy);
  });
  // An address too long for its box shows its end, which tells the feeds
  // apart; the copy button still copies all of it.
  function showEnds() {
    document.querySelectorAll(".feed-url input").forEach(function (field) {
      if (document.activeElement !== field) {
        field.scrollLeft = field.scrollWidth;
      }
    });
  }

  document.querySelectorAll(".feed-url input").forEach(function (field) {
    field.addEventListener("focus", selectAll);
  });
  showEnds();
  window.addEventListener("resize", showEnds);
})();
