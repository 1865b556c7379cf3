"""Test runs: fast password hashing, logs into a throw-away folder, no console noise."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
_MEDIA = tempfile.mkdtemp(prefix="carshop-test-media-")
STORAGES["default"] = {  # noqa: F405
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": _MEDIA},
}
# The private storage (receipts) follows MEDIA_ROOT, also when a test moves it.
MEDIA_ROOT = Path(_MEDIA)
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="carshop-test-static-"))
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
