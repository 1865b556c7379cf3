// The export form's "Select all" box (admin/import_export/export.html): bound here because the
// Content-Security-Policy runs no inline onchange="..." handler. onSelectToggleChange comes from
// django-import-export's export_selectable_fields.js, loaded before this file.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".select-toggle").forEach((box) => {
    box.addEventListener("change", onSelectToggleChange);
  });
});
