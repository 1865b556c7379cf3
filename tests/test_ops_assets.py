"""optimize_assets: collectstatic with whitenoise's compressed manifest storage, and the report."""

import gzip

import pytest
from django.core.management.base import CommandError
from django.test import override_settings

from tests.helpers.commands import run_json

WHITENOISE = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}


def storages(settings, backend):
    return {**settings.STORAGES, "staticfiles": backend}


def test_collects_into_static_root_and_reports_the_compressed_files(tmp_path, settings):
    root = tmp_path / "static"
    with override_settings(STATIC_ROOT=root, STORAGES=storages(settings, WHITENOISE)):
        report = run_json("optimize_assets")

    assert report["static_root"] == str(root)
    assert report["copied"] > 50 and report["files"] == report["copied"]
    assert (root / "staticfiles.json").is_file()
    assert report["hashed_copies"] == report["files"]
    gz = report["compressed"]["gzip"]
    assert gz["files"] > 0
    assert gz["files"] == len(list(root.rglob("*.gz")))
    assert gz["bytes"] == sum(path.stat().st_size for path in root.rglob("*.gz"))
    assert 0 < gz["bytes"] < gz["original_bytes"]
    assert gz["saved_bytes"] == gz["original_bytes"] - gz["bytes"]
    css = root / "admin" / "css" / "base.css"
    assert gzip.decompress((root / "admin/css/base.css.gz").read_bytes()) == css.read_bytes()


def test_dry_run_writes_nothing(tmp_path, settings):
    root = tmp_path / "static"
    with override_settings(STATIC_ROOT=root, STORAGES=storages(settings, WHITENOISE)):
        report = run_json("optimize_assets", "--dry-run")
    assert report["dry_run"] is True
    assert report["source_files"] > 50 and report["source_bytes"] > 0
    assert not root.exists()


def test_a_storage_that_does_not_compress_is_said(tmp_path, settings):
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STATIC_ROOT=tmp_path / "s", STORAGES=storages(settings, plain)):
        report = run_json("optimize_assets")
    assert report["compressed"]["gzip"]["files"] == 0
    assert any("does not compress" in note for note in report["notes"])


def test_a_static_root_that_cannot_be_written_is_refused(tmp_path, settings):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with (
        override_settings(STATIC_ROOT=blocker / "static", STORAGES=storages(settings, WHITENOISE)),
        pytest.raises(CommandError, match=r"^STATIC_ROOT .*a-file/static is not writable"),
    ):
        run_json("optimize_assets")
