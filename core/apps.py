from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares; no models of its own."""

    name = "core"
    verbose_name = "Core"
