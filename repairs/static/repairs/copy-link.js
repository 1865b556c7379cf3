// Copy buttons: <button type="button" data-copy="ID"> copies the value of the field with that id
// (the customer approval link on a repair order). A file, not an inline script, so a
// Content-Security-Policy without 'unsafe-inline' allows it.
"use strict";

document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const field = document.getElementById(button.dataset.copy);
  if (!field) {
    return;
  }
  event.preventDefault();

  function copied() {
    button.textContent = "Copied";
  }

  // Without the clipboard API (a page served over plain http from another machine), the
  // selected field and the browser's copy command still work; failing that, the link is left
  // selected for Ctrl+C.
  function fallback() {
    field.focus();
    field.select();
    let done = false;
    try {
      done = document.execCommand("copy");
    } catch (error) {
      done = false;
    }
    button.textContent = done ? "Copied" : "Press Ctrl+C to copy";
  }

  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(copied, fallback);
  } else {
    fallback();
  }
});
