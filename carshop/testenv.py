"""Test environments: an anonymized copy of the live database, and checks run against it.

create_test_env copies the live database with the backup machinery (carshop/backups): on
PostgreSQL a snapshot dump (pg_dump, the full backup's code) restored in one transaction into a
new database, checked table by table against the dump's row counts (CREATE DATABASE ... TEMPLATE
is refused while the live database has connections); on SQLite the online backup API into a file
beside the live one, built as `FILE.partial` and renamed when complete. The copy is then
anonymized in place (see `Anonymizer`) and marked with a `carshop_test_env` table. A copy that
fails half-way is removed: a half-anonymized copy is never left behind.

test_in_isolation runs its checks in a child `manage.py` process whose only database is the copy
(DATABASE_URL), after checking, in the parent and again in the child, that it is not the live
database and that it carries the mark.

Only databases with the mark are replaced (`--replace`) or checked: a mistyped --target never
drops or tests a database create_test_env did not make.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from carshop.backups import capture, postgres, service, sqlite
from carshop.backups.errors import BackupError
from carshop.backups.util import remove_quietly

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from random import Random

    from carshop.backups.service import Target

MARKER_TABLE = "carshop_test_env"
ALIAS = "carshop_test_env"
CHUNK = 1000
ANONYMIZED = "[anonymized]"
LIVE_IDENTITY_ENV = "CARSHOP_TEST_ENV_LIVE_IDENTITY"


class TestEnvError(Exception):
    """Bad input or a refused target: one line for the operator."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


# --- the databases -----------------------------------------------------------------------------

def default_name(live: Target):
    if live.vendor == "postgresql":
        return f"{live.name}_test_env"[:63]
    base, ext = os.path.splitext(live.name)
    return f"{base}_test_env{ext or '.sqlite3'}"


def resolve_target(value=None, live: Target | None = None):
    """The test environment's database: a name (PostgreSQL, same server), a path (SQLite) or a
    database URL; never the live database."""
    live = live or service.Target.live()
    value = (value or "").strip() or default_name(live)
    if "://" in value:
        from carshop.settings.env import env_db

        os.environ["CARSHOP_TEST_ENV_URL"] = value
        try:
            config = env_db("CARSHOP_TEST_ENV_URL")
        except Exception as exc:
            raise TestEnvError(f"--target: {exc}") from None
        finally:
            os.environ.pop("CARSHOP_TEST_ENV_URL", None)
        vendor = "sqlite" if config["ENGINE"].endswith("sqlite3") else (
            "postgresql" if "postgresql" in config["ENGINE"] else config["ENGINE"])
        if vendor != live.vendor:
            raise TestEnvError(f"--target is {vendor}: a copy of this database is made on "
                               f"{service.ENGINE_NAMES[live.vendor]}")
        target = service.Target(vendor, {**live.settings,
                                         **{k: v for k, v in config.items() if v}})
    elif live.vendor == "postgresql":
        if "/" in value or len(value) > 63:
            raise TestEnvError(f"--target {value!r} is not a PostgreSQL database name")
        target = live.with_name(value)
    else:
        target = live.with_name(os.path.abspath(os.path.expanduser(value)))
    if target.vendor == "sqlite" and os.path.isdir(target.name):
        raise TestEnvError(f"--target {target.name} is a folder: give a file name")
    if is_live(target, live):
        raise TestEnvError(f"--target {value} is the live database: a test environment is "
                           "always a separate copy")
    return target


def is_live(target: Target, live: Target | None = None) -> bool:
    live = live or service.Target.live()
    try:
        return service._same_database(target, live)
    except BackupError:
        return False


def target_url(target: Target) -> str:
    """DATABASE_URL of the copy, for the operator and for the child process."""
    if target.vendor == "sqlite":
        return "sqlite:///" + os.path.abspath(target.name)
    s = target.settings
    credentials = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        credentials += ":" + quote(str(s["PASSWORD"]), safe="")
    host = s.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{credentials}@/{s['NAME']}?host={quote(host, safe='')}"
    return f"postgres://{credentials}@{host}:{s.get('PORT') or 5432}/{s['NAME']}"


def shown_url(target: Target):
    """target_url() with the password hidden, for printing."""
    url = target_url(target)
    if target.vendor == "postgresql" and target.settings.get("PASSWORD"):
        url = re.sub(r"^(postgres://[^:@/]*):[^@]*@", r"\1:***@", url)
    return url


def exists(target: Target) -> bool:
    if target.vendor == "sqlite":
        return os.path.exists(target.name)
    return postgres.database_exists(target.settings, target.name)


def read_marker(target: Target) -> Any:
    """The mark create_test_env leaves in a copy (a dict), or None."""
    if not exists(target):
        return None
    if target.vendor == "sqlite":
        conn = sqlite.connect(target.name)
        try:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                 "name = ?", [MARKER_TABLE]).fetchone()
            if not found:
                return None
            row = conn.execute(f"SELECT facts FROM {MARKER_TABLE}").fetchone()  # noqa: S608
        except Exception:
            return None
        finally:
            conn.close()
    else:
        conn = postgres.connect(target.settings)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
                if cursor.fetchone()[0] is None:
                    return None
                cursor.execute(f"SELECT facts FROM {MARKER_TABLE}")  # noqa: S608
                row = cursor.fetchone()
        finally:
            conn.close()
    return json.loads(row[0]) if row else None


def drop(target: Target) -> None:
    if target.vendor == "postgresql":
        postgres.drop_database(target.settings, target.name)
    else:
        remove_quietly(*_sqlite_files(target.name))


def _sqlite_files(path) -> tuple:
    return (path, path + "-wal", path + "-shm", path + "-journal")


@contextlib.contextmanager
def opened(target: Target) -> Iterator:
    """A Django connection alias on the copy, for the ORM (`.using(ALIAS)`). The connection is
    handed to Django's handler for this thread only, not added to the configured databases:
    nothing that walks every configured database (close_all, test isolation) sees it."""
    from django.db.utils import load_backend

    settings_dict = {**connections["default"].settings_dict, **target.settings,
                     "NAME": target.name, "CONN_MAX_AGE": 0}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, ALIAS)
    connections[ALIAS] = wrapper
    try:
        yield ALIAS
    finally:
        with contextlib.suppress(Exception):
            wrapper.close()
        with contextlib.suppress(Exception):
            del connections[ALIAS]


# --- create_test_env ---------------------------------------------------------------------------

def plan(target_value: str | None = None, replace: bool = False):
    """Where the copy goes; raises TestEnvError when it must not be made."""
    live = service.Target.live()
    target = resolve_target(target_value, live)
    present = exists(target)
    if present and not replace:
        raise TestEnvError(f"{target.label()} exists: add --replace to make it again")
    if present and read_marker(target) is None:
        raise TestEnvError(f"{target.label()} exists and was not made by create_test_env: "
                           "refusing to replace it")
    return live, target, present


def create_test_env(
    target_value: str | None = None,
    replace: bool = False,
    seed: int = 0,
    dry_run: bool = False,
    test_login=None,
    progress: Callable[..., Any] | None = None,
) -> dict:
    live, target, present = plan(target_value, replace)
    report = {"source": live.label(), "target": target.label(), "target_name": target.name,
              "database_url": shown_url(target), "engine": live.vendor, "seed": seed,
              "replaced": present, "dry_run": dry_run, "test_login": None}
    if dry_run:
        report["anonymized"] = Anonymizer.preview()
        return report
    started = time.monotonic()
    building = target if target.vendor == "postgresql" else target.with_name(
        target.name + ".partial")
    try:
        _copy(live, target, building, present, progress)
        report["copy_seconds"] = round(time.monotonic() - started, 3)
        with opened(building) as alias:
            _remove_capture(alias)
            anonymizer = Anonymizer(alias, seed, progress=progress)
            with transaction.atomic(using=alias):
                report["anonymized"] = anonymizer.run()
                if test_login:
                    report["test_login"] = _test_login(alias, test_login)
                _mark(alias, live, seed)
            report["rows"] = _row_counts(alias)
        if building is not target:
            _replace_sqlite(building.name, target.name)
    except BaseException:
        connections.close_all()
        with contextlib.suppress(Exception):
            drop(building)
        raise
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def _copy(
    live: Target, target: Target, building, present, progress: Callable[..., Any] | None
) -> None:
    if live.vendor == "postgresql":
        folder = tempfile.mkdtemp(prefix="carshop-test-env-")
        try:
            dump = os.path.join(folder, "live.dump")
            info = postgres.full_backup(live.settings, dump, compress=False)
            if progress:
                progress("dumped the live database")
            if present:
                postgres.drop_database(target.settings, target.name)
            postgres.create_database(target.settings, target.name)
            # The restore checks every table's row count against the dump's before it commits.
            postgres.restore(target.settings, target.name,
                             [({"id": "test-env", "tables": info["tables"]}, dump)])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        remove_quietly(*_sqlite_files(building.name))
        folder = os.path.dirname(os.path.abspath(building.name))
        os.makedirs(folder, exist_ok=True)
        sqlite.copy_database(live.name, building.name)
        conn = sqlite.connect(building.name)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            conn.close()
    if progress:
        progress(f"copied into {target.label()}")


def _replace_sqlite(partial, final) -> None:
    remove_quietly(final + "-wal", final + "-shm", final + "-journal")
    os.replace(partial, final)


def _remove_capture(alias: str) -> None:
    """The live database's change capture (backup triggers) is not wanted in a test copy: it
    would log every anonymized row, and the copy is not backed up in the live chain."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if capture.is_installed(cursor, connection.vendor):
            capture.uninstall(cursor, connection.vendor)


def _mark(alias: str, live: Target, seed) -> None:
    facts = json.dumps({"made_at": timezone.now().isoformat(), "source": live.label(),
                        "seed": seed, "made_by": "create_test_env"})
    with connections[alias].cursor() as cursor:
        cursor.execute(f"CREATE TABLE {MARKER_TABLE} (facts text NOT NULL)")
        cursor.execute(f"INSERT INTO {MARKER_TABLE} (facts) VALUES (%s)", [facts])  # noqa: S608


def _row_counts(alias: str) -> dict:
    from django.apps import apps

    counts = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        counts[model._meta.db_table] = model._base_manager.using(alias).count()
    return counts


def _test_login(alias: str, username: str) -> dict[str, Any]:
    """The one account of the copy that can log in: an existing user (keeps their roles) or a
    new superuser. Its password is random and printed once."""
    import secrets

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    model = get_user_model()
    password = secrets.token_urlsafe(12)
    users = model._default_manager.db_manager(alias)
    user = users.filter(username=username).first()
    if user is None:
        # bulk_create: no signals, so no audit entry is credited to anybody in the copy.
        users.bulk_create([model(username=username, is_staff=True, is_superuser=True,
                                 is_active=True, password=make_password(password),
                                 first_name="Test", last_name="Login",
                                 email=f"{username}@example.com")])
        created = True
    else:
        users.filter(pk=user.pk).update(password=make_password(password), is_active=True,
                                        is_staff=True)
        created = False
    return {"username": username, "password": password, "created": created}


# --- anonymization -----------------------------------------------------------------------------

FIRST_NAMES = (
    "Avery", "Blake", "Rowan", "Dana", "Eden", "Finley", "Gray", "Harper", "Indy", "Jules",
    "Kai", "Logan", "Emery", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Tatum",
    "Uma", "Val", "Wren", "Xan", "Yael", "Zion", "Arden", "Bellamy", "Corin", "Darcy",
)
LAST_NAMES = (
    "Ashdown", "Birchley", "Coldwell", "Dunmore", "Elmsworth", "Fairhaven", "Glenrock",
    "Hollowell", "Ivybridge", "Juniper", "Kestrel", "Larkspur", "Marlow", "Northcott",
    "Oakhurst", "Pemberly", "Quarry", "Rowntree", "Stonefield", "Thornbury", "Underhill",
    "Vale", "Westbrook", "Yarrow", "Ashgrove", "Brambleby", "Cresswell", "Dovecote",
)
STREETS = ("Maple Avenue", "Station Road", "Mill Lane", "Orchard Way", "Church Street",
           "Harbour View", "Kings Road", "Meadow Close", "Elm Grove", "Bridge Street")
COMPANY_WORDS = ("Northwind", "Bluefield", "Redstone", "Silverline", "Greenway", "Ironbridge",
                 "Clearwater", "Highmoor", "Lakeside", "Summit")
COMPANY_KINDS = ("Logistics", "Services", "Transport", "Holdings", "Fleet", "Trading")
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
LEAD_MESSAGE = "Is this car still available? (message replaced in the test environment)"
NOTES_REMOVED = "(notes removed in the test environment)"

# Fields whose values are personal: in the audit log's changes of these models they become
# "[anonymized]", whatever the value was (a deleted customer's name survives only there).
PERSONAL_FIELDS = {
    "accounts.customer": {"first_name", "last_name", "company_name", "display_name", "phone",
                          "phone_other", "phone_digits", "email", "address_line",
                          "postal_code", "tax_id", "notes"},
    "accounts.user": {"first_name", "last_name", "email", "phone", "password"},
    "accounts.partner": {"contact_name", "contact_email", "contact_phone", "notes"},
    "accounts.partnerkey": {"hashed_key"},
    "accounts.webhooksubscription": {"url", "secret"},
    "sales.lead": {"notes", "message"},
    "inventory.vehicle": {"plate"},
    "repairs.job": {"authorized_by"},
    "inventory.stockunit": {"acquired_from"},
}
# The models whose audit entries are named after a person (object_repr).
PERSON_MODELS = ("accounts.customer", "accounts.user")

# Free text that may mention people: names the copy replaces are replaced in it too.
FREE_TEXT = (
    ("sales.Deal", ("notes", "close_reason")),
    ("sales.Lead", ("lost_reason",)),
    ("repairs.RepairOrder", ("notes",)),
    ("repairs.Appointment", ("concern",)),
    ("repairs.RepairOrderEvent", ("note",)),
    ("inventory.StockUnit", ("notes",)),
    ("accounts.WebhookDelivery", ("error",)),
)

# Words: letters and digits, with dots, @, +, apostrophes and hyphens inside (emails, "O'Brien").
_TOKEN = re.compile(r"\w[\w.@+'\u2019-]*\w|\w")


class Anonymizer:
    """Replaces the personal data of the copy on connection `alias`, deterministically: the same
    seed and the same data give the same copy (every fake value is drawn from a generator
    seeded by the seed, the table and the row's id).

    Kept: ids, relations, usernames and roles, VINs, money, dates, statuses, partner and
    supplier company names, customers' city and region (coarse, needed for reports).
    Replaced: customers' names, phones, emails, street addresses, postal codes and tax ids
    (notes cleared); users' names, emails and phones (passwords unusable); partners' contacts;
    webhook URLs (`.invalid`, never delivered) and secrets; API keys revoked with their hashes
    replaced; lead messages and notes; plates; who authorized a job; private sellers' names;
    invoice snapshots' customer and plate. Every name, email, phone and plate replaced is also
    replaced wherever it appears in free text, invoice snapshots, stored API answers and the
    audit log. The audit log keeps every entry (user_activity and the history pages need them):
    personal fields' values become "[anonymized]", entries of deleted customers and users lose
    their name, IP addresses and actor emails are cleared. Sessions and login-attempt records
    (axes) are deleted: they are per-person and of no use in a copy.
    """

    def __init__(
        self, alias: str, seed: int = 0, progress: Callable[..., Any] | None = None
    ) -> None:
        self.alias = alias
        self.seed = seed
        self.progress = progress
        self.values: dict[Any, Any] = {}   # whole original value -> replacement
        self.words: dict[Any, Any] = {}    # original word (name, email, plate) -> replacement
        self.literals: dict[Any, Any] = {}  # substrings replaced anywhere (webhook URLs)
        self.customer_names: dict[Any, Any] = {}
        self.counts: dict[Any, Any] = {}

    @staticmethod
    def preview() -> dict:
        """What a run would anonymize, counted on the live database (for --dry-run)."""
        from django.apps import apps

        tables = {m._meta.label_lower: m for m in apps.get_models()}
        counts = {}
        for label in sorted(set(PERSONAL_FIELDS) | {"auditlog.logentry", "repairs.invoice",
                                                     "sessions.session"}):
            if label in tables:
                counts[tables[label]._meta.db_table] = tables[label]._base_manager.count()
        return counts

    # -- helpers --

    def rng(self, kind: str, pk) -> Random:
        return random.Random(f"{self.seed}:{kind}:{pk}")  # noqa: S311 - fake data, not secrets

    def model(self, label: str):
        from django.apps import apps

        return apps.get_model(label)

    def remember(self, old, new, word: bool = False) -> None:
        if not old or old == new:
            return
        self.values.setdefault(old, new)
        if word or _TOKEN.fullmatch(old):
            self.words.setdefault(old, new)
            if "@" in old:  # emails are written in any case
                self.words.setdefault(old.lower(), new.lower())

    def rewrite(self, label: str, fields, change, queryset=None, read=()):
        """Run `change(row)` on every row (in id order, CHUNK at a time); rows for which it
        returns True have `fields` saved (bulk_update: no signals, no audit entries). `read`:
        more fields `change` reads."""
        model = self.model(label)
        queryset = queryset if queryset is not None else model._base_manager.all()
        queryset = queryset.using(self.alias).only("pk", *fields, *read).order_by("pk")
        changed = 0
        last = None
        while True:
            page = queryset if last is None else queryset.filter(pk__gt=last)
            rows = list(page[:CHUNK])
            if not rows:
                break
            last = rows[-1].pk
            dirty = [row for row in rows if change(row)]
            if dirty:
                model._base_manager.using(self.alias).bulk_update(dirty, list(fields),
                                                                  batch_size=500)
                changed += len(dirty)
        self.counts[model._meta.db_table] = changed
        if self.progress:
            self.progress(f"{model._meta.db_table}: {changed} rows anonymized")
        return changed

    def scrub_text(self, text: str):
        if not text or not isinstance(text, str):
            return text
        if text in self.values:
            return self.values[text]
        for old, new in self.literals.items():
            if old in text:
                text = text.replace(old, new)
        return _TOKEN.sub(lambda m: self.words.get(m.group(0), m.group(0)), text)

    def scrub_json(self, value):
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, list):
            return [self.scrub_json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub_json(item) for key, item in value.items()}
        return value

    # -- the run --

    def run(self) -> dict:
        self.customers()
        self.users()
        self.partners()
        self.vehicles()
        self.leads()
        self.jobs()
        self.stock_units()
        self.free_text()
        self.invoices()
        self.stored_answers()
        self.audit_log()
        self.admin_log()
        self.sessions_and_logins()
        return self.counts

    def customers(self) -> None:
        from accounts.models import phone_digits

        def change(c):
            r = self.rng("customer", c.pk)
            old = {f: getattr(c, f) for f in PERSONAL_FIELDS["accounts.customer"]}
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            if c.first_name:
                self.remember(c.first_name, first, word=True)
                c.first_name = first
            if c.last_name:
                self.remember(c.last_name, last, word=True)
                c.last_name = last
            if c.company_name:
                company = f"{r.choice(COMPANY_WORDS)} {r.choice(COMPANY_KINDS)} {c.pk}"
                self.remember(c.company_name, company)
                c.company_name = company
            for field in ("phone", "phone_other"):
                if getattr(c, field):
                    new = fake_phone(r)
                    self.remember(getattr(c, field), new)
                    setattr(c, field, new)
            if c.email:
                new = f"{(c.first_name or 'customer').lower()}.{c.pk}@example.com"
                self.remember(c.email, new, word=True)
                c.email = new
            if c.address_line:
                new = f"{r.randint(1, 999)} {r.choice(STREETS)}"
                self.remember(c.address_line, new)
                c.address_line = new
            if c.postal_code:
                c.postal_code = f"{r.randint(10000, 99999)}"
            if c.tax_id:
                new = f"TEST-{r.randint(10**7, 10**8 - 1)}"
                self.remember(c.tax_id, new, word=True)
                c.tax_id = new
            c.notes = ""
            c.display_name = c.compose_display_name()
            c.phone_digits = phone_digits(c.phone, c.phone_other)
            self.remember(old["display_name"], c.display_name)
            whole = f"{old['first_name']} {old['last_name']}".strip()
            self.remember(whole, f"{c.first_name} {c.last_name}".strip())
            self.customer_names[c.pk] = c.display_name
            return any(getattr(c, f) != v for f, v in old.items())

        self.rewrite("accounts.Customer", sorted(PERSONAL_FIELDS["accounts.customer"]), change,
                     read=("kind",))

    def users(self) -> None:
        from carshop.audit import SYSTEM_USERNAME

        def change(u):
            if u.username == SYSTEM_USERNAME or u.username.startswith("partner:"):
                # Not people: the commands' account, and partners' service users (named after
                # the partner company).
                changed = not u.password.startswith("!")
                u.password = self.unusable_password(u.pk)
                return changed
            r = self.rng("user", u.pk)
            old = (u.first_name, u.last_name, u.email, u.phone, u.password)
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            whole = u.get_full_name()
            if u.first_name:
                self.remember(u.first_name, first, word=True)
                u.first_name = first
            if u.last_name:
                self.remember(u.last_name, last, word=True)
                u.last_name = last
            self.remember(whole, u.get_full_name())
            if u.email:
                new = f"user{u.pk}@example.com"
                self.remember(u.email, new, word=True)
                u.email = new
            if u.phone:
                new = fake_phone(r)
                self.remember(u.phone, new)
                u.phone = new
            u.password = self.unusable_password(u.pk)
            return old != (u.first_name, u.last_name, u.email, u.phone, u.password)

        self.rewrite("accounts.User", ("first_name", "last_name", "email", "phone", "password"),
                     change, read=("username",))

    def unusable_password(self, pk) -> str:
        # "!" makes it unusable (Django's own mark); the rest is fixed so copies compare equal.
        return "!test-env-" + hashlib.sha256(f"{self.seed}:password:{pk}".encode()).hexdigest()[:32]

    def partners(self) -> None:
        def change(p):
            r = self.rng("partner", p.pk)
            old = (p.contact_name, p.contact_email, p.contact_phone, p.notes)
            if p.contact_name:
                new = f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"
                for old_word, new_word in zip(p.contact_name.split(), new.split(), strict=False):
                    self.remember(old_word, new_word, word=True)
                self.remember(p.contact_name, new)
                p.contact_name = new
            if p.contact_email:
                new = f"partner{p.pk}.contact@example.com"
                self.remember(p.contact_email, new, word=True)
                p.contact_email = new
            if p.contact_phone:
                new = fake_phone(r)
                self.remember(p.contact_phone, new)
                p.contact_phone = new
            p.notes = ""
            return old != (p.contact_name, p.contact_email, p.contact_phone, p.notes)

        self.rewrite("accounts.Partner", ("contact_name", "contact_email", "contact_phone",
                                          "notes"), change)
        now = timezone.now()

        def revoke(key) -> bool:
            key.hashed_key = "!revoked-in-test-env"
            key.revoked_at = key.revoked_at or now
            return True

        self.rewrite("accounts.PartnerKey", ("hashed_key", "revoked_at"), revoke)

        def unhook(sub) -> bool:
            new_url = f"https://webhooks.example.invalid/test-env/{sub.pk}"
            if sub.url:
                self.literals.setdefault(sub.url, new_url)
            sub.url = new_url
            sub.secret = hashlib.sha256(f"{self.seed}:webhook:{sub.pk}".encode()).hexdigest()
            return True

        self.rewrite("accounts.WebhookSubscription", ("url", "secret"), unhook)

    def vehicles(self) -> None:
        def change(v) -> bool:
            if not v.plate:
                return False
            r = self.rng("plate", v.pk)
            new = ("".join(r.choice(PLATE_LETTERS) for _ in range(3)) + "-"
                   + f"{r.randint(0, 9999):04d}")
            self.remember(v.plate, new, word=True)
            v.plate = new
            return True

        self.rewrite("inventory.Vehicle", ("plate",), change,
                     self.model("inventory.Vehicle")._base_manager.exclude(plate=""))

    def leads(self) -> None:
        def change(lead):
            old = (lead.notes, lead.message)
            lead.notes = NOTES_REMOVED if lead.notes else ""
            lead.message = LEAD_MESSAGE if lead.message else ""
            return old != (lead.notes, lead.message)

        self.rewrite("sales.Lead", ("notes", "message"), change)

    def jobs(self) -> None:
        model = self.model("repairs.Job")
        customers = dict(model._base_manager.using(self.alias).exclude(authorized_by="")
                         .values_list("pk", "repair_order__customer_id"))

        def change(job) -> bool:
            # The customer's name as given on the phone: the copy's name of the order's customer.
            new = self.customer_names.get(customers.get(job.pk)) or "Customer"
            self.remember(job.authorized_by, new)
            job.authorized_by = new
            return True

        self.rewrite("repairs.Job", ("authorized_by",), change,
                     model._base_manager.exclude(authorized_by=""))

    def stock_units(self) -> None:
        model = self.model("inventory.StockUnit")
        private = ("trade_in", "private")

        def change(unit):
            old = unit.acquired_from
            if unit.source in private:
                # A person sold or traded it in: their name goes.
                unit.acquired_from = "Private seller"
            else:
                unit.acquired_from = self.scrub_text(unit.acquired_from)
            return old != unit.acquired_from

        self.rewrite("inventory.StockUnit", ("acquired_from",), change,
                     model._base_manager.exclude(acquired_from=""), read=("source",))

    def free_text(self) -> None:
        for label, fields in FREE_TEXT:
            def change(row, fields=fields):
                changed = False
                for field in fields:
                    old = getattr(row, field)
                    new = self.scrub_text(old)
                    if new != old:
                        setattr(row, field, new)
                        changed = True
                return changed

            self.rewrite(label, fields, change)

    def invoices(self) -> None:
        from repairs.documents import customer_details

        customers = {c.pk: c for c in self.model("accounts.Customer")._base_manager
                     .using(self.alias).filter(invoices__isnull=False).distinct()}

        def change(invoice):
            old = json.dumps(invoice.snapshot, sort_keys=True)
            snapshot = self.scrub_json(invoice.snapshot)
            if isinstance(snapshot, dict) and snapshot.get("customer"):
                customer = customers.get(invoice.customer_id)
                snapshot["customer"] = customer_details(customer) if customer else None
            invoice.snapshot = snapshot
            return json.dumps(snapshot, sort_keys=True) != old

        self.rewrite("repairs.Invoice", ("snapshot",), change, read=("customer",))

    def stored_answers(self) -> None:
        def change(request):
            old = request.response_body
            request.response_body = self.scrub_json(old)
            return request.response_body != old

        self.rewrite("accounts.IdempotentRequest", ("response_body",), change)

    def audit_log(self) -> None:
        from django.contrib.contenttypes.models import ContentType

        labels = {ct.pk: f"{ct.app_label}.{ct.model}" for ct in
                  ContentType.objects.db_manager(self.alias).all()}
        user_model = self.model("accounts.User")
        emails = dict(user_model._base_manager.using(self.alias).values_list("pk", "email"))
        existing = {}
        for label in PERSON_MODELS:
            model = self.model(label)
            existing[label] = {str(pk) for pk in model._base_manager.using(self.alias)
                               .values_list("pk", flat=True)}
        verbose = {label: self.model(label)._meta.verbose_name.capitalize()
                   for label in PERSON_MODELS}

        def change(entry):
            label = labels.get(entry.content_type_id, "")
            personal = PERSONAL_FIELDS.get(label, set())
            gone = label in existing and entry.object_pk not in existing[label]
            old = (entry.object_repr, json.dumps(entry.changes, sort_keys=True),
                   entry.changes_text, json.dumps(entry.serialized_data, sort_keys=True),
                   json.dumps(entry.additional_data, sort_keys=True), entry.remote_addr,
                   entry.actor_email)
            if gone:
                entry.object_repr = f"{verbose[label]} #{entry.object_pk}"
            else:
                entry.object_repr = self.scrub_text(entry.object_repr)
            entry.changes = self.scrub_changes(entry.changes, personal)
            entry.changes_text = self.scrub_text(entry.changes_text)
            entry.serialized_data = self.scrub_serialized(entry.serialized_data, personal)
            entry.additional_data = self.scrub_json(entry.additional_data)
            entry.remote_addr = None
            entry.actor_email = emails.get(entry.actor_id) or None
            return old != (entry.object_repr, json.dumps(entry.changes, sort_keys=True),
                           entry.changes_text, json.dumps(entry.serialized_data,
                                                          sort_keys=True),
                           json.dumps(entry.additional_data, sort_keys=True),
                           entry.remote_addr, entry.actor_email)

        self.rewrite("auditlog.LogEntry", ("object_repr", "changes", "changes_text",
                                           "serialized_data", "additional_data", "remote_addr",
                                           "actor_email"), change,
                     read=("content_type", "object_pk", "actor"))

    def scrub_changes(self, changes, personal):
        if not isinstance(changes, dict):
            return self.scrub_json(changes)
        scrubbed = {}
        for field, value in changes.items():
            if field in personal:
                scrubbed[field] = _blank_values(value)
            else:
                scrubbed[field] = self.scrub_json(value)
        return scrubbed

    def scrub_serialized(self, data, personal):
        if not isinstance(data, dict):
            return self.scrub_json(data)
        data = self.scrub_json(data)
        fields = data.get("fields")
        if isinstance(fields, dict):
            data["fields"] = {k: (ANONYMIZED if k in personal and v not in (None, "") else v)
                              for k, v in fields.items()}
        return data

    def admin_log(self) -> None:
        def change(entry):
            old = entry.object_repr
            entry.object_repr = self.scrub_text(old)
            return entry.object_repr != old

        self.rewrite("admin.LogEntry", ("object_repr",), change)

    def sessions_and_logins(self) -> None:
        from django.apps import apps

        for label in ("sessions.Session", "axes.AccessAttempt", "axes.AccessLog",
                      "axes.AccessFailureLog", "axes.AccessAttemptExpiration"):
            try:
                model = apps.get_model(label)
            except LookupError:
                continue
            deleted, _ = model._base_manager.using(self.alias).all().delete()
            self.counts[model._meta.db_table] = deleted


def _blank_values(value):
    """An audit change of a personal field: every value but empty ones becomes [anonymized]."""
    if isinstance(value, list):
        return [_blank_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _blank_values(item) for key, item in value.items()}
    if value in (None, "", "None"):
        return value
    return ANONYMIZED


def fake_phone(r) -> str:
    # 555-01xx: the numbers reserved for fiction in North America; never someone's phone.
    return f"+1 {r.randint(201, 989)} 555-01{r.randint(0, 99):02d}"


# --- test_in_isolation -------------------------------------------------------------------------

CHECKS = ("system", "migrations", "health", "smoke")


def prepare_isolation(target_value: str | None = None) -> tuple:
    """The copy to check: never the live database, and one create_test_env made."""
    live = service.Target.live()
    target = resolve_target(target_value, live)
    if not exists(target):
        raise TestEnvError(f"{target.label()} does not exist: run create_test_env first")
    marker = read_marker(target)
    if marker is None:
        raise TestEnvError(f"{target.label()} was not made by create_test_env: checks run "
                           "only against an anonymized copy")
    return live, target, marker


def child_environment(live: Target, target: Target):
    env = {**os.environ, "DATABASE_URL": target_url(target),
           LIVE_IDENTITY_ENV: json.dumps(list(live.identity()))}
    return env


def run_in_copy(live: Target, target: Target, checks, max_queries: int, timeout: int = 1800) -> Any:
    """Run the checks in a child manage.py whose only database is the copy; returns its report."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "test_in_isolation",
               "--inside-copy", "--format=json", f"--checks={','.join(checks)}",
               f"--max-queries={max_queries}"]
    connections.close_all()
    result = subprocess.run(command, env=child_environment(live, target), capture_output=True,
                            text=True, timeout=timeout, check=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        raise TestEnvError("the checks did not run in the copy: "
                           + (lines[-1] if lines else f"exit status {result.returncode}"))\
            from None


def run_pytest(target: Target, pytest_args, timeout: int = 7200):
    """The project's pytest suite with DATABASE_URL on the copy's server (pytest-django makes its
    own test_<name> database there; on SQLite the test settings' var/test.sqlite3)."""
    live = service.Target.live()
    env = child_environment(live, target)
    env["DJANGO_ENV"] = "test"  # the suite's own settings, whatever this process runs with
    command = [sys.executable, "-m", "pytest", *pytest_args]
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=str(settings.BASE_DIR), capture_output=True,
                            text=True, timeout=timeout, check=False)
    tail = (result.stdout or "").strip().splitlines()
    return {"check": "pytest", "ok": result.returncode == 0,
            "detail": tail[-1] if tail else f"exit status {result.returncode}",
            "seconds": round(time.monotonic() - started, 2), "exit_status": result.returncode,
            "output": result.stdout[-20000:], "items": []}


def verify_inside_copy() -> Target:
    """In the child: the configured database is the copy, not the live one the parent named."""
    live_identity = os.environ.get(LIVE_IDENTITY_ENV)
    if not live_identity:
        raise TestEnvError("--inside-copy is run by test_in_isolation only")
    here = service.Target.live()
    if list(here.identity()) == json.loads(live_identity):
        raise TestEnvError("refusing: the configured database is the live database")
    if read_marker(here) is None:
        raise TestEnvError(f"refusing: {here.label()} was not made by create_test_env")
    return here


def isolated_checks(checks, max_queries: int) -> list:
    """The checks, in the process whose database is the copy. Returns [check results]."""
    runners = {"system": check_system, "migrations": check_migrations,
               "health": check_health, "smoke": lambda: smoke(max_queries)}
    results = []
    for name in checks:
        started = time.monotonic()
        try:
            result = runners[name]()
        except Exception as exc:  # one broken check must not hide the others
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            result = {"ok": False, "detail": f"could not run: {type(exc).__name__}: {first}",
                      "items": []}
        result["check"] = name
        result["seconds"] = round(time.monotonic() - started, 2)
        results.append(result)
    return results


def check_system() -> Any:
    import io

    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return {"ok": False, "detail": lines[-1] if lines else "system checks failed",
                "items": lines}
    return {"ok": True, "detail": (out.getvalue().strip().splitlines() or ["ok"])[-1],
            "items": []}


def check_migrations() -> Any:
    from django.db import connection
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    loader = executor.loader
    try:
        loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        return {"ok": False, "detail": str(exc), "items": []}
    unapplied = [f"{m.app_label}.{m.name}" for m, _ in
                 executor.migration_plan(loader.graph.leaf_nodes())]
    unknown = sorted(f"{app}.{name}" for app, name in loader.applied_migrations
                     if (app, name) not in loader.disk_migrations)
    items = [f"not applied: {name}" for name in unapplied]
    items += [f"applied in the copy, missing from the code: {name}" for name in unknown]
    detail = (f"{len(loader.applied_migrations)} migrations applied, none missing"
              if not items else f"{len(unapplied)} not applied, {len(unknown)} unknown")
    return {"ok": not items, "detail": detail, "items": items}


def check_health() -> dict[str, bool | str | list]:
    import asyncio

    from health_check.views import HealthCheckView

    from carshop.health import LIVENESS_CHECKS

    # Liveness only: backup freshness is about the live database's backups, not the copy.
    view = HealthCheckView(checks=LIVENESS_CHECKS)

    async def run_all():
        return await asyncio.gather(*(check.get_result() for check in view.get_checks()))

    items = []
    for result in asyncio.run(run_all()):
        name = type(result.check).__name__
        items.append(f"{name}: OK" if result.error is None else f"{name}: FAIL {result.error}")
    failed = [item for item in items if ": FAIL" in item]
    return {"ok": not failed, "detail": f"{len(items) - len(failed)} of {len(items)} checks OK",
            "items": items}


def smoke_pages() -> list:
    """The admin index, every admin list and the first row's change page of each, and every
    API list a staff member may read: what people and partners open first."""
    from django.contrib import admin
    from django.contrib.admin.utils import quote as admin_quote
    from django.urls import NoReverseMatch, reverse

    from carshop.api_urls import router

    pages = [reverse("admin:index")]
    for model, _model_admin in sorted(admin.site._registry.items(),
                                      key=lambda item: item[0]._meta.label):
        info = (model._meta.app_label, model._meta.model_name)
        try:
            pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            with contextlib.suppress(NoReverseMatch):
                pages.append(reverse("admin:{}_{}_change".format(*info),
                                     args=[admin_quote(first)]))
    for _prefix, viewset, basename in router.registry:
        if _partner_only(viewset):
            continue  # answers partner keys only; the copy's keys are revoked
        with contextlib.suppress(NoReverseMatch):
            pages.append(reverse(f"api:{basename}-list"))
    return pages


def _partner_only(viewset) -> bool:
    """Endpoints about the calling partner itself: no staff session is admitted."""
    from accounts.api.permissions import HasScope

    view = viewset()
    view.action = "list"
    try:
        permissions = view.get_permissions()
    except Exception:
        return False
    return bool(permissions) and all(isinstance(p, HasScope) and not p.staff
                                     for p in permissions)


def smoke(max_queries: int):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carshop.profiling import logged_in_client

    users = get_user_model()._default_manager
    user = users.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        # Made in the copy only, never in the live database; bulk_create: no audit entry.
        users.bulk_create([get_user_model()(username="test-env-smoke", is_superuser=True,
                                            is_staff=True, is_active=True,
                                            password="!")])  # noqa: S106 - unusable
        user = users.get(username="test-env-smoke")
    items, failures = [], 0
    with logged_in_client(user) as client:
        for page in smoke_pages():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(page, HTTP_ACCEPT="text/html,application/json")
            ok = response.status_code == 200 and len(queries) <= max_queries
            failures += not ok
            items.append({"page": page, "status": response.status_code,
                          "queries": len(queries), "ok": ok})
    worst = max((item["queries"] for item in items), default=0)
    return {"ok": failures == 0,
            "detail": f"{len(items) - failures} of {len(items)} pages 200 within {max_queries} "
                      f"queries (most: {worst})",
            "items": items}
