"""check_docs: the documentation against the files, the commands and the settings.

- links of README.md and docs/**/*.md: a relative link must name a file or folder that exists,
  and its #anchor a heading of that Markdown file (GitHub's anchors); external http(s) links are
  listed, and fetched only when asked (`online=True`);
- commands: those the docs document (a `### name` section of docs/operations.md or
  docs/backups.md, `python manage.py name` anywhere, the command column of the README's table)
  must exist in manage.py; the reverse: the project's own commands (carshop, accounts,
  inventory, repairs, sales) must be named somewhere in the docs;
- options: every `--option` (or `--option=value`) shown after `manage.py name` must be one the
  command's own parser accepts (its argparse parser, as `manage.py name --help` shows it);
- variables: the table of docs/configuration.md, .env.example and the names the settings
  (carshop/settings/*.py) and deploy/gunicorn.conf.py read, compared both ways.

Broken links, documented commands that do not exist and options they do not take are failures;
the rest are warnings.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from carshop.ops.toolkit import Report, first_line

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator

    from _typeshed import StrPath

PROJECT_APPS = ("carshop", "carshop.ops.backups", "accounts", "inventory", "repairs", "sales")
# Names `manage.py` accepts that are not commands of an app.
BUILTIN_WORDS = {"help", "version"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REF_DEF = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MANAGE = re.compile(r"manage\.py\s+([a-z][a-z0-9_]*)\b")
_BARE_URL = re.compile(r"(?<![(\"])\bhttps?://[^\s)>\]`'\"]+")
_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Where a command line shown in the docs ends: a closing backtick, a table cell, a pipe, a shell
# comment or the next shell command; `--` alone passes what follows to another program.
_COMMAND_LINE_END = re.compile(r"`|\||\s#|&&|;|\s--(?:\s|$)")
_OPTION = re.compile(r"(?<![\w-])(--[A-Za-z][A-Za-z0-9_-]*)")


def markdown_files(root: StrPath) -> list[Path]:
    root = Path(root)
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    docs = root / "docs"
    if docs.is_dir():
        files.extend(sorted(docs.rglob("*.md")))
    return files


def _lines_outside_code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _strip_code_spans(line: str) -> str:
    return _CODE_SPAN.sub(lambda match: " " * len(match.group(0)), line)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(
    path: StrPath,
    _cache: dict[tuple[Path, int], set[str]] = {},  # noqa: B006 - a cache for one run's files
) -> set[str]:
    path = Path(path)
    key = (path, path.stat().st_mtime_ns)
    if key not in _cache:
        seen: dict[str, int]
        anchors, seen = set(), {}
        text = path.read_text(encoding="utf-8", errors="replace")
        for _number, line in _lines_outside_code(text):
            match = _HEADING.match(line)
            if match:
                slug = github_anchor(match.group(2))
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                anchors.add(slug if count == 0 else f"{slug}-{count}")
            for explicit in re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", line):
                anchors.add(explicit)
        _cache[key] = anchors
    return _cache[key]


def links_of(path: StrPath) -> list[tuple[int, str, str]]:
    """(line, text, target) of each link of a Markdown file, code blocks and spans left out."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    found = []
    for number, line in _lines_outside_code(text):
        definition = _REF_DEF.match(line)
        if definition:
            found.append((number, definition.group(1), definition.group(2)))
            continue
        plain = _strip_code_spans(line)
        targets = set()
        for match in _INLINE_LINK.finditer(plain):
            found.append((number, match.group(2), match.group(3)))
            targets.add(match.group(3))
        for url in _BARE_URL.findall(plain):  # GitHub links bare URLs too
            url = url.rstrip(".,;:")
            if url not in targets:
                found.append((number, url, url))
    return found


def _external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) is not None


def check_link(root: Path, source: Path, target: str) -> str | None:
    """None when the link is good, else why it is broken."""
    path_part, _hash, anchor = target.partition("#")
    if path_part:
        resolved = (source.parent / path_part).resolve()
        if not resolved.exists():
            shown = resolved.relative_to(root) if resolved.is_relative_to(root) else resolved
            return f"no such file {shown}"
    else:
        resolved = source
    if (
        anchor
        and resolved.is_file()
        and resolved.suffix.lower() == ".md"
        and anchor.lower() not in anchors_of(resolved)
    ):
        return f"no heading #{anchor} in {resolved.relative_to(root)}"
    return None


def fetch(url: str, timeout: int = 10) -> str | None:
    """None when the URL answers below 400, else why not."""
    if not url.lower().startswith(("http://", "https://")):
        return "not an http(s) URL"
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        method="HEAD",
        headers={"User-Agent": "carshop-check-docs"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - http(s) only
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 405):  # servers that refuse HEAD: try GET
            try:
                get = urllib.request.Request(  # noqa: S310 - http(s) only
                    url, headers={"User-Agent": "carshop-check-docs"}
                )
                with urllib.request.urlopen(get, timeout=timeout):  # noqa: S310
                    return None
            except urllib.error.HTTPError as again:
                return f"HTTP {again.code}"
            except Exception as again:
                return first_line(again)
        return f"HTTP {exc.code}"
    except Exception as exc:
        return first_line(exc)


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def documented_commands(root: StrPath) -> dict[str, str]:
    """{command: first place (file:line) the docs document it}."""
    root = Path(root)
    places: dict[Any, Any] = {}

    def note(name: str, path: Path, number: int) -> None:
        if _COMMAND_NAME.match(name) and name not in BUILTIN_WORDS:
            places.setdefault(name, f"{path.relative_to(root)}:{number}")

    for path in markdown_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name in _MANAGE.findall(line):
                note(name, path, number)
        if path.parent.name == "docs" and path.name in ("operations.md", "backups.md"):
            for number, line in _lines_outside_code(text):
                match = re.match(r"^###\s+`?([a-z][a-z0-9_]*)`?\s*$", line)
                if match:
                    note(match.group(1), path, number)
        if path.name == "README.md" and path.parent == root:
            in_table = False
            for number, line in _lines_outside_code(text):
                if re.match(r"^\|\s*command\s*\|", line):
                    in_table = True
                    continue
                if in_table and not line.startswith("|"):
                    in_table = False
                if in_table:
                    first_cell = line.strip("|").split(" | ", 1)[0]
                    for span in re.findall(r"`([a-z][a-z0-9_]*)(?:[ `])", first_cell):
                        note(span, path, number)
    return places


def documented_options(root: StrPath) -> list[tuple[str, str, str]]:
    """[(command, option, place)]: each `--option` the docs show after `manage.py command`, with
    the file:line the option is on. A line ending in a backslash continues on the next one."""
    root = Path(root)
    found = []
    for path in markdown_files(root):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        number = 0
        while number < len(lines):
            line, starts = lines[number], [(0, number + 1)]  # (offset in line, line number)
            while line.rstrip().endswith("\\") and number + 1 < len(lines):
                number += 1
                line = line.rstrip()[:-1] + " "
                starts.append((len(line), number + 1))
                line += lines[number]
            number += 1
            for match in _MANAGE.finditer(line):
                rest = _COMMAND_LINE_END.split(line[match.end() :], maxsplit=1)[0]
                for option in _OPTION.finditer(rest):
                    offset = match.end() + option.start()
                    on = max(line_number for start, line_number in starts if start <= offset)
                    found.append(
                        (match.group(1), option.group(1), f"{path.relative_to(root)}:{on}")
                    )
    return found


def command_options(names: Iterable[str]) -> dict[str, set[str]]:
    """{command: the option strings its parser accepts} for the commands manage.py has."""
    from django.core.management import get_commands, load_command_class

    available = get_commands()
    options = {}
    for name in names:
        if name not in available:
            continue
        app = available[name]
        command = app if not isinstance(app, str) else load_command_class(app, name)
        parser = command.create_parser("manage.py", name)
        options[name] = {option for action in parser._actions for option in action.option_strings}
    return options


def project_commands(apps: Collection[str] = PROJECT_APPS) -> list[str]:
    from django.core.management import get_commands

    return sorted(name for name, app in get_commands().items() if app in apps)


def mentioned_commands(root: StrPath, names: Iterable[str]) -> set[str]:
    """The names that appear in the docs as a command: in backticks, as a heading, or after
    manage.py."""
    text = "\n".join(
        path.read_text(encoding="utf-8", errors="replace") for path in markdown_files(root)
    )
    found = set()
    for name in names:
        if re.search(rf"(`{name}[` ]|manage\.py\s+{name}\b|^#+\s+`?{name}`?\s*$)", text, re.M):
            found.add(name)
    return found


# ---------------------------------------------------------------------------------------------
# Variables
# ---------------------------------------------------------------------------------------------

_ENV_CALL = re.compile(r"\benv_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]+)\"")
_ENVIRON = re.compile(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]+)[\"']")
_GUNICORN = re.compile(r"[\"'](GUNICORN_[A-Z0-9_]+)[\"']")


def variables_read(root: StrPath) -> set[str]:
    root = Path(root)
    names = set()
    for path in sorted((root / "carshop" / "settings").glob("*.py")):
        text = path.read_text()
        names.update(_ENV_CALL.findall(text))
        names.update(_ENVIRON.findall(text))
    gunicorn = root / "deploy" / "gunicorn.conf.py"
    if gunicorn.is_file():
        text = gunicorn.read_text()
        names.update(_GUNICORN.findall(text))
        names.update(name for name in _ENVIRON.findall(text) if name != "RUNTIME_DIRECTORY")
    return names


def variables_documented(root: StrPath) -> set[str] | None:
    path = Path(root) / "docs" / "configuration.md"
    if not path.is_file():
        return None
    names = set()
    for _number, line in _lines_outside_code(path.read_text()):
        match = re.match(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", line)
        if match:
            names.add(match.group(1))
    return names


def variables_in_example(root: StrPath) -> set[str] | None:
    path = Path(root) / ".env.example"
    if not path.is_file():
        return None
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", path.read_text(), re.M))


def variables_read_elsewhere(root: StrPath, names: Iterable[str]) -> set[str]:
    """Of `names`, those the project's code reads outside the settings (CARSHOP_OPERATOR...)."""
    root = Path(root)
    found = set()
    sources = [
        path
        for app in ("carshop", "accounts", "inventory", "repairs", "sales")
        for path in (root / app).rglob("*.py")
    ]
    text = "\n".join(path.read_text(errors="replace") for path in sources)
    for name in names:
        if re.search(rf"[\"']{name}[\"']", text):
            found.add(name)
    return found


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


def check_docs(
    root: StrPath | None = None,
    online: bool = False,
    commands: Iterable[str] | None = None,
    own_commands: Iterable[str] | None = None,
    options: dict[str, set[str]] | None = None,
) -> Report:
    """A Report of broken links, missing and undocumented commands, unknown options and variable
    mismatches. `commands`: the names manage.py has (default: Django's); `own_commands`: the
    project's; `options`: {command: its option strings} (default: from each command's parser)."""
    from django.core.management import get_commands

    root = Path(root or settings.BASE_DIR).resolve()
    commands = set(get_commands()) if commands is None else set(commands)
    own_commands = project_commands() if own_commands is None else sorted(own_commands)
    report = Report("docs")
    files = markdown_files(root)
    if not files:
        report.fail("files", f"no README.md and no docs/*.md under {root}")
        return report
    external: list[dict[str, Any]]
    external, links, broken = [], 0, []
    for path in files:
        for number, text, target in links_of(path):
            if not target or target.startswith("mailto:"):
                continue
            place = f"{path.relative_to(root)}:{number}"
            if _external(target):
                if target.lower().startswith(("http://", "https://")):
                    external.append({"place": place, "url": target})
                continue
            links += 1
            problem = check_link(root, path, target)
            if problem:
                broken.append({"place": place, "text": text, "target": target, "problem": problem})
                report.fail("link", f"{place}: [{text}]({target}): {problem}")
    if online:
        for item in external:
            problem = fetch(item["url"])
            item["problem"] = problem
            if problem:
                report.fail("external link", f"{item['place']}: {item['url']}: {problem}")
    documented = documented_commands(root)
    missing = {name: place for name, place in documented.items() if name not in commands}
    for name, place in sorted(missing.items()):
        report.fail("missing command", f"{place}: documents `{name}`, which manage.py lacks")
    shown = [item for item in documented_options(root) if item[0] in commands]
    if options is None:
        options = command_options({name for name, _option, _place in shown})
    unknown = [
        {"command": name, "option": option, "place": place}
        for name, option, place in shown
        if name in options and option not in options[name]
    ]
    for item in unknown:
        report.fail(
            "unknown option",
            f"{item['place']}: `{item['command']} {item['option']}`: "
            f"{item['command']} has no such option",
        )
    mentioned = mentioned_commands(root, own_commands)
    undocumented = [name for name in own_commands if name not in mentioned]
    for name in undocumented:
        report.warn("undocumented command", f"{name}: named nowhere in README.md or docs/")
    variables = _compare_variables(report, root)
    if not report.failures:
        report.ok(
            "links",
            f"{links} relative links in {len(files)} files good"
            + (
                f"; {len(external)} external links "
                + ("fetched" if online else "listed, not fetched (--online)")
                if external
                else ""
            ),
        )
        report.ok(
            "commands",
            f"{len(documented)} documented commands exist; "
            f"{len(own_commands) - len(undocumented)} of the project's "
            f"{len(own_commands)} are documented",
        )
        report.ok("options", f"{len(shown)} options shown with a command exist")
    report.data.update(
        {
            "root": str(root),
            "files": [str(path.relative_to(root)) for path in files],
            "relative_links": links,
            "broken_links": broken,
            "external_links": external,
            "documented_commands": documented,
            "missing_commands": missing,
            "undocumented_commands": undocumented,
            "unknown_options": unknown,
            "variables": variables,
        }
    )
    return report


def _compare_variables(report: Report, root: StrPath) -> dict[str, Any] | None:
    read = variables_read(root)
    documented = variables_documented(root)
    example = variables_in_example(root)
    if documented is None or example is None or not read:
        report.ok(
            "variables",
            "not compared: docs/configuration.md, .env.example or the settings are missing",
        )
        return None
    elsewhere = variables_read_elsewhere(root, (documented | example) - read)
    result = {
        "read_not_documented": sorted(read - documented),
        "documented_not_read": sorted(documented - read - elsewhere),
        "read_not_in_env_example": sorted(read - example),
        "in_env_example_not_read": sorted(example - read - elsewhere),
    }
    labels = {
        "read_not_documented": "read by the settings, not in docs/configuration.md",
        "documented_not_read": "in docs/configuration.md, read nowhere",
        "read_not_in_env_example": "read by the settings, not in .env.example",
        "in_env_example_not_read": "in .env.example, read nowhere",
    }
    for key, names in result.items():
        if names:
            report.warn("variables", f"{labels[key]}: {', '.join(names)}")
    if not any(result.values()):
        report.ok(
            "variables",
            f"{len(read)} variables read by the settings and gunicorn, each "
            f"in docs/configuration.md and .env.example",
        )
    return result
