"""check_docs on a planted docs tree and on the real repository; update_changelog on a real git
repository."""

import shutil
import subprocess

import pytest
from django.conf import settings
from django.core.management.base import CommandError

from carshop.ops.docs.check import check_docs, github_anchor
from tests.helpers.commands import run_json


@pytest.fixture
def docs_tree(tmp_path):
    (tmp_path / "docs" / "api").mkdir(parents=True)
    (tmp_path / "README.md").write_text(
        "# Shop\n\nSee [operations](docs/operations.md#user-access) and "
        "[the API](docs/api/partners.md) and <https://example.com/x>.\n"
    )
    (tmp_path / "docs" / "operations.md").write_text(
        "# Operations\n\n## User access\n\n### list_users\n\nRun `python manage.py list_users`.\n"
        "\n## Setup and demo data\n\n```console\n[not a link](nowhere.md)\n```\n"
    )
    (tmp_path / "docs" / "api" / "partners.md").write_text(
        "# Partners\n\nBack to [operations](../operations.md#setup-and-demo-data).\n"
    )
    return tmp_path


def test_a_good_tree_passes(docs_tree):
    report = check_docs(docs_tree, commands={"list_users"}, own_commands={"list_users"})
    assert report.status == "OK", report.text_lines()
    assert report.data["relative_links"] == 3
    assert report.data["external_links"] == [
        {"place": "README.md:3", "url": "https://example.com/x"}
    ]


def test_finds_a_broken_link_an_anchor_and_a_missing_command(docs_tree):
    (docs_tree / "docs" / "api" / "partners.md").write_text(
        "# Partners\n\n[gone](../gone.md), [no such part](../operations.md#no-such-part), "
        "[here](#partners)\n\nThen `python manage.py warm_everything --now`.\n"
    )

    report = check_docs(docs_tree, commands={"list_users"}, own_commands={"list_users"})

    broken = {(item["target"], item["problem"]) for item in report.data["broken_links"]}
    assert broken == {
        ("../gone.md", "no such file docs/gone.md"),
        ("../operations.md#no-such-part", "no heading #no-such-part in docs/operations.md"),
    }
    assert report.data["missing_commands"] == {"warm_everything": "docs/api/partners.md:5"}
    assert report.status == "FAIL"


def test_finds_a_command_documented_nowhere(docs_tree):
    report = check_docs(
        docs_tree, commands={"list_users", "purge_it"}, own_commands={"list_users", "purge_it"}
    )
    assert report.data["undocumented_commands"] == ["purge_it"]
    assert report.status == "WARN"


def test_the_command_exits_non_zero_on_a_broken_link(docs_tree):
    (docs_tree / "README.md").write_text("[x](docs/missing.md)\n")
    with pytest.raises(CommandError, match=r"^docs: FAIL link: README.md:1: \[x\]"):
        run_json("check_docs", "--root", str(docs_tree))


def test_github_anchors():
    assert github_anchor("1. Packages") == "1-packages"
    assert github_anchor("`GET /api/v1/` — What the API offers") == "get-apiv1--what-the-api-offers"
    assert github_anchor("A production example") == "a-production-example"


def test_the_repository_docs_pass():
    report = run_json("check_docs")
    assert report["status"] in ("OK", "WARN")
    assert report["data"]["broken_links"] == []
    assert report["data"]["missing_commands"] == {}
    for name in (
        "analyze_cache",
        "optimize_cache",
        "optimize_assets",
        "check_docs",
        "update_changelog",
    ):
        assert name not in report["data"]["undocumented_commands"]


def test_finds_an_option_the_documented_command_does_not_take(docs_tree):
    operations = docs_tree / "docs" / "operations.md"
    operations.write_text(
        operations.read_text()
        + (
            "\n```console\n$ python manage.py list_users --role=Technician \\\n"
            "    --format json --inactive-for 90d  # shows nothing\n```\n"
            "\nOr `python manage.py list_users --role Technician` | see --not-an-option.\n"
        )
    )
    report = check_docs(docs_tree, commands={"list_users"}, own_commands={"list_users"})
    assert report.status == "FAIL"
    unknown = report.data["unknown_options"]
    assert unknown == [
        {"command": "list_users", "option": "--inactive-for", "place": "docs/operations.md:17"}
    ]
    assert any(
        finding.check == "unknown option"
        and "docs/operations.md:17" in finding.detail
        and "--inactive-for" in finding.detail
        for finding in report.failures
    )


def test_the_options_the_repository_docs_show_exist():
    report = run_json("check_docs")
    assert report["data"]["unknown_options"] == []
    assert any(
        finding["check"] == "options" and finding["status"] == "OK"
        for finding in report["findings"]
    )


# ---------------------------------------------------------------------------------------------
# update_changelog
# ---------------------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args, date=None):
    env = {
        "GIT_AUTHOR_NAME": "Shop",
        "GIT_AUTHOR_EMAIL": "shop@example.com",
        "GIT_COMMITTER_NAME": "Shop",
        "GIT_COMMITTER_EMAIL": "shop@example.com",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()


def commit(repo, message, date):
    (repo / "file.txt").write_text(message)
    git(repo, "add", "file.txt")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "--short=7", "HEAD")


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def changelog(repo, *args):
    return run_json("update_changelog", "--repository", str(repo), *args)


@needs_git
def test_changelog_by_day_newest_first_and_idempotent(repo):
    first = commit(repo, "Customers: phone numbers", "2026-03-01T10:00:00+00:00")
    second = commit(repo, "Repair orders: estimates", "2026-03-02T10:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "parts")
    third = commit(repo, "Parts: stock ledger", "2026-03-03T09:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "parts",
        "-m",
        "Merge branch 'parts'",
        date="2026-03-03T12:00:00+00:00",
    )
    merge = git(repo, "rev-parse", "--short=7", "HEAD")

    result = changelog(repo)

    assert result["commits"] == 4 and result["merges"] == 1
    text = (repo / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    body = text.split("\n## ", 1)[1]
    assert body == (
        f"2026-03-03\n\n- Merged branch parts ({merge})\n- Parts: stock ledger ({third})\n\n"
        f"## 2026-03-02\n\n- Repair orders: estimates ({second})\n\n"
        f"## 2026-03-01\n\n- Customers: phone numbers ({first})\n"
    )
    again = changelog(repo)
    assert again["added"] == [] and again["changed"] is False
    assert (repo / "CHANGELOG.md").read_text() == text


@needs_git
def test_changelog_keeps_edits_and_adds_only_new_commits(repo):
    first = commit(repo, "Customers: phone numbers", "2026-03-01T10:00:00+00:00")
    changelog(repo)
    path = repo / "CHANGELOG.md"
    path.write_text(
        path.read_text().replace("Customers: phone numbers", "Customers: phone numbers in E.164")
    )
    second = commit(repo, "Invoices: credit notes", "2026-03-04T10:00:00+00:00")

    dry = changelog(repo, "--dry-run")
    assert dry["added"] == [f"- Invoices: credit notes ({second})"]
    assert "credit notes" not in path.read_text()

    result = changelog(repo)

    assert result["added"] == [f"- Invoices: credit notes ({second})"]
    text = path.read_text()
    assert f"- Customers: phone numbers in E.164 ({first})" in text
    assert text.index("## 2026-03-04") < text.index("## 2026-03-01")
    assert changelog(repo)["added"] == []


@needs_git
def test_changelog_by_release_tag(repo):
    first = commit(repo, "First feature", "2026-03-01T10:00:00+00:00")
    git(repo, "tag", "-a", "v1.0", "-m", "v1.0", date="2026-03-01T11:00:00+00:00")
    second = commit(repo, "Second feature", "2026-03-02T10:00:00+00:00")
    git(repo, "tag", "v1.1")
    third = commit(repo, "Third feature", "2026-03-05T10:00:00+00:00")

    changelog(repo)

    text = (repo / "CHANGELOG.md").read_text()
    assert (
        f"## Unreleased\n\n- Third feature ({third})\n\n"
        f"## v1.1 (2026-03-02)\n\n- Second feature ({second})\n\n"
        f"## v1.0 (2026-03-01)\n\n- First feature ({first})\n"
    ) in text
    git(repo, "tag", "v1.2")
    changelog(repo)
    text = (repo / "CHANGELOG.md").read_text()
    assert "Unreleased" not in text
    assert f"## v1.2 (2026-03-05)\n\n- Third feature ({third})\n" in text


@needs_git
def test_changelog_since_a_ref(repo):
    commit(repo, "Old work", "2026-03-01T10:00:00+00:00")
    git(repo, "tag", "start")
    commit(repo, "New work", "2026-03-02T10:00:00+00:00")
    result = changelog(repo, "--since", "start", "--output", str(repo / "NEWS.md"))
    assert result["commits"] == 1
    assert "Old work" not in (repo / "NEWS.md").read_text()


def test_changelog_refuses_a_folder_that_is_not_a_repository(tmp_path):
    with pytest.raises(CommandError, match="is not a git repository"):
        changelog(tmp_path)
    assert not (tmp_path / "CHANGELOG.md").exists()


@needs_git
def test_changelog_refuses_an_unknown_ref(repo):
    commit(repo, "Work", "2026-03-01T10:00:00+00:00")
    with pytest.raises(CommandError, match="--since: 'nope' is not a commit"):
        changelog(repo, "--since", "nope")


def test_changelog_refuses_clearly_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH
    with pytest.raises(CommandError, match="git is not installed"):
        changelog(settings.BASE_DIR)
