"""security_scan: the pinned dependencies checked for known vulnerabilities (pip-audit) and the
code scanned (bandit), with reviewed exceptions (see the package).
"""

from __future__ import annotations

import fnmatch
import json
import re
import site
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from carshop.ops.toolkit import FAIL, OK, WARN, Report, first_line

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from _typeshed import StrPath
    from packaging.utils import NormalizedName

# --- security_scan ----------------------------------------------------------------------------

# Bandit rules left out, with the reason.
BANDIT_SKIPS = {
    # Importing subprocess is no finding; every call is judged by B603/B607 (and ruff's S603).
    "B404": "import of subprocess",
}
# Not the product: tests, virtual environments, caches.
SCAN_EXCLUDES = ("*/tests/*", "*/.venv/*", "*/venv/*", "*/__pycache__/*")
# A bandit finding at or above HIGH fails the scan; below, it is a warning.
BANDIT_STATUS = {"HIGH": FAIL, "MEDIUM": WARN, "LOW": WARN}
_NOQA = re.compile(r"#\s*noqa:\s*([A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)")
_REQUIREMENT_INCLUDE = re.compile(r"^\s*(?:-r|--requirement)[\s=]+(\S+)")
# What pip-audit says on standard error when the vulnerability data cannot be reached.
_UNREACHABLE = (
    "ConnectionError",
    "Could not connect",
    "Max retries",
    "timed out",
    "Name or service not known",
    "Temporary failure in name resolution",
)


def project_packages() -> list[Path]:
    """The project's own Python code: each local app's folder (outermost only) and deploy/ (the
    gunicorn configuration runs on the server)."""
    base = Path(settings.BASE_DIR).resolve()
    installed = {Path(p).resolve() for p in (sys.prefix, *site.getsitepackages())}
    folders = sorted(
        {
            Path(config.path).resolve()
            for config in apps.get_app_configs()
            if Path(config.path).resolve().is_relative_to(base)
            and not any(Path(config.path).resolve().is_relative_to(place) for place in installed)
        }
    )
    outermost = [
        folder
        for folder in folders
        if not any(folder != other and folder.is_relative_to(other) for other in folders)
    ]
    deploy = base / "deploy"
    return outermost + ([deploy] if deploy.is_dir() else [])


def default_requirement_files() -> list[Path]:
    folder = Path(settings.BASE_DIR) / "requirements"
    return [
        path for path in (folder / "production.txt", folder / "development.txt") if path.is_file()
    ]


def display_path(path: StrPath) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


@dataclass
class Pin:
    name: str
    version: str
    source: str


@dataclass
class Pins:
    pins: dict = field(default_factory=dict)  # canonical name -> Pin
    unpinned: list = field(default_factory=list)  # (requirement, file)
    missing: list = field(default_factory=list)  # files that do not exist


def read_requirements(
    files: Iterable[StrPath], pins: Pins | None = None, seen: set[Path] | None = None
) -> Pins:
    """The exact pins of requirement files, following `-r` includes; the first file naming a
    package is its source."""
    pins = pins or Pins()
    seen = seen if seen is not None else set()
    for file in files:
        path = Path(file).resolve()
        if path in seen:
            continue
        seen.add(path)
        if not path.is_file():
            pins.missing.append(display_path(path))
            continue
        for raw in path.read_text().splitlines():
            line = raw.split(" #", 1)[0].strip()
            include = _REQUIREMENT_INCLUDE.match(line)
            if include:
                read_requirements([path.parent / include.group(1)], pins, seen)
                continue
            if not line or line.startswith(("#", "-")):
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                pins.unpinned.append((line, display_path(path)))
                continue
            exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            if len(exact) != 1 or "*" in exact[0]:
                pins.unpinned.append((line, display_path(path)))
                continue
            pins.pins.setdefault(
                canonicalize_name(requirement.name),
                Pin(requirement.name, exact[0], display_path(path)),
            )
    return pins


def installed_pins(pinned: Collection[str]) -> dict[NormalizedName, Pin]:
    """What this environment has installed beyond the pins (their dependencies, mostly)."""
    extra = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = canonicalize_name(name)
        if key not in pinned and key not in extra:
            extra[key] = Pin(name, dist.version, "installed")
    return extra


def tool_available(module: str) -> bool:
    return util.find_spec(module) is not None


def run_pip_audit(
    pins: Collection[Pin], osv_url: str | None = None, timeout: int = 15
) -> tuple[Any, str]:
    """pip-audit over exact pins (no resolution, nothing installed): (JSON report or None, the
    last line of its error output)."""
    with tempfile.TemporaryDirectory(prefix="carshop-pip-audit-") as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("".join(f"{pin.name}=={pin.version}\n" for pin in pins))
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--timeout",
            str(timeout),
            "--cache-dir",
            str(Path(folder) / "cache"),
        ]
        if osv_url:
            command += ["--vulnerability-service", "osv", "--osv-url", osv_url]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=max(120, timeout * (len(pins) + 2)),
        )
    try:
        return json.loads(result.stdout), ""
    except ValueError:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit code {result.returncode}"


def audit_dependencies(
    report: Report,
    requirement_files: Iterable[StrPath] | None = None,
    *,
    offline: bool = False,
    osv_url: str | None = None,
    include_installed: bool | None = None,
    timeout: int = 15,
) -> None:
    """Known vulnerabilities of the pinned requirements (and, with the default files, of what is
    installed beside them) from PyPI's vulnerability data or an OSV service."""
    default_files = requirement_files is None
    files = default_requirement_files() if default_files else list(requirement_files)  # type: ignore[arg-type]  # not None when not default_files
    include_installed = default_files if include_installed is None else include_installed
    pins = read_requirements(files)
    for missing in pins.missing:
        report.fail("requirements", f"{missing} does not exist")
    for line, source in pins.unpinned:
        report.warn(
            "requirements",
            f"{line!r} in {source} is not pinned to one version, so it is not audited",
        )
    everything = dict(pins.pins)
    if include_installed:
        everything.update(installed_pins(pins.pins))
    names = ", ".join(display_path(file) for file in files)
    report.data["dependencies"] = {
        "requirement_files": [display_path(f) for f in files],
        "packages": len(everything),
        "vulnerable": [],
        "not_audited": [],
    }
    scope = f"{len(pins.pins)} pinned in {names}" + (
        f" and {len(everything) - len(pins.pins)} installed" if include_installed else ""
    )
    if offline:
        report.ok("dependencies", f"not audited (--offline): {scope}")
        return
    # A dependency audit that could not run is an unknown result, not a pass: FAIL, so that a
    # scheduled scan without its vulnerability data is seen. --offline is the operator's choice.
    if not tool_available("pip_audit"):
        report.fail(
            "dependencies",
            "not audited: pip-audit is not installed "
            "(requirements/production.txt); --offline skips this",
        )
        return
    service = osv_url or "PyPI's vulnerability data"
    audit, error = run_pip_audit(everything.values(), osv_url=osv_url, timeout=timeout)
    if audit is None:
        if any(marker in error for marker in _UNREACHABLE):
            report.fail(
                "dependencies",
                f"not audited: {service} cannot be reached (no network?) "
                f"— {error[:200]}; --offline skips this",
            )
        else:
            report.fail(
                "dependencies",
                f"not audited: pip-audit failed: {error[:300]}; --offline skips this",
            )
        return
    _audit_findings(report, audit, everything, scope, service)


def _audit_findings(
    report: Report, audit: dict[str, Any], pins: Any, scope: str, service: str
) -> None:
    vulnerable, skipped = [], []
    for dependency in audit.get("dependencies", []):
        pin = pins.get(canonicalize_name(dependency["name"]))
        source = pin.source if pin else "?"
        if "skip_reason" in dependency:
            skipped.append(
                {"name": dependency["name"], "source": source, "reason": dependency["skip_reason"]}
            )
            continue
        for vuln in dependency.get("vulns", []):
            vulnerable.append(
                {
                    "name": pin.name if pin else dependency["name"],
                    "version": dependency["version"],
                    "source": source,
                    "id": vuln["id"],
                    "aliases": vuln.get("aliases", []),
                    "fix_versions": vuln.get("fix_versions", []),
                    "description": vuln.get("description", ""),
                }
            )
    data = report.data["dependencies"]
    data["vulnerable"], data["not_audited"] = vulnerable, skipped
    for item in vulnerable:
        aliases = [alias for alias in item["aliases"] if alias.startswith("CVE-")]
        fix = (
            f"fixed in {', '.join(item['fix_versions'])}"
            if item["fix_versions"]
            else "no fixed version yet"
        )
        report.fail(
            f"{item['name']}=={item['version']}",
            f"{item['id']}{' (' + ', '.join(aliases) + ')' if aliases else ''}: {fix}; "
            f"{item['source']}",
        )
    audited = len(pins) - len(skipped)
    if skipped:
        names = ", ".join(item["name"] for item in skipped[:8])
        more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        if audited:
            report.warn(
                "dependencies",
                f"{len(skipped)} of {len(pins)} not audited ({names}"
                f"{more}); first reason: {skipped[0]['reason']}",
            )
        else:
            report.fail(
                "dependencies",
                f"not audited: none of {len(pins)} packages, {service} "
                f"had no data for them ({names}{more}); first reason: "
                f"{skipped[0]['reason']}; --offline skips this",
            )
    if audited and not vulnerable:
        report.ok(
            "dependencies", f"no known vulnerability in {service}: {audited} audited of {scope}"
        )


def run_bandit(paths: Iterable[Path]) -> tuple[Any, str]:
    """bandit over `paths` as JSON (its exit code says only whether it found something)."""
    command = [
        sys.executable,
        "-m",
        "bandit",
        "--recursive",
        *map(str, paths),
        "--format",
        "json",
        "--quiet",
        "--exclude",
        ",".join(SCAN_EXCLUDES),
        "--skip",
        ",".join(BANDIT_SKIPS),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=600, cwd=settings.BASE_DIR
    )
    try:
        return json.loads(result.stdout), ""
    except ValueError:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit code {result.returncode}"


def ruff_reviewed_rules(
    pyproject: StrPath | None = None,
) -> tuple[set[str], list[tuple[str, set[str]]]]:
    """(rules ignored everywhere, [(file pattern, rules)]) from ruff's settings in pyproject.toml:
    the bandit rules (S...) the project has reviewed for whole files."""
    path = Path(pyproject or Path(settings.BASE_DIR) / "pyproject.toml")
    if not path.is_file():
        return set(), []
    lint = tomllib.loads(path.read_text()).get("tool", {}).get("ruff", {}).get("lint", {})
    everywhere = {code for code in lint.get("ignore", []) if code.startswith("S")}
    per_file = [
        (pattern, {code for code in codes if code.startswith("S")})
        for pattern, codes in lint.get("per-file-ignores", {}).items()
    ]
    return everywhere, [(pattern, codes) for pattern, codes in per_file if codes]


def _reviewed(
    issue: dict[str, Any],
    rule: str,
    relative: str,
    everywhere: Collection[str],
    per_file: list[tuple[str, Any]],
    lines_of: Callable[[str], list[str]],
) -> str:
    if rule in everywhere:
        return "pyproject.toml ruff ignore"
    for pattern, codes in per_file:
        if rule in codes and fnmatch.fnmatch(relative, pattern):
            return f"pyproject.toml ruff per-file-ignores {pattern}"
    lines = lines_of(issue["filename"])
    for number in issue.get("line_range") or [issue["line_number"]]:
        if 0 < number <= len(lines):
            match = _NOQA.search(lines[number - 1])
            if match and rule in re.split(r"[\s,]+", match.group(1)):
                return f"# noqa: {rule} on line {number}"
    return ""


def scan_code(
    report: Report, paths: Iterable[StrPath] | None = None, pyproject: StrPath | None = None
) -> None:
    """bandit over the project's own packages (or `paths`); findings the project has reviewed
    (ruff noqa or per-file-ignores of the same rule, or # nosec) are counted, not reported."""
    targets = [Path(path) for path in (paths or project_packages())]
    missing = [display_path(path) for path in targets if not path.exists()]
    for path in missing:
        report.fail("code", f"{path} does not exist")
    targets = [path for path in targets if path.exists()]
    report.data["code"] = {
        "paths": [display_path(path) for path in targets],
        "issues": [],
        "reviewed": [],
    }
    if not targets:
        return
    if not tool_available("bandit"):
        report.warn("code", "bandit is not installed (requirements/production.txt)")
        return
    result, error = run_bandit(targets)
    if result is None:
        report.warn("code", f"not scanned: bandit failed: {error[:300]}")
        return
    everywhere, per_file = ruff_reviewed_rules(pyproject)
    cache = {}

    def lines_of(filename: str) -> list[str]:
        if filename not in cache:
            try:
                cache[filename] = Path(settings.BASE_DIR, filename).read_text().splitlines()
            except OSError:
                cache[filename] = []
        return cache[filename]

    issues, reviewed = [], []
    for issue in result.get("results", []):
        rule = "S" + issue["test_id"][1:]
        relative = display_path(Path(settings.BASE_DIR, issue["filename"]))
        item = {
            "rule": issue["test_id"],
            "name": issue["test_name"],
            "severity": issue["issue_severity"],
            "confidence": issue["issue_confidence"],
            "file": relative,
            "line": issue["line_number"],
            "text": issue["issue_text"],
            "more_info": issue.get("more_info", ""),
        }
        why = _reviewed(issue, rule, relative, everywhere, per_file, lines_of)
        if why:
            reviewed.append({**item, "reviewed": why})
        else:
            issues.append(item)
    issues.sort(key=lambda item: (-_SEVERITY_RANK[item["severity"]], item["file"], item["line"]))
    report.data["code"].update(issues=issues, reviewed=reviewed)
    for item in issues:
        report.add(
            BANDIT_STATUS.get(item["severity"], WARN),
            f"{item['rule']} {item['file']}:{item['line']}",
            f"{item['severity']}: {item['text']} ({item['name']})",
        )
    for error_item in result.get("errors", []):
        report.warn(
            "code",
            f"{display_path(error_item.get('filename', '?'))} not scanned: "
            f"{first_line(error_item.get('reason', 'error'))}",
        )
    totals = result.get("metrics", {}).get("_totals", {})
    files = len([name for name in result.get("metrics", {}) if name != "_totals"])
    counts = {
        level: sum(1 for item in issues if item["severity"] == level)
        for level in ("HIGH", "MEDIUM", "LOW")
    }
    summary = (
        f"{files} files, {totals.get('loc', 0)} lines: "
        f"{counts['HIGH']} high, {counts['MEDIUM']} medium, {counts['LOW']} low; "
        f"{len(reviewed)} reviewed (ruff noqa / per-file-ignores), "
        f"{totals.get('nosec', 0) + totals.get('skipped_tests', 0)} # nosec"
    )
    report.add(WARN if issues else OK, "code", summary)


_SEVERITY_RANK = {"HIGH": 3, "MEDIUM": 2, "LOW": 1, "UNDEFINED": 0}


def scan_security(
    *,
    paths: Iterable[StrPath] | None = None,
    requirement_files: Iterable[StrPath] | None = None,
    offline: bool = False,
    osv_url: str | None = None,
    timeout: int = 15,
) -> Report:
    """security_scan: known-vulnerable dependencies, then insecure patterns in the code."""
    report = Report("security scan")
    audit_dependencies(report, requirement_files, offline=offline, osv_url=osv_url, timeout=timeout)
    scan_code(report, paths)
    return report
