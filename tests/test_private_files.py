"""Cost receipts of stock units are private: only people whose role sees stock unit costs get
them, through /private-media/, under names nobody can guess. Photos stay public."""

import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory.models import StockUnitCost, StockUnitPhoto
from tests.helpers.admin import inline_management, png
from tests.helpers.builders.lot import make_unit

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n% a scanned receipt\n"


def receipt_on_a_unit():
    unit = make_unit()
    cost = StockUnitCost.objects.create(
        unit=unit, kind=StockUnitCost.Kind.TRANSPORT, amount="250.00"
    )
    cost.receipt.save("receipt.pdf", ContentFile(PDF))
    return cost


def test_a_receipt_is_stored_under_a_random_folder_and_linked_through_the_private_view():
    first, second = receipt_on_a_unit(), receipt_on_a_unit()

    assert re.fullmatch(r"stock/receipts/\d{4}/\d{2}/[\w-]{20,}/receipt\.pdf", first.receipt.name)
    assert first.receipt.name != second.receipt.name
    assert first.receipt.url == f"/private-media/{first.receipt.name}"


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("salesperson", True),  # records the lot's costs
        ("manager", True),  # everything in inventory
        ("advisor", False),  # the service shop: no stock unit costs
        ("technician", False),  # never costs
        ("operator", False),  # users and operations, not the lot's money
    ],
)
def test_only_roles_that_see_stock_unit_costs_get_the_receipt(role, allowed, request, login):
    cost = receipt_on_a_unit()
    client = login(request.getfixturevalue(role))

    response = client.get(cost.receipt.url)

    if allowed:
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "private" in response["Cache-Control"]
    else:
        assert response.status_code == 403
        assert PDF not in response.content


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    cost = receipt_on_a_unit()

    response = client.get(cost.receipt.url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_name_no_record_holds_is_not_found(salesperson, login):
    receipt_on_a_unit()
    response = login(salesperson).get("/private-media/stock/receipts/2026/12/receipt.pdf")
    assert response.status_code == 404


def test_behind_nginx_the_file_is_handed_over_with_x_accel_redirect(manager, login, settings):
    settings.PRIVATE_MEDIA_X_ACCEL_REDIRECT = "/protected-media/"
    cost = receipt_on_a_unit()

    response = login(manager).get(cost.receipt.url)

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{cost.receipt.name}"
    assert response.content == b""


def test_a_receipt_uploaded_before_it_was_private_is_served_through_the_check(
    salesperson, advisor, client
):
    # Files uploaded when receipts were public kept their guessable names in the same folder.
    cost = receipt_on_a_unit()
    old_name = "stock/receipts/2026/12/receipt.pdf"
    old_path = Path(cost.receipt.storage.path(old_name))
    old_path.parent.mkdir(parents=True, exist_ok=True)
    old_path.write_bytes(PDF)
    StockUnitCost.objects.filter(pk=cost.pk).update(receipt=old_name)
    cost.refresh_from_db()
    assert cost.receipt.url == f"/private-media/{old_name}"

    client.force_login(salesperson, backend="django.contrib.auth.backends.ModelBackend")
    assert b"".join(client.get(cost.receipt.url).streaming_content) == PDF
    client.force_login(advisor, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(cost.receipt.url).status_code == 403


def test_django_never_serves_a_receipt_from_media_even_in_development(salesperson, login, settings):
    settings.DEBUG = True
    cost = receipt_on_a_unit()
    unit = cost.unit
    photo = StockUnitPhoto.objects.create(unit=unit, image=png(), is_main=True)
    settings.MEDIA_ROOT = photo.image.storage.location
    client = login(salesperson)

    assert client.get(f"/media/{cost.receipt.name}").status_code == 404
    assert client.get("/media/stock/receipts/2026/12/receipt.pdf").status_code == 404
    assert client.get(photo.image.url).status_code == 200


def test_uploading_a_receipt_in_the_admin_stores_it_privately(salesperson, login):
    unit = make_unit()
    data = {
        "title_status": unit.title_status,
        "source": unit.source,
        "acquired_on": unit.acquired_on.isoformat(),
        "acquisition_cost": "10000.00",
        "asking_price": "14000.00",
        **inline_management("costs", total=1),
        **inline_management("photos"),
        "costs-0-kind": "transport",
        "costs-0-amount": "120.00",
        "costs-0-incurred_on": unit.acquired_on.isoformat(),
        "costs-0-receipt": SimpleUploadedFile("receipt.pdf", PDF, "application/pdf"),
    }
    client = login(salesperson)

    response = client.post(f"/admin/inventory/stockunit/{unit.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    cost = unit.costs.get()
    page = client.get(f"/admin/inventory/stockunit/{unit.pk}/change/").content.decode()
    assert f'href="/private-media/{cost.receipt.name}"' in page
    assert b"".join(client.get(cost.receipt.url).streaming_content) == PDF


def nginx_server_blocks(site):
    """The `server { ... }` blocks of an nginx site, comments removed, as text."""
    path = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / site
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return re.findall(r"^server \{.*?^\}", text, flags=re.S | re.M)


@pytest.mark.parametrize("site", ["carapp.conf", "carapp-staging.conf"])
def test_nginx_serves_only_photos_from_media_and_private_files_only_internally(site):
    https = next(block for block in nginx_server_blocks(site) if "listen 443" in block)
    media = re.search(r"location /media/ \{(.*?)\}", https, flags=re.S).group(1)
    photos = re.search(r"location \^~ /media/stock/photos/ \{(.*?)\}", https, flags=re.S).group(1)
    protected = re.search(r"location \^~ /protected-media/ \{(.*?)\}", https, flags=re.S).group(1)

    assert "return 404;" in media and "alias" not in media
    assert re.search(r"alias /var/lib/carapp/(staging/)?media/stock/photos/;", photos)
    assert "internal;" in protected
    assert re.search(r"alias /var/lib/carapp/(staging/)?media/;", protected)
