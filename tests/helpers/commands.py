"""Running commands the way the tests check them: management commands in this process (output
captured, refusals kept), and manage.py in a child process with a chosen environment."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parent.parent.parent
OPERATIONS_DOC = ROOT / "docs" / "operations.md"


def run(name, *args, **options):
    """What the command wrote to stdout (its stderr is swallowed)."""
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def run_json(name, *args, **options):
    """The command's report with `--format json`, parsed."""
    return json.loads(run(name, *args, "--format", "json", **options))


def run_refused(name, *args):
    """(stdout, the CommandError's message or None)."""
    out = io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def run_report(name, *args):
    """(report as JSON, CommandError or None): the report is printed also when the run fails."""
    out = io.StringIO()
    error = None
    try:
        call_command(name, *args, "--format", "json", stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        error = exc
    return json.loads(out.getvalue()), error


def findings(report, status=None):
    """{(check, status): detail} of a report's findings, of one status if given."""
    return {
        (f["check"], f["status"]): f["detail"]
        for f in report["findings"]
        if status is None or f["status"] == status
    }


def statuses(report, check):
    """The statuses a report gave one check."""
    return [f["status"] for f in report["findings"] if f["check"] == check]


def command(name):
    return load_command_class(get_commands()[name], name)


def parser_options(name):
    parser = command(name).create_parser("manage.py", name)
    return {option for action in parser._actions for option in action.option_strings}


def documented_sections():
    """{command: text of its section} of docs/operations.md."""
    sections = re.split(r"^### ", OPERATIONS_DOC.read_text(), flags=re.M)[1:]
    return {section.split("\n", 1)[0].strip(): section for section in sections}


STRONG_KEY = "k3y-" + "x7Q9pL2mN8vB4cR6tY1uW5zA0sD3fG" * 2

REALISTIC_PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "shop.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://shop.example.com",
    "DATABASE_URL": "postgres://carapp@127.0.0.1:5432/carshop",
    "CACHE_URL": "redis://127.0.0.1:6379/1?key_prefix=carshop",
    "DEBUG": "false",
}


def run_manage(environment, *args, inherit=False, drop=()):
    """manage.py in a child process.

    By default in a clean environment (PATH, LANG, HOME and `environment`, whose None values are
    left out): the developer's variables must not leak in. With `inherit`, the developer's
    environment without its DJANGO_* variables, those of REALISTIC_PRODUCTION and `drop`, under
    `environment`; logs go to var/log-test-settings unless LOG_DIR says otherwise."""
    if inherit:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in REALISTIC_PRODUCTION and k not in drop and not k.startswith("DJANGO_")
        }
        env.update(environment)
        for key in drop:
            env.pop(key, None)
        env["LOG_DIR"] = env.get("LOG_DIR", str(ROOT / "var" / "log-test-settings"))
    else:
        env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/")}
        env.update({name: value for name, value in environment.items() if value is not None})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
