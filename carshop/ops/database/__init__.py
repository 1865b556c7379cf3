"""The database: connections and size (`check_db_connection`, `monitor_db_connections`),
indexes, slow queries and VACUUM."""
