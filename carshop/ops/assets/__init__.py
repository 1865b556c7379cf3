"""Static files: collected, compressed and measured (`optimize_assets`)."""
