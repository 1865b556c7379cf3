"""The service shop's partner API endpoints (see accounts/api for the machinery)."""
