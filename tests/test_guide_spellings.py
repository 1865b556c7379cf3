"""MAINTENANCE-GUIDE.md's own command lines work as written, or the refusal names the Carshop
form: each spelling here was refused before."""

import json

import pytest
from django.core.management.base import CommandError

from accounts.models import Customer
from carshop.ops.backups import service, testing
from tests.helpers.commands import run


def test_log_commands_take_days_as_a_period(tmp_path):
    (tmp_path / "access.log").write_text("")
    by_days = json.loads(run("analyze_logs", "--days=7", f"--log-dir={tmp_path}", "--format=json"))
    by_period = json.loads(
        run("analyze_logs", "--period=7d", f"--log-dir={tmp_path}", "--format=json")
    )

    assert by_days["since"][:13] == by_period["since"][:13]
    with pytest.raises(CommandError, match="--days: must be 1 or more, got 0"):
        run("error_report", "--days=0", f"--log-dir={tmp_path}")
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("analyze_logs", "--days=7", "--period=24h", f"--log-dir={tmp_path}")


@pytest.mark.django_db
def test_validate_config_takes_the_environment_it_runs_in_and_names_the_way_to_check_another():
    with pytest.raises(CommandError) as refused:
        run("validate_config", "--env=production")
    assert str(refused.value) == (
        "this run reads the test settings; to check production: "
        "DJANGO_ENV=production python manage.py validate_config"
    )

    try:
        out = run("validate_config", "--env=test")
    except CommandError as exc:  # a FAIL finding of the test settings: the report ran
        assert str(exc).startswith("configuration: ")
    else:
        assert out.startswith("configuration: ")
    with pytest.raises(CommandError, match="invalid choice: 'prod'"):
        run("validate_config", "--env=prod")


@pytest.mark.django_db
def test_export_all_tables_and_import_one_table_from_a_file(tmp_path):
    Customer.objects.create(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    everything = tmp_path / "all.json"
    run("export", "--format=json", "--tables=all", f"--output={everything}")
    whole = tmp_path / "whole.json"
    run("export", "--format=json", f"--output={whole}")
    assert everything.read_text().count("\n") == whole.read_text().count("\n")

    customers = tmp_path / "customers.csv"
    run("export", "--format=csv", "--table=customers", f"--file={customers}")
    out = run("import", "--format=csv", "--table=customers", f"--file={customers}", "--dry-run")
    assert out.strip().endswith("rows are good; dry run, nothing written")


@pytest.mark.django_db(transaction=True)
def test_restore_takes_the_guides_pre_update_latest(tmp_path, settings):
    folder = testing.configure(tmp_path, settings)
    testing.seed()
    try:
        pre_update = service.create_backup("pre-update")
        service.create_backup("full")  # newer, but not a pre-update backup

        for source in (f"{folder}/pre-update/latest", "/backup/pre-update/latest"):
            report = json.loads(run("restore", f"--source={source}", "--dry-run", "--format=json"))
            assert report["chain"] == [pre_update["id"]], source
    finally:
        testing.cleanup()
