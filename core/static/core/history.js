// A record's history panels (core/history.py): fetched from their own page once the record's
// page is shown, so that the page itself costs what it did before it had a history. Without
// this script, the placeholder's link opens the panels on their own page.
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("history");
  if (!holder || !holder.dataset.historyUrl) {
    return;
  }
  fetch(holder.dataset.historyUrl, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(`status ${response.status}`);
      }
      return response.text();
    })
    .then((html) => {
      holder.innerHTML = html;
    })
    .catch(() => {
      const note = holder.querySelector("[data-history-loading]");
      if (note) {
        note.firstChild.textContent = "The history could not be loaded. ";
      }
    })
    .finally(() => {
      holder.removeAttribute("aria-busy");
    });
});
