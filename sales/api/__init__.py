"""The car lot's sales endpoints of the partner API: leads posted by marketplaces."""
