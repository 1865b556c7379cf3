"""Builders for inspection tests: a checklist, an inspection started through the service, and
phone-like photos (a large JPEG with EXIF orientation and a location)."""

import io
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from repairs import inspections
from repairs.models import InspectionTemplate, InspectionTemplatePoint

TIRE_POINTS = [
    ("Tread depth", "Left front", "tread_32nds"),
    ("Tread depth", "Right front", "tread_32nds"),
    ("Condition", "Sidewalls", ""),
    ("Brakes", "Front pads", ""),
]


_numbers = itertools.count(1)


def make_template(name=None, points=TIRE_POINTS, **fields):
    name = name or f"Tire and brake check {next(_numbers)}"
    template = InspectionTemplate.objects.create(name=name, **fields)
    for position, (section, label, measurement) in enumerate(points, start=1):
        InspectionTemplatePoint.objects.create(
            template=template,
            position=position,
            section=section,
            label=label,
            measurement=measurement,
        )
    return template


def start(order, *, user=None, template=None):
    return inspections.start_inspection(order, template or make_template(), user=user)


def phone_photo(width=3000, height=2000, *, orientation=6, name="IMG_0042.jpg"):
    """A camera's JPEG: stored sideways with EXIF orientation 6 (turn 90° clockwise to view),
    the phone's make and a GPS position in its EXIF."""
    image = Image.new("RGB", (width, height), "darkred")
    image.paste("white", (0, 0, width // 4, height // 4))  # the top-left corner, to follow it
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (40.0, 26.0, 46.0)}  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=80)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def mp4_clip(size=2048, name="clip.mp4"):
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return SimpleUploadedFile(name, head + b"\x00" * (size - len(head)), content_type="video/mp4")
