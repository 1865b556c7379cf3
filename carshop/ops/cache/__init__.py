"""The application cache: what is in it and its upkeep (`analyze_cache`, `optimize_cache`)."""
