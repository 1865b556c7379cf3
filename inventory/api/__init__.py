"""The lot's partner API endpoints (see accounts/api for the machinery)."""
