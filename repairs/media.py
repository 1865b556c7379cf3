"""Photos and short videos of an inspection, checked and made ready for storage.

A photo from a phone is opened with Pillow (so only a real image is accepted, whatever its name
or the type the browser claims), turned upright as its EXIF orientation says, shrunk to
INSPECTION_PHOTO_MAX_EDGE on its longest edge and saved again as a JPEG without any EXIF (a
phone's photo carries the place it was taken). A video is accepted as it is, when its first
bytes are those of an MP4, QuickTime or WebM file and it weighs at most INSPECTION_VIDEO_MAX_MB.
"""

from __future__ import annotations

import io
import posixpath
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from repairs.choices import MediaKind
from repairs.exceptions import RepairError

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

VIDEO_TYPES = {"video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov"}
# What the phone's camera gives: every image Pillow reads; these are named in the message.
PHOTO_FORMATS_NAMED = "JPEG, PNG, HEIC saved as JPEG, or WebP"
JPEG_QUALITY = 85


@dataclass
class PreparedMedia:
    kind: str
    content: ContentFile
    content_type: str
    width: int | None = None
    height: int | None = None


def _megabytes(limit_mb: int) -> int:
    return limit_mb * 1024 * 1024


def _is_video(head: bytes, content_type: str) -> bool:
    if content_type in ("video/mp4", "video/quicktime"):
        # ISO base media (MP4, QuickTime): a box whose type is ftyp (or an older QuickTime's).
        return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
    if content_type == "video/webm":
        return head[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    return False


def prepare(upload: UploadedFile) -> PreparedMedia:
    """The photo resized or the video as it came, or RepairError with what is wrong."""
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    size = upload.size or 0
    if size == 0:
        raise RepairError("The file is empty.")
    if content_type in VIDEO_TYPES:
        limit = settings.INSPECTION_VIDEO_MAX_MB
        if size > _megabytes(limit):
            raise RepairError(f"A video may be at most {limit} MB; this one is {size // 2**20} MB.")
        upload.seek(0)
        head = upload.read(16)
        if not _is_video(head, content_type):
            raise RepairError("This file is not the video its type says (MP4, WebM, QuickTime).")
        upload.seek(0)
        stem = posixpath.splitext(posixpath.basename(upload.name or "video"))[0] or "video"
        content = ContentFile(upload.read(), name=f"{stem[:60]}.{VIDEO_TYPES[content_type]}")
        return PreparedMedia(MediaKind.VIDEO, content, content_type)
    if not content_type.startswith("image/"):
        raise RepairError(
            "Only photos and short videos (MP4, WebM, QuickTime) can be added to an inspection."
        )
    limit = settings.INSPECTION_PHOTO_MAX_MB
    if size > _megabytes(limit):
        raise RepairError(f"A photo may be at most {limit} MB; this one is {size // 2**20} MB.")
    return _resized_photo(upload)


def _resized_photo(upload: UploadedFile) -> PreparedMedia:
    not_a_photo = RepairError(f"This file is not a photo Carshop can read ({PHOTO_FORMATS_NAMED}).")
    try:
        with warnings.catch_warnings():
            # A decompression bomb (a tiny file of billions of pixels) is refused, not opened.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            with Image.open(upload) as probe:
                probe.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise not_a_photo from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RepairError("This photo has too many pixels to be a camera's photo.") from exc
    if upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    edge = settings.INSPECTION_PHOTO_MAX_EDGE
    upright.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # Saved without exif=: nothing of the original's metadata (place, phone) is kept.
    upright.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    stem = posixpath.splitext(posixpath.basename(upload.name or "photo"))[0] or "photo"
    return PreparedMedia(
        MediaKind.PHOTO,
        ContentFile(buffer.getvalue(), name=f"{stem[:60]}.jpg"),
        "image/jpeg",
        width=upright.width,
        height=upright.height,
    )
