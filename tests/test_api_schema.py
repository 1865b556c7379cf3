"""The OpenAPI schema: generated without warnings, served, and written to docs/api/."""

import io
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from carshop.management.commands.generate_api_docs import build_schema

pytestmark = pytest.mark.django_db


def test_the_schema_generates_without_warnings_and_is_valid_openapi():
    schema = build_schema()  # raises on any drf-spectacular warning or validation error
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/webhook-subscriptions/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"


def test_every_operation_documents_the_error_format():
    schema = build_schema()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for code in ("404", "429"):
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, f"{method} {path} {code}"


def test_the_schema_and_the_docs_page_are_served():
    client = APIClient()
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert yaml.safe_load(schema.content)["info"]["title"] == "Carshop partner API"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # served from this site, works offline


def test_generate_api_docs_writes_the_schema_and_a_readable_reference(tmp_path):
    out = io.StringIO()
    call_command("generate_api_docs", "--output-dir", str(tmp_path), stdout=out)
    schema = yaml.safe_load((tmp_path / "openapi.yaml").read_text())
    assert "/api/v1/me/" in schema["paths"]
    reference = (tmp_path / "README.md").read_text()
    assert "#### `POST /api/v1/webhook-subscriptions/` — Subscribe a URL to events" in reference
    assert "| `events` |" in reference
    assert "wrote" in out.getvalue()


def test_generate_api_docs_check_fails_when_the_docs_are_stale(tmp_path):
    call_command("generate_api_docs", "--output-dir", str(tmp_path), stdout=io.StringIO())
    call_command(
        "generate_api_docs", "--output-dir", str(tmp_path), "--check", stdout=io.StringIO()
    )
    (tmp_path / "README.md").write_text("old\n")
    with pytest.raises(CommandError, match=r"out of date .*README\.md"):
        call_command(
            "generate_api_docs", "--output-dir", str(tmp_path), "--check", stdout=io.StringIO()
        )


def test_the_committed_api_docs_are_up_to_date():
    docs = Path(settings.BASE_DIR) / "docs" / "api"
    call_command("generate_api_docs", "--output-dir", str(docs), "--check", stdout=io.StringIO())


def test_a_schema_warning_fails_generation(monkeypatch):
    from drf_spectacular import drainage

    original = drainage.GENERATOR_STATS.reset

    def reset_then_warn():
        original()
        drainage.GENERATOR_STATS.emit("could not resolve something", "warning")

    monkeypatch.setattr(drainage.GENERATOR_STATS, "reset", reset_then_warn)
    with pytest.raises(CommandError, match="could not resolve something"):
        build_schema()
