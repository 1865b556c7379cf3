"""Data import and export (`export`, `import`) and the friendly table names operators type."""
