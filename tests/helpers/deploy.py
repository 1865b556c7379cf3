"""The deployment files of this repository (deploy/, docs/deploy.md, docs/configuration.md) and
readers for them, as operators and their tools see them."""

import re
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
LOGROTATE = DEPLOY / "logrotate" / "carapp"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def read_unit(path):
    """(section, key, value) of each line of a unit file; systemd repeats keys, INI does not."""
    entries = []
    section = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(entries, section, key):
    return [value for s, k, value in entries if s == section and k == key]


def ini_blocks(markdown, heading):
    """The ```ini blocks of a markdown section, each as a dict."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = []
    for body in re.findall(r"```ini\n(.*?)```", section, re.S):
        values = {}
        for line in body.splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, value = line.partition("=")
                values[name] = value
        blocks.append(values)
    return blocks


def documented_examples():
    """(production, staging) environment files of docs/configuration.md."""
    production, staging = ini_blocks(CONFIGURATION_DOC.read_text(), "## A production example")
    return production, staging


def production_environment(tmp_path):
    """The documented production example, with a real key and folders of this test."""
    production, _ = documented_examples()
    environment = dict(production, DJANGO_ENV="production", DEBUG="false")
    environment["SECRET_KEY"] = secrets.token_urlsafe(50)
    for name in ("VAR_DIR", "LOG_DIR", "BACKUP_DIR"):
        environment[name] = str(tmp_path / name.lower())
    return environment
