"""Carshop: the back office of a car business that repairs cars and sells used ones."""

__version__ = "0.1.0"
