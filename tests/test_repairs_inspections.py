"""Digital inspections: a checklist becomes an inspection on the order, each point rated with a
measurement and notes, photos resized with their EXIF removed, a point that needs work becomes a
job with one click, and the customer's typed signature records what they agreed to."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from repairs import inspections
from repairs.choices import Authorization
from repairs.exceptions import RepairError
from repairs.models import InspectionMedia, InspectionTemplate
from tests.helpers.builders.inspections import make_template, mp4_clip, phone_photo, start
from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates, take_to

pytestmark = pytest.mark.django_db


def test_an_inspection_copies_its_checklist_in_order(tech):
    order = make_order()
    inspection = start(order, user=tech)

    items = list(inspection.items.all())
    assert [(i.position, i.section, i.label) for i in items] == [
        (1, "Tread depth", "Left front"),
        (2, "Tread depth", "Right front"),
        (3, "Condition", "Sidewalls"),
        (4, "Brakes", "Front pads"),
    ]
    assert [i.measurement_kind for i in items] == ["tread_32nds", "tread_32nds", "", ""]
    assert inspection.technician == tech
    assert all(item.rating == "" for item in items)


def test_the_shop_starts_with_its_four_checklists():
    migration = importlib.import_module("repairs.migrations.0010_inspection_checklists")
    InspectionTemplate.objects.filter(name__in=migration.CHECKLISTS).delete()
    migration.add_checklists(django_apps, None)

    tires = InspectionTemplate.objects.get(name="Tire inspection")
    treads = tires.points.filter(measurement="tread_32nds")
    assert list(treads.values_list("label", flat=True)) == [
        "Left front",
        "Right front",
        "Right rear",
        "Left rear",
    ]
    assert InspectionTemplate.objects.get(name="Pre-purchase inspection").purpose == "pre_purchase"
    assert InspectionTemplate.objects.filter(name__in=migration.CHECKLISTS).count() == 4


def test_no_inspection_on_a_closed_order_or_from_a_retired_checklist():
    order = make_order()
    add_job_with_lines(order, labor=[("1", "100")])
    take_to(order, "invoiced")
    with pytest.raises(RepairError, match="takes no inspection"):
        start(order)
    retired = make_template(name="Old", active=False)
    with pytest.raises(RepairError, match="still offered"):
        start(make_order(), template=retired)


def test_rating_a_point_with_its_measurement_and_notes():
    item = start(make_order()).items.get(label="Left front")

    inspections.rate_item(item, rating="urgent", measurement="2", notes=" Cords showing ")

    item.refresh_from_db()
    assert (item.rating, item.measurement, item.notes) == (
        "urgent",
        Decimal("2.0"),
        "Cords showing",
    )
    assert item.needs_work


@pytest.mark.parametrize(
    "label, rating, measurement, message",
    [
        ("Left front", "broken", None, "good, needs attention or urgent"),
        ("Sidewalls", "good", "5", "takes no measurement"),
        ("Left front", "good", "120", "between 0 and 99"),
        ("Left front", "good", "deep", "is not a number"),
    ],
)
def test_a_bad_rating_or_measurement_is_refused_and_changes_nothing(
    label, rating, measurement, message
):
    item = start(make_order()).items.get(label=label)
    with pytest.raises(RepairError, match=message):
        inspections.rate_item(item, rating=rating, measurement=measurement, notes="x")
    item.refresh_from_db()
    assert (item.rating, item.measurement, item.notes) == ("", None, "")


def test_a_point_that_needs_work_becomes_a_job_waiting_for_the_customer(advisor):
    order = make_order()
    item = start(order).items.get(label="Left front")
    inspections.rate_item(item, rating="urgent", measurement="2", notes="Cords showing")

    job = inspections.recommend_job(item, user=advisor)

    assert job.repair_order == order
    assert job.title == "Tread depth: Left front"
    assert job.authorization == Authorization.PENDING
    assert "Urgent" in job.complaint and "measured 2.0" in job.complaint
    assert "Cords showing" in job.complaint
    item.refresh_from_db()
    assert item.job == job
    with pytest.raises(RepairError, match="already job"):
        inspections.recommend_job(item, user=advisor)
    assert order.jobs.count() == 1


def test_a_point_found_good_is_not_made_a_job():
    order = make_order()
    item = start(order).items.get(label="Sidewalls")
    inspections.rate_item(item, rating="good")
    with pytest.raises(RepairError, match="nothing to recommend"):
        inspections.recommend_job(item)
    assert not order.jobs.exists()


def test_the_signature_records_name_time_address_total_and_jobs():
    set_rates(
        labor_tax_rate="10", parts_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    order = make_order()
    brakes = add_job_with_lines(order, title="Front brakes", labor=[("1.5", "100")], approve=False)
    wipers = add_job_with_lines(order, title="Wipers", labor=[("0.5", "100")], approve=False)

    signature = inspections.sign_estimate(
        order, job_ids=[brakes.pk], name="  Maria   Garcia ", client_ip="203.0.113.9"
    )

    assert signature.signed_name == "Maria Garcia"
    assert signature.client_ip == "203.0.113.9"
    assert signature.total == Decimal("165.00")  # 150.00 labor + 10 % tax; wipers still wait
    assert signature.jobs == [{"id": brakes.pk, "position": 1, "title": "Front brakes"}]
    assert signature.signed_at is not None
    brakes.refresh_from_db()
    wipers.refresh_from_db()
    assert (brakes.authorization, brakes.authorization_method) == ("approved", "online")
    assert brakes.authorized_by == "Maria Garcia"
    assert wipers.authorization == Authorization.PENDING
    order.refresh_from_db()
    assert order.status == "estimate"

    second = inspections.sign_estimate(
        order, job_ids=[wipers.pk], name="Maria Garcia", client_ip="203.0.113.9"
    )
    assert second.total == Decimal("220.00")  # both jobs now
    order.refresh_from_db()
    assert order.status == "approved"


@pytest.mark.parametrize(
    "name, jobs, message",
    [
        ("", "mine", "Type your full name"),
        ("x" * 161, "mine", "at most 160"),
        ("Maria Garcia", "none", "Tick at least one job"),
        ("Maria Garcia", "other", "not on this estimate"),
    ],
)
def test_a_signature_without_name_or_jobs_is_refused_and_changes_nothing(name, jobs, message):
    order = make_order()
    job = add_job_with_lines(order, labor=[("1", "100")], approve=False)
    stranger = add_job_with_lines(make_order(), labor=[("1", "100")], approve=False)
    job_ids = {"mine": [job.pk], "none": [], "other": [job.pk, stranger.pk]}[jobs]

    with pytest.raises(RepairError, match=message):
        inspections.sign_estimate(order, job_ids=job_ids, name=name, client_ip="203.0.113.9")

    job.refresh_from_db()
    assert job.authorization == Authorization.PENDING
    assert not order.signatures.exists()


# Photos and videos ------------------------------------------------------------------------


def test_a_phone_photo_is_turned_upright_shrunk_and_stripped_of_its_exif(settings):
    settings.INSPECTION_PHOTO_MAX_EDGE = 1600
    item = start(make_order()).items.first()

    shot = inspections.add_media(item, phone_photo(3000, 2000, orientation=6))

    assert shot.kind == "photo" and shot.content_type == "image/jpeg"
    with shot.file.open("rb") as stored, Image.open(stored) as image:
        # 3000 x 2000 stored sideways: upright it is 2000 x 3000, shrunk to 1067 x 1600.
        assert image.size == (1067, 1600) == (shot.width, shot.height)
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        # The white corner, top-left as stored, is top-right once turned upright.
        assert image.getpixel((1060, 5))[0] > 200 and image.getpixel((5, 5))[1] < 80
    assert shot.file.name.startswith("inspections/") and shot.file.name.endswith(".jpg")
    assert shot.file.url == f"/private-media/{shot.file.name}"
    assert shot.size == shot.file.size


def test_a_small_photo_keeps_its_size():
    item = start(make_order()).items.first()
    shot = inspections.add_media(item, phone_photo(800, 600, orientation=1))
    assert (shot.width, shot.height) == (800, 600)


def test_a_short_video_is_kept_as_it_came():
    item = start(make_order()).items.first()
    shot = inspections.add_media(item, mp4_clip())
    assert shot.kind == "video" and shot.content_type == "video/mp4"
    assert shot.file.name.endswith(".mp4")
    with shot.file.open("rb") as stored:
        assert stored.read(12)[4:8] == b"ftyp"


@pytest.mark.parametrize(
    "upload, message",
    [
        (
            SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg"),
            "not a photo Carshop can read",
        ),
        (
            SimpleUploadedFile("invoice.pdf", b"%PDF-1.4", content_type="application/pdf"),
            "Only photos and short videos",
        ),
        (
            SimpleUploadedFile("clip.mp4", b"\xff\xd8\xff" + b"0" * 64, content_type="video/mp4"),
            "not the video its type says",
        ),
        (SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg"), "The file is empty."),
    ],
)
def test_a_file_that_is_not_a_photo_or_video_is_refused_and_nothing_stored(upload, message):
    item = start(make_order()).items.first()
    with pytest.raises(RepairError, match=message):
        inspections.add_media(item, upload)
    assert not InspectionMedia.objects.exists()


def test_uploads_over_the_limits_are_refused(settings):
    settings.INSPECTION_PHOTO_MAX_MB = 1
    settings.INSPECTION_VIDEO_MAX_MB = 1
    item = start(make_order()).items.first()
    with pytest.raises(RepairError, match="A photo may be at most 1 MB; this one is 2 MB"):
        inspections.add_media(
            item, SimpleUploadedFile("big.jpg", b"\xff" * (2 * 2**20 + 10), "image/jpeg")
        )
    with pytest.raises(RepairError, match="A video may be at most 1 MB"):
        inspections.add_media(item, mp4_clip(size=2 * 2**20))
    assert not InspectionMedia.objects.exists()


def test_inspections_and_signatures_are_in_the_audit_log(tech):
    from auditlog.models import LogEntry
    from auditlog.registry import auditlog

    from repairs.models import EstimateSignature, Inspection, InspectionItem

    for model in (InspectionTemplate, Inspection, InspectionItem, InspectionMedia):
        assert auditlog.contains(model), model
    assert auditlog.contains(EstimateSignature)
    item = start(make_order(), user=tech).items.first()
    inspections.rate_item(item, rating="urgent", notes="Worn")
    entry = LogEntry.objects.get_for_object(item).latest("timestamp")
    assert entry.changes_dict["rating"] == ["", "urgent"]
