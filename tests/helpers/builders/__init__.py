"""Builders of domain data, through the real services: the service shop (repairs), parts and
vehicles (inventory), and the used-car lot and its deals (lot)."""
