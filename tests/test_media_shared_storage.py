"""Several app hosts keep uploads in one S3-compatible bucket (MEDIA_STORAGE=S3, django-storages):
a photo or receipt uploaded on one host is there on every other. Receipts keep their rules: an
unguessable name, and only through the permission-checking view, which reads them from the
bucket. The bucket here is an S3-compatible server on 127.0.0.1 (moto's), spoken to over HTTP."""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from inventory.files import PrivateS3Storage
from inventory.models import StockUnitCost, StockUnitPhoto
from tests.helpers.admin import inline_management, png
from tests.helpers.builders.lot import make_unit
from tests.helpers.pgcluster import free_port

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n% a scanned receipt\n"
CREDENTIALS = {"access_key": "carshop-test", "secret_key": "carshop-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings):
    """A new bucket, and the settings MEDIA_STORAGE=S3 makes pointing at it."""
    name = f"carshop-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["access_key"],
        aws_secret_access_key=CREDENTIALS["secret_key"],
    )
    client.create_bucket(Bucket=name)
    options = {
        "bucket_name": name,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        **CREDENTIALS,
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "private": {"BACKEND": "inventory.files.PrivateS3Storage", "OPTIONS": options},
    }
    # The receipt field was given the private storage when the model loaded; it is the bucket's
    # here, as it is in a process started with MEDIA_STORAGE=S3.
    field = StockUnitCost._meta.get_field("receipt")
    before = field.storage
    field.storage = storages["private"]
    yield client, name
    field.storage = before


def _objects(client, name):
    return {item["Key"]: item for item in client.list_objects_v2(Bucket=name).get("Contents", [])}


def _receipt(unit=None):
    cost = StockUnitCost.objects.create(
        unit=unit or make_unit(), kind=StockUnitCost.Kind.TRANSPORT, amount="250.00"
    )
    cost.receipt.save("receipt.pdf", ContentFile(PDF))
    return cost


def test_a_receipt_uploaded_in_the_admin_goes_to_the_bucket_under_a_random_name(
    bucket, salesperson, login
):
    client, name = bucket
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
    browser = login(salesperson)

    response = browser.post(f"/admin/inventory/stockunit/{unit.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    cost = unit.costs.get()
    assert isinstance(cost.receipt.storage, PrivateS3Storage)
    assert re.fullmatch(r"stock/receipts/\d{4}/\d{2}/[\w-]{20,}/receipt\.pdf", cost.receipt.name)
    stored = client.get_object(Bucket=name, Key=cost.receipt.name)["Body"].read()
    assert stored == PDF
    page = browser.get(f"/admin/inventory/stockunit/{unit.pk}/change/").content.decode()
    assert f'href="/private-media/{cost.receipt.name}"' in page
    assert name not in page  # never a link to the bucket


@pytest.mark.parametrize(
    "role, allowed",
    [("salesperson", True), ("manager", True), ("advisor", False), ("technician", False)],
)
def test_a_receipt_in_the_bucket_is_given_only_to_roles_that_see_costs(
    bucket, role, allowed, request, login
):
    cost = _receipt()
    browser = login(request.getfixturevalue(role))

    response = browser.get(cost.receipt.url)

    assert cost.receipt.url == f"/private-media/{cost.receipt.name}"
    if allowed:
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert "private" in response["Cache-Control"]
    else:
        assert response.status_code == 403
        assert PDF not in response.content


def test_anonymous_visitors_get_no_receipt_from_the_bucket(bucket, client):
    cost = _receipt()
    response = client.get(cost.receipt.url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_nginx_cannot_send_a_bucket_object_so_django_streams_it(bucket, manager, login, settings):
    settings.PRIVATE_MEDIA_X_ACCEL_REDIRECT = "/protected-media/"
    cost = _receipt()

    response = login(manager).get(cost.receipt.url)

    assert response.status_code == 200
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == PDF


def test_a_photo_is_kept_in_the_bucket_and_linked_with_a_signed_url(bucket):
    client, name = bucket
    photo = StockUnitPhoto.objects.create(unit=make_unit(), image=png(), is_main=True)

    assert photo.image.name in _objects(client, name)
    url = photo.image.url
    assert name in url and "Signature=" in url  # a signed URL that expires
    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == client.get_object(Bucket=name, Key=photo.image.name)["Body"].read()


def test_media_storage_s3_puts_photos_and_receipts_in_the_bucket():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MEDIA_", "DJANGO_SETTINGS"))},
        "DJANGO_ENV": "development",
        "MEDIA_STORAGE": "S3",
        "MEDIA_S3_BUCKET": "shop-media",
        "MEDIA_S3_ENDPOINT_URL": "https://s3.example.net",
    }
    script = (
        "import django, json; django.setup()\n"
        "from django.core.files.storage import storages\n"
        "print(json.dumps({alias: [type(storages[alias]).__name__, storages[alias].bucket_name,"
        " storages[alias].endpoint_url] for alias in ('default', 'private')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "carshop.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "default": ["S3Storage", "shop-media", "https://s3.example.net"],
        "private": ["PrivateS3Storage", "shop-media", "https://s3.example.net"],
    }

    missing = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **{k: v for k, v in env.items() if k != "MEDIA_S3_BUCKET"},
            "DJANGO_SETTINGS_MODULE": "carshop.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "MEDIA_S3_BUCKET is not set" in missing.stderr
