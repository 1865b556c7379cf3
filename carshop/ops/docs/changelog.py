"""update_changelog: CHANGELOG.md from the commit messages.

Each commit is one line, `- subject (short hash)`, newest first, under a heading per release tag
(`## v1.2 (2026-11-29)`, commits since the newest tag under `## Unreleased`) or, in a history
without tags, per day (`## 2026-11-29`, the commit date). A merge is summarized on one line
(`- Merged branch name: ...`); the branch's own commits are listed as they are.

The file is rebuilt from the history each run, keeping what people wrote: the text before the
first `## ` heading, any line of an entry they edited (matched by its hash), lines without a hash
in a section, and sections of commits the run does not cover (`--since`). A second run without
new commits therefore writes nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.core.management.base import CommandError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from subprocess import CompletedProcess

    from _typeshed import StrPath

HEADER = (
    "# Changelog\n\n"
    "What changed in Carshop, newest first, from the commit messages "
    "(`python manage.py update_changelog`).\n"
)
_FIELD = "\x1f"
_RECORD = "\x1e"
_ENTRY_HASH = re.compile(r"\(([0-9a-f]{7,40})\)\s*$")
_MERGE = re.compile(r"^Merge (?:remote-tracking )?branch '([^']+)'(?: into \S+)?(?::\s*(.*))?$")


def _git(repository: StrPath, *args: str) -> CompletedProcess[str]:
    try:
        completed = subprocess.run(
            ["git", "-C", str(repository), *args], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise CommandError(f"git cannot run: {exc.strerror or exc}") from None
    return completed


def repository_root(folder: StrPath) -> Path:
    if shutil.which("git") is None:
        raise CommandError(
            "git is not installed (or not on PATH): the changelog is made from git log"
        )
    folder = Path(folder)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    answer = _git(folder, "rev-parse", "--show-toplevel")
    if answer.returncode != 0:
        raise CommandError(f"{folder} is not a git repository")
    return Path(answer.stdout.strip())


def _resolve(repository: StrPath, ref: str) -> str:
    answer = _git(repository, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if answer.returncode != 0:
        raise CommandError(f"--since: {ref!r} is not a commit, branch or tag of {repository}")
    return answer.stdout.strip()


def commits(repository: StrPath, since: str | None = None) -> list[dict[str, Any]]:
    """Newest first: dicts of hash, short, date (the commit date), subject, merge."""
    if _git(repository, "rev-parse", "--verify", "--quiet", "HEAD").returncode != 0:
        return []  # a repository without commits
    revision = f"{_resolve(repository, since)}..HEAD" if since else "HEAD"
    answer = _git(
        repository,
        "log",
        "--date=short",
        f"--format=%H{_FIELD}%h{_FIELD}%cd{_FIELD}%P{_FIELD}%s{_RECORD}",
        revision,
    )
    if answer.returncode != 0:
        raise CommandError(f"git log failed: {answer.stderr.strip().splitlines()[0]}")
    result = []
    for record in answer.stdout.split(_RECORD):
        record = record.strip("\n")
        if not record:
            continue
        full, short, date, parents, subject = record.split(_FIELD, 4)
        result.append(
            {
                "hash": full,
                "short": short,
                "date": date,
                "subject": subject.strip(),
                "merge": len(parents.split()) > 1,
            }
        )
    return result


def releases(repository: StrPath) -> dict[str, Any]:
    """{commit hash: (tag, date)} of the tags, for the commits the tags point to."""
    answer = _git(
        repository,
        "for-each-ref",
        "--sort=-creatordate",
        "--merged=HEAD",
        f"--format=%(refname:short){_FIELD}%(*objectname)%(objectname){_FIELD}%(creatordate:short)",
        "refs/tags",
    )
    tags: dict[Any, Any] = {}
    for line in answer.stdout.splitlines():
        name, objects, date = line.split(_FIELD)
        # Annotated tags: the commit (%(*objectname)) then the tag object; light ones: the commit.
        commit = objects[:40]
        tags.setdefault(commit, (name, date))
    return tags


def entry_line(commit: dict[str, Any]) -> str:
    subject = commit["subject"]
    if commit["merge"]:
        match = _MERGE.match(subject)
        if match:
            subject = f"Merged branch {match.group(1)}" + (
                f": {match.group(2)}" if match.group(2) else ""
            )
        else:
            subject = f"Merged: {subject}"
    return f"- {subject} ({commit['short']})"


def group(
    repository: StrPath, history: list[dict[str, Any]]
) -> OrderedDict[str, list[tuple[str, str]]]:
    """OrderedDict heading -> [(hash, line)], newest first."""
    tags = releases(repository)
    sections: OrderedDict[Any, Any] = OrderedDict()
    if tags:
        # A commit belongs to the oldest tag that contains it; commits of no tag are unreleased.
        contained = _tag_membership(repository, tags, history)
        for commit in history:
            heading = contained.get(commit["hash"], "Unreleased")
            sections.setdefault(heading, []).append((commit["short"], entry_line(commit)))
    else:
        for commit in history:
            sections.setdefault(commit["date"], []).append((commit["short"], entry_line(commit)))
    return sections


def _tag_membership(
    repository: StrPath, tags: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, str]:
    """{commit hash: heading} with the oldest tag containing each commit."""
    ordered = sorted(tags.items(), key=lambda item: item[1][1])  # oldest tag first
    membership: dict[Any, Any] = {}
    for commit, (name, date) in ordered:
        answer = _git(repository, "rev-list", commit)
        heading = f"{name} ({date})"
        for full in answer.stdout.split():
            membership.setdefault(full, heading)
    return membership


def parse(text: str) -> tuple[str, OrderedDict[str, list[str]]]:
    """(preamble, OrderedDict heading -> [lines]) of an existing changelog."""
    sections: OrderedDict[str, list[str]]
    preamble, sections, current = [], OrderedDict(), None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections.setdefault(current, [])
        elif current is None:
            preamble.append(line)
        elif line.strip():
            sections[current].append(line)
    return "\n".join(preamble).rstrip("\n") + "\n", sections


def _hash_of(line: str) -> str | None:
    match = _ENTRY_HASH.search(line)
    return match.group(1) if match else None


def render(preamble: str, sections: Mapping[str, list[str]]) -> str:
    parts = [preamble.rstrip("\n") + "\n"]
    for heading, lines in sections.items():
        parts.append(f"\n## {heading}\n\n" + "\n".join(lines) + "\n")
    return "".join(parts)


def build(
    existing_text: str | None, generated: Mapping[str, list[tuple[str, str]]]
) -> tuple[str, list[str]]:
    """The new file's text and the lines it adds."""
    old: OrderedDict[str, list[str]]
    if existing_text is None:
        preamble, old = HEADER, OrderedDict()
    else:
        preamble, old = parse(existing_text)
    old_by_hash = {}
    for lines in old.values():
        for line in lines:
            short = _hash_of(line)
            if short:
                old_by_hash[short[:7]] = line
    covered = {short[:7] for entries in generated.values() for short, _line in entries}
    added, sections = [], OrderedDict()
    for heading, entries in generated.items():
        lines = []
        for short, line in entries:
            if short[:7] in old_by_hash:
                lines.append(old_by_hash[short[:7]])  # keep an edited line
            else:
                lines.append(line)
                added.append(line)
        # Lines people wrote in this section, and entries of commits the run does not cover.
        lines.extend(
            line
            for line in old.get(heading, [])
            if (_hash_of(line) or "")[:7] not in covered and line not in lines
        )
        sections[heading] = lines
    for heading, lines in old.items():
        if heading in sections:
            continue
        kept = [line for line in lines if (_hash_of(line) or "")[:7] not in covered]
        if kept:
            sections[heading] = kept
    return render(preamble, _newest_first(sections)), added


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _newest_first(sections: Mapping[str, list[str]]) -> OrderedDict[str, list[str]]:
    """Unreleased, then the dated sections newest first, then any others in their order."""

    def dated(heading: str) -> str | None:
        match = _DATE.search(heading)
        return match.group(0) if match else None

    unreleased = [item for item in sections.items() if item[0] == "Unreleased"]
    with_date = sorted(
        (item for item in sections.items() if item[0] != "Unreleased" and dated(item[0])),
        key=lambda item: cast(str, dated(item[0])),  # the dated sections only
        reverse=True,
    )
    others = [item for item in sections.items() if item[0] != "Unreleased" and not dated(item[0])]
    return OrderedDict(unreleased + with_date + others)


def update_changelog(
    repository: StrPath,
    output: StrPath | None = None,
    since: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    root = repository_root(repository)
    output = Path(output) if output else root / "CHANGELOG.md"
    if not output.is_absolute():
        output = Path.cwd() / output
    history = commits(root, since)
    generated = group(root, history)
    existing = output.read_text(encoding="utf-8") if output.is_file() else None
    text, added = build(existing, generated)
    changed = text != existing
    if changed and not dry_run:
        if not output.parent.is_dir():
            raise CommandError(f"--output: folder {output.parent} does not exist")
        partial = output.with_name(output.name + ".partial")
        try:
            partial.write_text(text, encoding="utf-8")
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
    return {
        "repository": str(root),
        "output": str(output),
        "since": since,
        "dry_run": dry_run,
        "commits": len(history),
        "sections": list(generated),
        "added": added,
        "changed": changed,
        "merges": sum(1 for commit in history if commit["merge"]),
    }
