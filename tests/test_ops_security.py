"""security_check and security_scan: settings judged as a server needs them, vulnerable
dependencies and insecure code, each finding OK / WARN / FAIL with a non-zero exit on FAIL."""

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from accounts.models import PartnerKey
from tests.helpers.api import partner_with_key
from tests.helpers.commands import STRONG_KEY, findings, run_report, statuses


@pytest.fixture
def server_settings(settings):
    """The test settings made fit for a server, as production.py makes them."""
    settings.SECRET_KEY = STRONG_KEY
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["carshop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.TRUSTED_PROXY_COUNT = 1
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    # A cache every worker shares (the API's rate limits are counted in it): judged, not used.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": "carshop-test-security-check",
        }
    }
    return settings


# --- security_check ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_security_check_passes_when_the_settings_are_fit_for_a_server(server_settings):
    report, error = run_report("security_check")
    assert error is None, findings(report, "FAIL")
    assert findings(report, "FAIL") == {}
    assert findings(report, "WARN") == {}
    checks = {f["check"] for f in report["findings"]}
    for check in (
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "minimum password length",
        "AXES_FAILURE_LIMIT",
        "TRUSTED_PROXY_COUNT",
        "django checks",
        "superusers",
        "API keys",
    ):
        assert check in checks


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "check", "detail"),
    [
        ({"DEBUG": True}, "DEBUG", "True on a server shows tracebacks"),
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY", "too weak: 9 characters"),
        ({"SECRET_KEY": "django-insecure-" + STRONG_KEY}, "SECRET_KEY", "a published key"),
        (
            {"SECRET_KEY": "replace-with-50-random-characters" + STRONG_KEY},
            "SECRET_KEY",
            "a published key",
        ),
        ({"SECRET_KEY_FALLBACKS": ["old"]}, "SECRET_KEY_FALLBACKS", "key 1 of 1 is weak"),
        ({"ALLOWED_HOSTS": ["*"]}, "ALLOWED_HOSTS", "'*' answers to any host name"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE", "also sent over plain HTTP"),
        ({"AXES_ENABLED": False}, "AXES_ENABLED", "never locked out"),
        ({"AUTH_PASSWORD_VALIDATORS": []}, "AUTH_PASSWORD_VALIDATORS", "any password"),
        ({"WEBHOOK_ALLOW_INSECURE_URLS": True}, "accounts.E001", "WEBHOOK_ALLOW_INSECURE_URLS"),
    ],
)
def test_security_check_fails_on_an_insecure_setting(server_settings, override, check, detail):
    for name, value in override.items():
        setattr(server_settings, name, value)

    report, error = run_report("security_check")

    assert detail in findings(report)[(check, "FAIL")]
    assert report["status"] == "FAIL"
    assert str(error) == f"security: FAIL {check}: {findings(report)[(check, 'FAIL')]}"


@pytest.mark.django_db
def test_security_check_fails_in_any_environment_with_development_settings(settings):
    """Judged as a server would be: the test settings themselves are not fit for one."""
    assert settings.DJANGO_ENV == "test"
    settings.DEBUG = True
    report, error = run_report("security_check")
    failed = {check for check, _status in findings(report, "FAIL")}
    assert {
        "DEBUG",
        "SECRET_KEY",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "PASSWORD_HASHERS",
        "accounts.E001",
    } <= failed
    assert findings(report)[("DJANGO_ENV", "OK")] == "test (judged as a server would be)"
    assert error is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "warning"),
    [
        ({"SECURE_HSTS_SECONDS": 0}, "SECURE_HSTS_SECONDS"),
        ({"SECURE_SSL_REDIRECT": False}, "SECURE_SSL_REDIRECT"),
        ({"TRUSTED_PROXY_COUNT": 0}, "TRUSTED_PROXY_COUNT"),
        ({"SECURE_PROXY_SSL_HEADER": None}, "TRUSTED_PROXY_COUNT"),
        ({"AXES_FAILURE_LIMIT": 50}, "AXES_FAILURE_LIMIT"),
        ({"AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]]}, "AXES_LOCKOUT_PARAMETERS"),
        ({"X_FRAME_OPTIONS": "SAMEORIGIN"}, "security.W019"),  # Django's deployment check
    ],
)
def test_security_check_warns_on_weaker_choices(server_settings, override, warning):
    for name, value in override.items():
        setattr(server_settings, name, value)
    report, error = run_report("security_check")
    assert error is None
    assert statuses(report, warning) == ["WARN"]
    assert {check for check, _status in findings(report, "WARN")} == {warning}


@pytest.mark.django_db
def test_security_check_reports_dormant_superusers_and_unused_or_misused_keys(
    server_settings, make_user
):
    now = timezone.now()
    make_user("recent", superuser=True).__class__.objects.filter(username="recent").update(
        last_login=now - timedelta(days=3)
    )
    dormant = make_user("dormant", superuser=True)
    type(dormant).objects.filter(pk=dormant.pk).update(last_login=now - timedelta(days=120))
    make_user("clerk")  # not a superuser: not reported

    _partner, idle, _plain = partner_with_key("Idle Marketplace", scopes=("listings:read",))
    PartnerKey.objects.filter(pk=idle.pk).update(created_at=now - timedelta(days=45))
    _partner, fresh, _plain = partner_with_key("Fresh Fleet")  # issued today: not yet reported
    _partner, ended, _plain = partner_with_key("Ended Insurer", expires_at=now + timedelta(days=1))
    PartnerKey.objects.filter(pk=ended.pk).update(
        expires_at=now - timedelta(days=10), last_used_at=now - timedelta(days=2)
    )

    report, error = run_report("security_check")

    assert findings(report)[("superusers", "WARN")].startswith(
        "1 of 2 not logged in for 90 days: dormant"
    )
    never = findings(report)[("API keys never used", "WARN")]
    assert f"idle-marketplace/{idle.prefix}" in never and fresh.prefix not in never
    used_after_end = findings(report)[("API keys used after their end", "FAIL")]
    assert used_after_end.startswith(f"ended-insurer/{ended.prefix}: the API accepted a key")
    assert report["data"]["api_keys"]["expired_not_revoked"] == 1
    assert "security: FAIL API keys used after their end" in str(error)


def test_security_check_passes_the_documented_production_example(tmp_path):
    """The real production settings (production.py and the documented example environment) in a
    fresh process, on an SQLite file of this test."""
    from tests.helpers.commands import run_manage
    from tests.helpers.deploy import production_environment

    environment = production_environment(tmp_path)
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'carshop.sqlite3'}"
    migrated = run_manage(environment, "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr

    result = run_manage(environment, "security_check", "--format", "json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "OK", findings(report)
    assert findings(report)[("DJANGO_ENV", "OK")] == "production"
    assert findings(report)[("django checks", "OK")] == "system and deployment checks pass"


# --- security_scan: code ----------------------------------------------------------------------

PLANTED_CODE = '''"""A module with one insecure pattern, one reviewed and one marked."""
import subprocess


def list_folder(folder):
    return subprocess.run(f"ls {folder}", shell=True, check=False)


def count_rows(cursor, table):
    cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - table names from the model


def load(data):
    import pickle

    # Data from our own cache only.
    return pickle.loads(data)  # nosec B301
'''


@pytest.fixture
def planted_package(tmp_path):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shell.py").write_text(PLANTED_CODE)
    tests = package / "tests"
    tests.mkdir()
    (tests / "test_shell.py").write_text("assert eval('1 + 1') == 2\n")  # tests are not scanned
    return package


@pytest.mark.django_db
def test_security_scan_fails_on_a_planted_insecure_pattern(planted_package):
    report, error = run_report("security_scan", "--offline", "--path", str(planted_package))

    shell = planted_package / "shell.py"
    code_findings = {
        key: detail for key, detail in findings(report).items() if key[0].startswith("B")
    }
    assert set(code_findings) == {(f"B602 {shell}:6", "FAIL"), (f"B403 {shell}:14", "WARN")}
    assert code_findings[(f"B602 {shell}:6", "FAIL")].startswith(
        "HIGH: subprocess call with shell=True"
    )
    assert code_findings[(f"B403 {shell}:14", "WARN")].startswith("LOW: ")  # import pickle
    # pickle.loads (B301) is marked # nosec; the SQL is reviewed with ruff's noqa of S608.
    summary = findings(report)[("code", "WARN")]
    assert summary.endswith(
        "1 high, 0 medium, 1 low; 1 reviewed (ruff noqa / per-file-ignores), 1 # nosec"
    )
    [reviewed] = report["data"]["code"]["reviewed"]
    assert (reviewed["rule"], reviewed["line"]) == ("B608", 10)
    assert reviewed["reviewed"] == "# noqa: S608 on line 10"
    assert str(error) == (
        f"security scan: FAIL B602 {shell}:6: {code_findings[(f'B602 {shell}:6', 'FAIL')]}"
    )


@pytest.mark.django_db
def test_security_scan_finds_nothing_unreviewed_in_the_product():
    report, error = run_report("security_scan", "--offline")
    assert error is None
    assert report["data"]["code"]["issues"] == []
    assert findings(report)[("dependencies", "OK")].startswith("not audited (--offline)")
    paths = report["data"]["code"]["paths"]
    assert {
        "carshop",
        "core",
        "accounts",
        "inventory",
        "repairs",
        "sales",
        "reports",
        "messaging",
        "deploy",
    } == set(paths)
    # The backup code's SQL from introspected names is reviewed in pyproject.toml for ruff.
    assert any(
        item["reviewed"].startswith("pyproject.toml ruff per-file-ignores carshop/ops/backups")
        for item in report["data"]["code"]["reviewed"]
    )


def test_security_scan_refuses_a_folder_that_does_not_exist(tmp_path):
    report, error = run_report("security_scan", "--offline", "--path", str(tmp_path / "nowhere"))
    assert findings(report)[("code", "FAIL")].endswith("nowhere does not exist")
    assert error is not None


# --- security_scan: dependencies --------------------------------------------------------------

# An OSV record of a real advisory (Django's CVE-2021-31542), as OSV's API returns it.
DJANGO_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-rxjp-mfm9-w4wr",
    "aliases": ["CVE-2021-31542", "PYSEC-2021-7"],
    "summary": "Path Traversal in Django",
    "details": "MultiPartParser, UploadedFile, and FieldFile allowed directory traversal via "
    "uploaded files with suitably crafted file names.",
    "published": "2021-05-06T17:29:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "django"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "3.2"}, {"fixed": "3.2.1"}]}
            ],
            "versions": ["3.2"],
        }
    ],
}


class LocalOSV:
    """An OSV query API on 127.0.0.1 that knows the given advisories (pip-audit --osv-url)."""

    def __init__(self, advisories):
        self.queries = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.queries.append(query)
                name, version = query["package"]["name"], query["version"]
                vulns = [
                    advisory
                    for advisory in advisories
                    if any(
                        affected["package"]["name"] == name and version in affected["versions"]
                        for affected in advisory["affected"]
                    )
                ]
                body = json.dumps({"vulns": vulns} if vulns else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/query"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def planted_requirements(tmp_path):
    """A requirements file that includes another, with one vulnerable pin among safe ones."""
    (tmp_path / "base.txt").write_text(
        "Django==3.2           # the vulnerable pin\nvininfo==1.11.0\n"
    )
    top = tmp_path / "production.txt"
    top.write_text("-r base.txt\ngunicorn==27.0.1\nsomething-unpinned>=1.0\n")
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.py").write_text("VALUE = 1\n")
    return top, clean


@pytest.mark.django_db
def test_security_scan_reports_a_planted_vulnerable_requirement(planted_requirements):
    requirements, clean = planted_requirements
    with LocalOSV([DJANGO_ADVISORY]) as osv:
        report, error = run_report(
            "security_scan",
            "--requirement",
            str(requirements),
            "--osv-url",
            osv.url,
            "--path",
            str(clean),
        )

    assert sorted(query["package"]["name"] for query in osv.queries) == [
        "django",
        "gunicorn",
        "vininfo",
    ]
    detail = findings(report)[("Django==3.2", "FAIL")]
    assert detail == (
        f"PYSEC-2021-7 (CVE-2021-31542): fixed in 3.2.1; {requirements.parent / 'base.txt'}"
    )
    assert "'something-unpinned>=1.0'" in findings(report)[("requirements", "WARN")]
    [vulnerable] = report["data"]["dependencies"]["vulnerable"]
    assert vulnerable["description"] == "Path Traversal in Django"
    assert str(error) == f"security scan: FAIL Django==3.2: {detail}"


@pytest.mark.django_db
def test_security_scan_passes_when_no_pin_is_known_to_be_vulnerable(planted_requirements, tmp_path):
    _requirements, clean = planted_requirements
    safe = tmp_path / "safe.txt"
    safe.write_text("Django==5.2.19\n")
    with LocalOSV([DJANGO_ADVISORY]) as osv:
        report, error = run_report(
            "security_scan", "--requirement", str(safe), "--osv-url", osv.url, "--path", str(clean)
        )
    assert error is None
    assert report["status"] == "OK"
    assert findings(report)[("dependencies", "OK")] == (
        f"no known vulnerability in {osv.url}: 1 audited of 1 pinned in {safe}"
    )


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_security_scan_fails_when_the_vulnerability_data_cannot_be_reached(planted_requirements):
    requirements, clean = planted_requirements
    url = f"http://127.0.0.1:{_closed_port()}/v1/query"
    report, error = run_report(
        "security_scan", "--requirement", str(requirements), "--osv-url", url, "--path", str(clean)
    )
    # An audit that could not run is an unknown result, not a pass: cron must see it.
    detail = findings(report)[("dependencies", "FAIL")]
    assert detail.startswith(f"not audited: {url} cannot be reached (no network?)")
    assert detail.endswith("--offline skips this")
    assert str(error) == f"security scan: FAIL dependencies: {detail}"


def test_a_dependency_audit_with_no_data_for_any_package_fails(tmp_path):
    """pip-audit's answer when PyPI's vulnerability data knows none of the packages (a proxy
    that answers 404): every dependency skipped, "No known vulnerabilities found"."""
    from carshop.ops.security.scan import _audit_findings, read_requirements
    from carshop.ops.toolkit import Report

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("vininfo==1.11.0\ngunicorn==23.0.0\n")
    pins = read_requirements([requirements]).pins
    audit = {
        "dependencies": [
            {
                "name": name,
                "skip_reason": f"Dependency not found on PyPI and could not be audited: "
                f"{name} ({version})",
            }
            for name, version in (("vininfo", "1.11.0"), ("gunicorn", "23.0.0"))
        ],
        "fixes": [],
    }
    partly = {
        "dependencies": [
            audit["dependencies"][0],
            {"name": "gunicorn", "version": "23.0.0", "vulns": []},
        ]
    }

    none_audited, some_audited = Report("scan"), Report("scan")
    for report in (none_audited, some_audited):
        report.data["dependencies"] = {}
    _audit_findings(none_audited, audit, pins, "2 pinned", "PyPI's vulnerability data")
    _audit_findings(some_audited, partly, pins, "2 pinned", "PyPI's vulnerability data")

    [finding] = none_audited.findings
    assert (finding.status, finding.check) == ("FAIL", "dependencies")
    assert finding.detail.startswith(
        "not audited: none of 2 packages, PyPI's vulnerability "
        "data had no data for them (vininfo, gunicorn)"
    )
    assert [f.status for f in some_audited.findings] == ["WARN", "OK"]


@pytest.mark.django_db
def test_security_scan_against_pypi_finds_the_planted_requirement(planted_requirements):
    """Network: PyPI's own vulnerability data. Skipped where it does not answer."""
    requirements, clean = planted_requirements
    report, _error = run_report(
        "security_scan", "--requirement", str(requirements), "--path", str(clean)
    )
    vulnerable = report["data"]["dependencies"]["vulnerable"]
    audited = {item["name"] for item in report["data"]["dependencies"]["not_audited"]}
    if not vulnerable and (
        {"Django", "django"} & audited or statuses(report, "dependencies") == ["FAIL"]
    ):
        pytest.skip("PyPI's vulnerability data is not reachable from here")
    assert any("CVE-2021-31542" in item["aliases"] for item in vulnerable)
