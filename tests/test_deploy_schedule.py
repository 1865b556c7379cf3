"""Every scheduled duty of MAINTENANCE-GUIDE.md ("Scheduled Maintenance Tasks", and the duties
whose sections say how often) has a systemd timer in deploy/systemd/ that starts the right
operations commands, with options the commands accept; docs/deploy.md shows the schedule."""

import re
import shutil
import subprocess

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

from tests.helpers.deploy import DEPLOY, DEPLOY_DOC, SYSTEMD, read_unit, unit_values

SCRIPT = DEPLOY / "scheduled-task.sh"

# The guide's duty: (how often, the commands that fulfil it).
GUIDE_DUTIES = {
    "daily database backup": ("daily", {"backup --type=incremental"}),
    "weekly full backup": ("weekly", {"backup --type=full"}),
    "monthly archive backup": ("monthly", {"backup --type=full --compress"}),
    "backup retention": ("daily", {"prune_backups"}),
    "performance monitoring": (
        "daily",
        {"monitor_resources", "monitor_performance", "monitor_db_connections"},
    ),
    "log analysis": ("daily", {"analyze_logs"}),
    "error log analysis": ("weekly", {"error_report"}),
    "security updates": ("weekly", {"security_scan"}),
    "inactive user audit": ("monthly", {"inactive_users"}),
    "database optimization": (
        "monthly",
        {"analyze_indexes", "optimize_indexes", "vacuum_database"},
    ),
    "data cleanup": (
        "monthly",
        {"prune_temp_data", "cleanup_orphans", "archive_logs --type=audit"},
    ),
    "recovery testing": (
        "monthly",
        {"test_recovery", "validate_restoration", "record_recovery_metrics"},
    ),
    "full security audit": ("quarterly", {"security_check", "security_scan", "list_users"}),
    "performance optimization": ("quarterly", {"optimize_queries", "analyze_cache"}),
}

FREQUENCIES = {
    "daily": r"\*-\*-\* \d\d:\d\d:\d\d",
    "weekly": r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \*-\*-\* \d\d:\d\d:\d\d",
    "monthly": r"\*-\*-\d\d \d\d:\d\d:\d\d",
    "quarterly": r"\*-01,04,07,10-\d\d \d\d:\d\d:\d\d",
}


def frequency(calendar):
    return next(name for name, pattern in FREQUENCIES.items() if re.fullmatch(pattern, calendar))


def commands_of(service):
    """The manage.py command lines (name and options) a service instance runs."""
    template, _, instance = service.removesuffix(".service").partition("@")
    exec_start = unit_values(read_unit(SYSTEMD / f"{template}@.service"), "Service", "ExecStart")
    assert len(exec_start) == 1, service
    program = exec_start[0].split()[0].replace("/opt/carapp/", "")
    result = subprocess.run(
        ["bash", str(DEPLOY.parent / program), "--dry-run", instance],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "BACKUP_DIR": "/b"},
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split("manage.py ", 1)[1] for line in result.stdout.splitlines()]
    assert lines, service
    return lines


def scheduled():
    """[(timer, how often, command line)] of every timer of deploy/systemd."""
    found = []
    for timer in sorted(SYSTEMD.glob("*.timer")):
        entries = read_unit(timer)
        [calendar] = unit_values(entries, "Timer", "OnCalendar")
        [service] = unit_values(entries, "Timer", "Unit")
        assert unit_values(entries, "Timer", "Persistent") == ["true"], timer.name
        assert unit_values(entries, "Install", "WantedBy") == ["timers.target"], timer.name
        found += [(timer.name, frequency(calendar), line) for line in commands_of(service)]
    return found


@pytest.mark.parametrize("duty", GUIDE_DUTIES)
def test_every_guide_duty_has_a_timer_at_its_frequency(duty):
    how_often, needed = GUIDE_DUTIES[duty]
    lines = [line for _, often, line in scheduled() if often == how_often]

    for command in needed:
        assert any(line == command or line.startswith(command + " ") for line in lines), (
            f"{duty}: no {how_often} timer runs `{command}`"
        )


def test_every_scheduled_command_exists_and_accepts_its_options():
    commands = get_commands()
    for timer, _, line in scheduled():
        name, *options = line.split()
        assert name in commands, f"{timer}: no command {name}"
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        try:
            parser.parse_args(options)
        except CommandError as exc:
            pytest.fail(f"{timer}: manage.py {line}: {exc}")


def test_maintenance_runs_as_the_service_does_with_its_configuration():
    task = read_unit(SYSTEMD / "carapp-task@.service")
    backup = read_unit(SYSTEMD / "carapp-backup@.service")

    assert unit_values(task, "Service", "ExecStart") == ["/opt/carapp/deploy/scheduled-task.sh %i"]
    hardening = [(k, v) for s, k, v in backup if s == "Service" and k != "ExecStart"]
    assert hardening == [(k, v) for s, k, v in task if s == "Service" and k != "ExecStart"]


def test_the_deploy_guide_shows_every_timer_with_its_schedule_and_commands():
    text = DEPLOY_DOC.read_text()
    for timer in sorted(SYSTEMD.glob("*.timer")):
        [calendar] = unit_values(read_unit(timer), "Timer", "OnCalendar")
        rows = [line for line in text.splitlines() if line.startswith(f"| `{timer.name}`")]
        assert len(rows) == 1, f"{timer.name} is not in the schedule of docs/deploy.md"
        assert f"`{calendar}`" in rows[0], f"{timer.name}: docs/deploy.md shows another time"
        for _, _, line in [s for s in scheduled() if s[0] == timer.name]:
            assert line.split()[0] in rows[0], f"{timer.name}: {line} not in docs/deploy.md"


def test_a_failing_command_does_not_stop_the_others_but_fails_the_duty(tmp_path):
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    shutil.copy(SCRIPT, app / "deploy")
    (app / ".venv" / "bin").mkdir(parents=True)
    python = app / ".venv" / "bin" / "python"
    # A fake manage.py run: writes its command down; monitor_performance fails.
    python.write_text(
        '#!/bin/sh\necho "$2" >> "$(dirname "$0")/ran"\n[ "$2" != monitor_performance ]\n'
    )
    python.chmod(0o755)

    result = subprocess.run(
        ["bash", str(app / "deploy" / "scheduled-task.sh"), "monitoring"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == "scheduled-task: monitoring: failed: monitor_performance"
    ran = (app / ".venv" / "bin" / "ran").read_text().split()
    assert ran == [
        "monitor_resources",
        "monitor_performance",
        "monitor_db_connections",
        "analyze_logs",
        "health_check",
    ]
