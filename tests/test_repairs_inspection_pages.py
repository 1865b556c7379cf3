"""Inspections through the pages people use: the technician fills one in the admin (no price
anywhere), the advisor makes a point a job with one click, photos are served only through the
permission check or the customer's own link, and the signature shows on the printed documents."""

import base64
import re
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from repairs import inspections, links, services
from repairs.models import InspectionMedia
from tests.helpers.admin import inline_management, visible_text
from tests.helpers.builders.inspections import make_template, phone_photo, start
from tests.helpers.builders.repairs import add_job_with_lines, make_order

pytestmark = pytest.mark.django_db
PRICE_WORDS = ("price", "rate per hour", "amount", "total", "discount", "cost")


@pytest.fixture
def order(technician):
    order = make_order()
    # The technician's work on this order: the technician's screen and lists show it to them.
    add_job_with_lines(
        order, title="Oil change", labor=[("0.5", "97.00")], technician=technician, approve=False
    )
    return order


def item_data(inspection, changes):
    """The inspection page's form as posted: every point, with `changes` by label."""
    data = inline_management("items", total=inspection.items.count(), initial=0)
    data["items-INITIAL_FORMS"] = data["items-TOTAL_FORMS"]
    for index, item in enumerate(inspection.items.order_by("position")):
        values = {"rating": item.rating, "measurement": "", "notes": item.notes}
        values.update(changes.get(item.label, {}))
        data[f"items-{index}-id"] = str(item.pk)
        data[f"items-{index}-inspection"] = str(inspection.pk)
        for name, value in values.items():
            data[f"items-{index}-{name}"] = value
    return data


def test_the_technician_starts_and_fills_an_inspection_with_a_photo(technician, login, order):
    template = make_template()
    client = login(technician)

    page = client.get(f"/admin/repairs/repairorder/{order.pk}/change/").content.decode()
    start_url = f"/admin/repairs/inspection/add/?repair_order={order.pk}"
    assert f'href="{start_url}"'.replace("&", "&amp;") in page
    response = client.post(start_url, {"repair_order": order.pk, "checklist": template.pk})
    inspection = order.inspections.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/repairs/inspection/{inspection.pk}/change/"

    change = response["Location"]
    page = client.get(change).content.decode()
    assert 'accept="image/*,video/mp4,video/webm,video/quicktime"' in page
    assert 'capture="environment"' in page
    text = visible_text(page).lower()
    assert not [word for word in PRICE_WORDS if word in text]
    assert "97.00" not in page

    data = item_data(
        inspection,
        {
            "Left front": {"rating": "urgent", "measurement": "2", "notes": "Cords showing"},
            "Sidewalls": {"rating": "good", "add_media": phone_photo()},
        },
    )
    response = client.post(change, {**data, "_continue": "1"})

    assert response.status_code == 302, visible_text(response.content.decode())[:2000]
    left = inspection.items.get(label="Left front")
    assert (left.rating, str(left.measurement), left.notes) == ("urgent", "2.0", "Cords showing")
    shot = InspectionMedia.objects.get(item__label="Sidewalls")
    assert shot.uploaded_by == technician
    with shot.file.open("rb") as stored, Image.open(stored) as image:
        assert max(image.size) == 1600 and not dict(image.getexif())
    page = client.get(change).content.decode()
    assert f'src="{shot.file.url}"' in page
    # The technician makes no job: that is the advisor's, with prices.
    assert "Make it a job" not in page
    recommend = reverse("admin:repairs_inspection_recommend", args=[inspection.pk, left.pk])
    assert client.post(recommend).status_code == 403
    assert not left.inspection.repair_order.jobs.filter(title__contains="Left front").exists()


def test_a_bad_upload_is_shown_on_the_point_and_nothing_is_saved(technician, login, order):
    inspection = start(order, user=technician)
    client = login(technician)
    change = f"/admin/repairs/inspection/{inspection.pk}/change/"
    for upload, message in [
        (
            SimpleUploadedFile("tire.jpg", b"%PDF-1.4 a scan", content_type="image/jpeg"),
            "This file is not a photo Carshop can read",
        ),
        (
            SimpleUploadedFile("tire.pdf", b"%PDF-1.4 a scan", content_type="application/pdf"),
            "Only photos and short videos (MP4, WebM, QuickTime)",
        ),
    ]:
        data = item_data(inspection, {"Sidewalls": {"rating": "attention", "add_media": upload}})
        response = client.post(change, data)
        assert response.status_code == 200
        assert message in visible_text(response.content.decode())
    assert not InspectionMedia.objects.exists()
    assert inspection.items.get(label="Sidewalls").rating == ""


def test_the_advisor_makes_a_point_a_job_with_one_click(advisor, login, order):
    inspection = start(order)
    item = inspection.items.get(label="Front pads")
    inspections.rate_item(item, rating="attention", notes="3 mm left")
    client = login(advisor)
    change = f"/admin/repairs/inspection/{inspection.pk}/change/"
    recommend = reverse("admin:repairs_inspection_recommend", args=[inspection.pk, item.pk])

    page = client.get(change).content.decode()
    assert f'action="{recommend}"' in page and "Make it a job" in page
    response = client.post(recommend, follow=True)

    job = order.jobs.get(title="Brakes: Front pads")
    assert "added to" in visible_text(response.content.decode())
    assert job.authorization == "pending" and "3 mm left" in job.complaint
    assert client.get(recommend).status_code == 405
    # Twice is refused with a message, no second job.
    response = client.post(recommend, follow=True)
    assert "is already job" in visible_text(response.content.decode())
    assert order.jobs.filter(title="Brakes: Front pads").count() == 1


def photo_of(order):
    item = start(order).items.get(label="Sidewalls")
    inspections.rate_item(item, rating="urgent", notes="Bulge")
    return inspections.add_media(item, phone_photo(800, 600, orientation=1))


@pytest.mark.parametrize(
    "role, status",
    [("advisor", 200), ("technician", 200), ("manager", 200), ("salesperson", 403)],
)
def test_staff_get_a_photo_only_through_the_permission_check(role, status, request, login, order):
    shot = photo_of(order)
    client = login(request.getfixturevalue(role))
    response = client.get(shot.file.url)
    assert response.status_code == status
    if status == 200:
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"  # a JPEG
        assert response["Content-Type"] == "image/jpeg"
        assert "private" in response["Cache-Control"]


def test_anonymous_visitors_get_no_photo_and_media_url_serves_none(client, order, settings):
    settings.DEBUG = True
    shot = photo_of(order)
    response = client.get(shot.file.url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(f"/media/{shot.file.name}").status_code == 404


def test_the_customer_link_shows_its_own_photos_beside_the_job_and_no_others(client, order):
    shot = photo_of(order)
    job = inspections.recommend_job(shot.item)
    other_order = make_order()
    other_shot = photo_of(other_order)
    # One token: a new one made a second later differs (it carries the time it was made).
    token = links.estimate_token(order)
    url = reverse("repairs:customer_estimate", args=[token])

    page = client.get(url).content.decode()

    own = reverse("repairs:customer_media", args=[token, shot.pk])
    cards = re.findall(r'<section class="card job">.*?</section>', page, re.S)
    job_card = next(card for card in cards if job.title in card)
    assert f'<img src="{own}"' in job_card and "Bulge" in job_card
    response = client.get(own)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    # Another order's photo through this link, or through a made-up link: the bad-link page.
    stranger = reverse("repairs:customer_media", args=[token, other_shot.pk])
    assert client.get(stranger).status_code == 404
    forged = reverse("repairs:customer_media", args=["not-a-token", shot.pk])
    assert client.get(forged).status_code == 404
    assert other_shot.file.name not in page


def test_the_customer_page_reads_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    counts = []
    for photos in (1, 8):
        order = make_order()
        item = start(order).items.get(label="Sidewalls")
        inspections.rate_item(item, rating="urgent")
        for _ in range(photos):
            inspections.add_media(item, phone_photo(200, 100, orientation=1))
        inspections.recommend_job(item)
        url = reverse("repairs:customer_estimate", args=[links.estimate_token(order)])
        client.get(url)  # the shop's settings cached, as on a running server
        with django_assert_max_num_queries(20) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_signing_on_the_link_records_the_address_and_the_documents_show_it(
    client, advisor, login, order, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    job = order.jobs.get()
    url = reverse("repairs:customer_estimate", args=[links.estimate_token(order)])

    response = client.post(
        url,
        {"action": "sign", "approve": [job.pk], "signed_name": "Maria Garcia"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )

    assert response.status_code == 302
    signature = order.signatures.get()
    assert signature.client_ip == "198.51.100.7"
    page = " ".join(visible_text(client.get(url).content.decode()).split())
    assert "Signed by Maria Garcia" in page
    staff = login(advisor)
    printed = " ".join(
        visible_text(
            staff.get(f"/admin/repairs/repairorder/{order.pk}/print/").content.decode()
        ).split()
    )
    assert "signed by Maria Garcia" in printed
    assert f"for a total of {signature.total}" in printed
    assert "198.51.100.7" in printed and "1. Oil change" in printed


def test_signing_without_a_name_says_so_and_approves_nothing(client, order):
    job = order.jobs.get()
    url = reverse("repairs:customer_estimate", args=[links.estimate_token(order)])
    response = client.post(url, {"action": "sign", "approve": [job.pk], "signed_name": " "})
    assert response.status_code == 200
    assert "Type your full name to sign the approval." in response.content.decode()
    job.refresh_from_db()
    assert job.authorization == "pending" and not order.signatures.exists()


def test_a_technician_sees_only_the_inspections_of_their_own_orders(technician, login, order):
    own = start(order)
    stranger = start(make_order())
    client = login(technician)

    listed = client.get("/admin/repairs/inspection/").content.decode()
    assert f"/admin/repairs/inspection/{own.pk}/change/" in listed
    assert f"/admin/repairs/inspection/{stranger.pk}/change/" not in listed
    response = client.get(f"/admin/repairs/inspection/{stranger.pk}/change/")
    assert response.status_code == 302  # "does not exist", back to the admin's home
    item = stranger.items.get(label="Sidewalls")
    response = client.post(
        f"/admin/repairs/inspection/{stranger.pk}/change/",
        item_data(stranger, {"Sidewalls": {"rating": "urgent"}}),
    )
    item.refresh_from_db()
    assert item.rating == ""
    # Nor can they start one on an order that is not theirs.
    response = client.post(
        "/admin/repairs/inspection/add/",
        {"repair_order": stranger.repair_order.pk, "checklist": make_template().pk},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert stranger.repair_order.inspections.count() == 1


def pdf_text(content):
    """The text a ReportLab PDF draws (its page streams decoded from ASCII85 and inflated, the
    strings of Tj read)."""
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", content, re.S):
        stream = stream.strip()
        try:
            if stream.endswith(b"~>"):
                stream = base64.a85decode(stream[:-2])
            stream = zlib.decompress(stream)
        except (ValueError, zlib.error):
            continue
        text += [part.decode("latin-1") for part in re.findall(rb"\((.*?)\) Tj", stream)]
    return " ".join(text)


def test_the_invoice_and_both_pdfs_show_the_signature(client, manager, login, order):
    job = order.jobs.get()
    url = reverse("repairs:customer_estimate", args=[links.estimate_token(order)])
    client.post(url, {"action": "sign", "approve": [job.pk], "signed_name": "Maria Garcia"})
    signature = order.signatures.get()
    staff = login(manager)
    estimate_pdf = staff.get(f"/admin/repairs/repairorder/{order.pk}/print/pdf/").content
    assert "signed by Maria Garcia" in pdf_text(estimate_pdf)
    # Every job decided and one approved: the order was approved by the signature.
    services.start_work(order)
    services.complete_work(order)
    invoice = services.invoice_repair_order(order)

    printed = " ".join(
        visible_text(
            staff.get(f"/admin/repairs/invoice/{invoice.pk}/print/").content.decode()
        ).split()
    )
    invoice_pdf = pdf_text(staff.get(f"/admin/repairs/invoice/{invoice.pk}/print/pdf/").content)

    for text in (printed, invoice_pdf):
        assert "Approved online and signed by Maria Garcia" in text
        assert f"for a total of {signature.total}" in text
