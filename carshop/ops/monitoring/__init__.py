"""Performance monitoring: CPU, memory, disks and database size (`monitor_resources`), and
profiling a page or a command (`profile`)."""
