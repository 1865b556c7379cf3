"""Log management: reading Carshop's JSON-lines logs and their rotated copies (`analyze_logs`,
`error_report`, `monitor_performance`, `archive_logs`)."""
