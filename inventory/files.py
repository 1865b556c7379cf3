"""Private uploads: cost receipts of stock units are never served to whoever knows their address.

They are kept in the "private" storage (STORAGES["private"]: the media folder, or with
MEDIA_STORAGE=S3 the bucket) under a random folder per file, so their names cannot be guessed,
and their URLs point at a view that checks the person's permission (inventory.views.private_file).
That view hands a file of the media folder to nginx with X-Accel-Redirect when
PRIVATE_MEDIA_X_ACCEL_REDIRECT names nginx's internal location (production), or sends it itself
(development, tests, and always from a bucket). Public uploads (stock unit photos) stay in
the default storage, served from MEDIA_URL.
"""

import posixpath
import secrets

from django.core.files.storage import FileSystemStorage, storages
from django.urls import reverse
from storages.backends.s3 import S3Storage


class PrivateNames:
    """Files whose URL is the permission-checking view, and whose folder holds a random part."""

    def generate_filename(self, filename):
        # stock/receipts/2026/12/receipt.pdf -> stock/receipts/2026/12/<random>/receipt.pdf:
        # the original name is kept for the person who downloads it, the folder is unguessable.
        folder, name = posixpath.split(filename)
        return super().generate_filename(posixpath.join(folder, secrets.token_urlsafe(16), name))

    def url(self, name):
        if not name:
            raise ValueError("This file is not accessible via a URL.")
        return reverse("inventory:private-file", kwargs={"name": name})


class PrivateFileSystemStorage(PrivateNames, FileSystemStorage):
    """Private files in MEDIA_ROOT (one host, or a shared file system)."""


class PrivateS3Storage(PrivateNames, S3Storage):
    """Private files in an S3-compatible bucket (MEDIA_STORAGE=S3): never a signed URL, always
    the view, which reads the object from the bucket after the permission check."""


def private_storage():
    """The storage of private uploads (a callable, so migrations do not freeze the settings)."""
    return storages["private"]
