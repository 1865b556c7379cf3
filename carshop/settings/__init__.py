"""Carshop settings: DJANGO_SETTINGS_MODULE is `carshop.settings`; DJANGO_ENV picks the layer.

development (default) and test use base.py's defaults; staging and production load production.py,
which refuses insecure values.
"""

from .env import current_environment

_environment = current_environment()

if _environment in ("production", "staging"):
    from .production import *  # noqa: F403
elif _environment == "test":
    from .test import *  # noqa: F403
else:
    from .base import *  # noqa: F403
