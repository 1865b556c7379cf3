"""outdated_dependencies and update_requirements: newer versions of the pinned packages, from the
running environment and its real package index, and moving a pin on copies of requirements/."""

import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from packaging.version import Version

from carshop.ops.dependencies.requirements import rewrite_pin, update_requirement
from tests.helpers.commands import command, parser_options, run

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"


@pytest.fixture
def requirements(tmp_path):
    """A copy of requirements/*.txt to change."""
    folder = tmp_path / "requirements"
    shutil.copytree(REQUIREMENTS, folder)
    return folder


def comment_column(text, name):
    [line] = [line for line in text.splitlines() if line.startswith(f"{name}==")]
    return line.index("#"), line


@pytest.mark.parametrize("name", ["outdated_dependencies", "update_requirements"])
def test_the_commands_keep_the_conventions(name):
    assert re.search(rf"Example: python manage.py {name}\b", command(name).help)
    assert "--format" in parser_options(name)


def test_update_requirements_has_a_dry_run():
    assert "--dry-run" in parser_options("update_requirements")


def test_a_pin_is_rewritten_with_its_comment_in_its_column():
    text = (REQUIREMENTS / "base.txt").read_text(encoding="utf-8")
    new, old = rewrite_pin(text, "django", "5.2.20")

    assert old == ["5.2.19"]
    column, line = comment_column(text, "Django")
    assert comment_column(new, "Django") == (column, line.replace("5.2.19", "5.2.20"))
    # Every other line is untouched.
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert new.endswith("\n")


def test_a_longer_version_pushes_the_comment_but_keeps_a_space():
    text = "xxhash==4.1.0   # checksums\nother==1.0\n"
    new, _old = rewrite_pin(text, "xxhash", "4.10.100.post1")
    assert new == "xxhash==4.10.100.post1 # checksums\nother==1.0\n"


def test_every_spelling_of_a_name_is_one_package():
    text = "Pillow==13.0.0   # photos\npillow==13.0.0   # reportlab\n"
    new, old = rewrite_pin(text, "PILLOW", "13.1.0")
    assert old == ["13.0.0", "13.0.0"]
    assert new == "Pillow==13.1.0   # photos\npillow==13.1.0   # reportlab\n"


def test_dry_run_shows_the_new_line_and_changes_nothing(requirements):
    before = {path.name: path.read_bytes() for path in requirements.glob("*.txt")}

    text = run(
        "update_requirements",
        "--package",
        "ruff==0.18.0",
        "--dry-run",
        "--requirements-dir",
        str(requirements),
    )

    assert "would pin ruff==0.18.0 (was 0.17.6):" in text
    assert re.search(r"development.txt: \+ ruff==0\.18\.0 +# https://docs.astral.sh/ruff/", text)
    assert {path.name: path.read_bytes() for path in requirements.glob("*.txt")} == before
    data = json.loads(
        run(
            "update_requirements",
            "--package",
            "ruff==0.18.0",
            "--dry-run",
            "--requirements-dir",
            str(requirements),
            "--format",
            "json",
        )
    )
    assert data["old_versions"] == ["0.17.6"]
    assert [row["file"] for row in data["lines"]] == ["development.txt"]


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ("ruff", r"--package must be NAME==VERSION \(for example Django==5\.2\.20\), got .ruff."),
        ("ruff>=1.0", "--package must be NAME==VERSION"),
        ("ruff==latest", "--package ruff==latest: 'latest' is not a version number"),
        ("left-pad==1.0", "left-pad is not pinned in .*; pinned: aiosmtpd, bandit, "),
        ("ruff==0.17.6", "ruff is already pinned at 0.17.6"),
    ],
)
def test_bad_packages_are_refused_and_nothing_changes(requirements, package, message):
    before = {path.name: path.read_bytes() for path in requirements.glob("*.txt")}
    with pytest.raises(CommandError, match=message):
        run("update_requirements", "--package", package, "--requirements-dir", str(requirements))
    assert {path.name: path.read_bytes() for path in requirements.glob("*.txt")} == before


def succeed(*_args):
    return [sys.executable, "-c", "pass"]


def fail(*_args):
    return [sys.executable, "-c", "raise SystemExit('2 failed, 900 passed')"]


def test_failing_tests_put_the_old_pin_back(requirements):
    before = {path.name: path.read_bytes() for path in requirements.glob("*.txt")}
    said = []

    with pytest.raises(
        CommandError,
        match=r"ruff==0\.18\.0: tests failed; the old pin "
        r"ruff==0\.17\.6 is restored and reinstalled",
    ):
        update_requirement(
            requirements, "ruff", "0.18.0", install=succeed, test=fail, say=said.append
        )

    assert {path.name: path.read_bytes() for path in requirements.glob("*.txt")} == before
    assert "tests: failed (2 failed, 900 passed)" in said
    assert "restored the old pin in development.txt" in said


def test_a_failing_install_puts_the_old_pin_back_without_running_the_tests(requirements):
    before = (requirements / "development.txt").read_bytes()
    said = []
    with pytest.raises(CommandError, match="install failed"):
        update_requirement(
            requirements, "ruff", "0.18.0", install=fail, test=succeed, say=said.append
        )
    assert (requirements / "development.txt").read_bytes() == before
    assert not [line for line in said if line.startswith("tests:")]


def test_passing_tests_keep_the_new_pin(requirements):
    steps = update_requirement(
        requirements, "ruff", "0.18.0", install=succeed, test=succeed, say=lambda line: None
    )
    assert steps[-1].startswith("tests: ok")
    assert "ruff==0.18.0                        # https://docs.astral.sh/ruff/" in (
        requirements / "development.txt"
    ).read_text(encoding="utf-8")


def test_an_index_that_does_not_answer_is_an_error_not_an_empty_report():
    with pytest.raises(
        CommandError,
        match=r"could not check for newer versions: the package "
        r"index http://127.0.0.1:9/simple did not answer",
    ):
        run("outdated_dependencies", "--index-url", "http://127.0.0.1:9/simple")


def test_the_report_of_the_running_environment(tmp_path):
    """Against the real index pip uses: an ancient pin of pip is outdated, a package not
    installed here cannot be checked (exit 1), and a network that cannot reach the index
    says so."""
    folder = tmp_path / "requirements"
    folder.mkdir()
    (folder / "base.txt").write_text(
        "pip==1.0        # the installer\ncarshop-not-installed==1.0  # nowhere\n"
    )
    out = io.StringIO()
    try:
        call_command(
            "outdated_dependencies",
            "--requirements-dir",
            str(folder),
            "--format",
            "json",
            stdout=out,
            stderr=io.StringIO(),
        )
    except CommandError as exc:
        if "could not check for newer versions" in str(exc):
            assert "did not answer" in str(exc)
            return
        assert str(exc) == "could not check 1 pins, not installed here: carshop-not-installed"
    data = json.loads(out.getvalue())
    rows = {row["name"]: row for row in data["pins"]}
    assert rows["pip"]["status"] == "outdated"
    assert Version(rows["pip"]["latest"]) >= Version(rows["pip"]["installed"]) > Version("1.0")
    assert rows["carshop-not-installed"]["status"] == "unchecked"
    assert [row["name"] for row in data["outdated"]] == ["pip"]
