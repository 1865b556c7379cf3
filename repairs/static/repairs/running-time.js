// The technician's screen: the time clocked on the current job keeps running on the page.
// <span data-running-seconds="N"> holds the seconds already run when the page was drawn. A file,
// not an inline script, so a Content-Security-Policy without 'unsafe-inline' allows it.
"use strict";

(function () {
  const shown = document.querySelectorAll("[data-running-seconds]");
  if (!shown.length) {
    return;
  }
  const loadedAt = Date.now();

  function label(seconds) {
    const minutes = Math.floor(seconds / 60);
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  function tick() {
    const elapsed = Math.floor((Date.now() - loadedAt) / 1000);
    shown.forEach(function (element) {
      element.textContent = label(Number(element.dataset.runningSeconds) + elapsed);
    });
  }

  tick();
  window.setInterval(tick, 15000);
})();
