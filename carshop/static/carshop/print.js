// Print buttons of printable documents (<button data-print>): a script file, not an inline
// onclick, so the Content-Security-Policy can refuse every inline script.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
