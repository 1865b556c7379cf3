"""Configuration management: the running environment's settings checked (`validate_config`)."""
