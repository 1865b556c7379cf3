"""profile writes a .pstats file that pstats reads and prints the functions with the most
cumulative time, for a page (logged in, writing nothing to the database) or a command."""

import io
import json
import pstats
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError

from carshop.ops.backups import testing

pytestmark = pytest.mark.django_db(transaction=True)


def profile(*args):
    out = io.StringIO()
    call_command("profile", *args, "--format=json", stdout=out)
    return json.loads(out.getvalue())


def test_a_page_is_profiled_as_the_user_into_a_readable_pstats_file(tmp_path, manager):
    output = tmp_path / "customers.pstats"
    manager.refresh_from_db()
    last_login = manager.last_login

    report = profile(
        "--url",
        "/admin/accounts/customer/",
        "--user",
        "manager",
        "--repeat",
        "2",
        "--top",
        "5",
        "--output",
        str(output),
    )

    assert report["status"] == 200 and report["user"] == "manager" and report["repeat"] == 2
    stats = pstats.Stats(str(output))
    assert stats.total_calls > 0
    assert len(report["top"]) == 5
    assert report["top"][0]["cumtime"] >= report["top"][-1]["cumtime"]
    assert any("django" in row["file"] for row in report["top"])
    # The login wrote nothing: no session row, no last_login.
    manager.refresh_from_db()
    assert manager.last_login == last_login and not Session.objects.exists()


def test_the_text_report_lists_the_top_functions(tmp_path, admin_user):
    out = io.StringIO()
    call_command("profile", "--top", "3", "--output", str(tmp_path / "p.pstats"), stdout=out)
    text = out.getvalue()
    assert "GET /admin/ as admin (status 200)" in text  # the default: the admin index
    assert "cumtime" in text and len(text.strip().splitlines()) == 2 + 1 + 1 + 3


def test_a_command_is_profiled(tmp_path, manager):
    output = tmp_path / "users.pstats"
    report = profile("--command", "list_users --format json", "--output", str(output))
    assert report["kind"] == "command" and report["queries_per_run"] >= 1
    functions = {row["function"] for row in report["top"]}
    assert "call_command" in functions
    assert pstats.Stats(str(output)).total_calls > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "/no/such/page/"], "no page at /no/such/page/"),
        (["--url", "admin/"], "give a path that starts with /"),
        (["--url", "/admin/", "--user", "ghost"], "no user 'ghost'"),
        (["--command", "no_such_command"], "unknown command 'no_such_command'"),
        (["--command", "list_users --period=banana"], "the profiled command failed"),
        (["--repeat", "0"], "--repeat must be between 1 and 1000"),
    ],
)
def test_bad_input_gives_one_clear_line_and_writes_nothing(tmp_path, manager, args, message):
    output = tmp_path / "bad.pstats"
    with pytest.raises(CommandError, match=message):
        call_command("profile", *args, "--output", str(output), stdout=io.StringIO())
    assert not output.exists()


def test_without_a_superuser_the_default_page_asks_for_a_user(tmp_path):
    with pytest.raises(CommandError, match="no active superuser to log in as: give --user"):
        call_command("profile", "--output", str(tmp_path / "p.pstats"), stdout=io.StringIO())


def test_the_guides_usage_under_python_m_cprofile_writes_the_outer_profile(tmp_path, admin_user):
    output = tmp_path / "profile.pstats"
    manage = Path(settings.BASE_DIR) / "manage.py"
    from django.db import connections

    connections.close_all()
    result = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(output), str(manage), "profile"],
        env=testing.command_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "an outer profiler is running" in result.stdout
    stats = pstats.Stats(str(output))
    # The outer profile holds the request to the admin index.
    assert any(name == "index" and "admin" in filename for filename, _line, name in stats.stats)
