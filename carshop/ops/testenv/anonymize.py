"""The anonymization of a test environment's copy: personal data replaced, deterministically."""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from carshop.ops import facts
from carshop.ops.toolkit import Progress, no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from random import Random

    from django.db.models import QuerySet

CHUNK = 1000
ANONYMIZED = "[anonymized]"


# --- anonymization -----------------------------------------------------------------------------

FIRST_NAMES = (
    "Avery",
    "Blake",
    "Rowan",
    "Dana",
    "Eden",
    "Finley",
    "Gray",
    "Harper",
    "Indy",
    "Jules",
    "Kai",
    "Logan",
    "Emery",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Tatum",
    "Uma",
    "Val",
    "Wren",
    "Xan",
    "Yael",
    "Zion",
    "Arden",
    "Bellamy",
    "Corin",
    "Darcy",
)
LAST_NAMES = (
    "Ashdown",
    "Birchley",
    "Coldwell",
    "Dunmore",
    "Elmsworth",
    "Fairhaven",
    "Glenrock",
    "Hollowell",
    "Ivybridge",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Marlow",
    "Northcott",
    "Oakhurst",
    "Pemberly",
    "Quarry",
    "Rowntree",
    "Stonefield",
    "Thornbury",
    "Underhill",
    "Vale",
    "Westbrook",
    "Yarrow",
    "Ashgrove",
    "Brambleby",
    "Cresswell",
    "Dovecote",
)
STREETS = (
    "Maple Avenue",
    "Station Road",
    "Mill Lane",
    "Orchard Way",
    "Church Street",
    "Harbour View",
    "Kings Road",
    "Meadow Close",
    "Elm Grove",
    "Bridge Street",
)
COMPANY_WORDS = (
    "Northwind",
    "Bluefield",
    "Redstone",
    "Silverline",
    "Greenway",
    "Ironbridge",
    "Clearwater",
    "Highmoor",
    "Lakeside",
    "Summit",
)
COMPANY_KINDS = ("Logistics", "Services", "Transport", "Holdings", "Fleet", "Trading")
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
LEAD_MESSAGE = "Is this car still available? (message replaced in the test environment)"
NOTES_REMOVED = "(notes removed in the test environment)"

# Each app declares its own (its ops.py, collected by carshop.ops.facts):
# - fields whose values are personal: in the audit log's changes of these models they become
#   "[anonymized]", whatever the value was (a deleted customer's name survives only there);
# - the models whose audit entries are named after a person (object_repr);
# - free text that may mention people: names the copy replaces are replaced in it too.
PERSONAL_FIELDS = facts.personal_fields()
PERSON_MODELS = facts.person_models()
FREE_TEXT = facts.free_text()

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

    def __init__(self, alias: str, seed: int = 0, progress: Progress = no_progress) -> None:
        self.alias = alias
        self.seed = seed
        self.progress = progress
        self.values: dict[Any, Any] = {}  # whole original value -> replacement
        self.words: dict[Any, Any] = {}  # original word (name, email, plate) -> replacement
        self.literals: dict[Any, Any] = {}  # substrings replaced anywhere (webhook URLs)
        self.customer_names: dict[Any, Any] = {}
        self.counts: dict[Any, Any] = {}

    @staticmethod
    def preview() -> dict:
        """What a run would anonymize, counted on the live database (for --dry-run)."""
        from django.apps import apps

        tables = {m._meta.label_lower: m for m in apps.get_models()}
        counts = {}
        for label in sorted(
            set(PERSONAL_FIELDS) | {"auditlog.logentry", "repairs.invoice", "sessions.session"}
        ):
            if label in tables:
                counts[tables[label]._meta.db_table] = tables[label]._base_manager.count()
        return counts

    # -- helpers --

    def rng(self, kind: str, pk: Any) -> Random:
        return random.Random(f"{self.seed}:{kind}:{pk}")  # noqa: S311 - fake data, not secrets

    def model(self, label: str) -> Any:
        from django.apps import apps

        return apps.get_model(label)

    def remember(self, old: str, new: str, word: bool = False) -> None:
        if not old or old == new:
            return
        self.values.setdefault(old, new)
        if word or _TOKEN.fullmatch(old):
            self.words.setdefault(old, new)
            if "@" in old:  # emails are written in any case
                self.words.setdefault(old.lower(), new.lower())

    def rewrite(
        self,
        label: str,
        fields: Sequence[str],
        change: Callable[[Any], bool],
        queryset: QuerySet[Any] | None = None,
        read: Sequence[str] = (),
    ) -> int:
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
                model._base_manager.using(self.alias).bulk_update(
                    dirty, list(fields), batch_size=500
                )
                changed += len(dirty)
        self.counts[model._meta.db_table] = changed
        return changed

    def scrub_text(self, text: str) -> str:
        if not text or not isinstance(text, str):
            return text
        if text in self.values:
            return self.values[text]
        for old, new in self.literals.items():
            if old in text:
                text = text.replace(old, new)
        return _TOKEN.sub(lambda m: self.words.get(m.group(0), m.group(0)), text)

    def scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, list):
            return [self.scrub_json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub_json(item) for key, item in value.items()}
        return value

    # -- the run --

    def run(self) -> dict:
        steps = [
            self.customers,
            self.users,
            self.partners,
            self.vehicles,
            self.leads,
            self.jobs,
            self.signatures,
            self.stock_units,
            self.free_text,
            self.invoices,
            self.stored_answers,
            self.audit_log,
            self.admin_log,
            self.sessions_and_logins,
        ]
        for step in self.progress(steps, total=len(steps), label="anonymizing"):
            step()
        return self.counts

    def customers(self) -> None:
        from accounts.models import phone_digits

        def change(c: Any) -> bool:
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

        self.rewrite(
            "accounts.Customer",
            sorted(PERSONAL_FIELDS["accounts.customer"]),
            change,
            read=("kind",),
        )

    def users(self) -> None:
        from carshop.audit import SYSTEM_USERNAME

        def change(u: Any) -> bool:
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

        self.rewrite(
            "accounts.User",
            ("first_name", "last_name", "email", "phone", "password"),
            change,
            read=("username",),
        )

    def unusable_password(self, pk: Any) -> str:
        # "!" makes it unusable (Django's own mark); the rest is fixed so copies compare equal.
        return "!test-env-" + hashlib.sha256(f"{self.seed}:password:{pk}".encode()).hexdigest()[:32]

    def partners(self) -> None:
        def change(p: Any) -> bool:
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

        self.rewrite(
            "accounts.Partner", ("contact_name", "contact_email", "contact_phone", "notes"), change
        )
        now = timezone.now()

        def revoke(key: Any) -> bool:
            key.hashed_key = "!revoked-in-test-env"
            key.revoked_at = key.revoked_at or now
            return True

        self.rewrite("accounts.PartnerKey", ("hashed_key", "revoked_at"), revoke)

        def unhook(sub: Any) -> bool:
            new_url = f"https://webhooks.example.invalid/test-env/{sub.pk}"
            if sub.url:
                self.literals.setdefault(sub.url, new_url)
            sub.url = new_url
            sub.secret = hashlib.sha256(f"{self.seed}:webhook:{sub.pk}".encode()).hexdigest()
            return True

        self.rewrite("accounts.WebhookSubscription", ("url", "secret"), unhook)

    def vehicles(self) -> None:
        def change(v: Any) -> bool:
            if not v.plate:
                return False
            r = self.rng("plate", v.pk)
            new = (
                "".join(r.choice(PLATE_LETTERS) for _ in range(3))
                + "-"
                + f"{r.randint(0, 9999):04d}"
            )
            self.remember(v.plate, new, word=True)
            v.plate = new
            return True

        self.rewrite(
            "inventory.Vehicle",
            ("plate",),
            change,
            self.model("inventory.Vehicle")._base_manager.exclude(plate=""),
        )

    def leads(self) -> None:
        def change(lead: Any) -> bool:
            old = (lead.notes, lead.message)
            lead.notes = NOTES_REMOVED if lead.notes else ""
            lead.message = LEAD_MESSAGE if lead.message else ""
            return old != (lead.notes, lead.message)

        self.rewrite("sales.Lead", ("notes", "message"), change)

    def jobs(self) -> None:
        model = self.model("repairs.Job")
        customers = dict(
            model._base_manager.using(self.alias)
            .exclude(authorized_by="")
            .values_list("pk", "repair_order__customer_id")
        )

        def change(job: Any) -> bool:
            # The customer's name as given on the phone: the copy's name of the order's customer.
            new = self.customer_names.get(customers.get(job.pk)) or "Customer"
            self.remember(job.authorized_by, new)
            job.authorized_by = new
            return True

        self.rewrite(
            "repairs.Job", ("authorized_by",), change, model._base_manager.exclude(authorized_by="")
        )

    def signatures(self) -> None:
        model = self.model("repairs.EstimateSignature")
        customers = dict(
            model._base_manager.using(self.alias).values_list("pk", "repair_order__customer_id")
        )

        def change(signature: Any) -> bool:
            # The name typed to sign: the copy's name of the order's customer; no address kept.
            new = self.customer_names.get(customers.get(signature.pk)) or "Customer"
            self.remember(signature.signed_name, new)
            signature.signed_name = new
            signature.client_ip = None
            return True

        self.rewrite("repairs.EstimateSignature", ("signed_name", "client_ip"), change)

    def stock_units(self) -> None:
        model = self.model("inventory.StockUnit")
        private = ("trade_in", "private")

        def change(unit: Any) -> bool:
            old = unit.acquired_from
            if unit.source in private:
                # A person sold or traded it in: their name goes.
                unit.acquired_from = "Private seller"
            else:
                unit.acquired_from = self.scrub_text(unit.acquired_from)
            return old != unit.acquired_from

        self.rewrite(
            "inventory.StockUnit",
            ("acquired_from",),
            change,
            model._base_manager.exclude(acquired_from=""),
            read=("source",),
        )

    def free_text(self) -> None:
        for label, fields in FREE_TEXT:

            def change(row: Any, fields: Sequence[str] = fields) -> bool:
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

        customers = {
            c.pk: c
            for c in self.model("accounts.Customer")
            ._base_manager.using(self.alias)
            .filter(invoices__isnull=False)
            .distinct()
        }

        def change(invoice: Any) -> bool:
            old = json.dumps(invoice.snapshot, sort_keys=True)
            snapshot = self.scrub_json(invoice.snapshot)
            if isinstance(snapshot, dict) and snapshot.get("customer"):
                customer = customers.get(invoice.customer_id)
                snapshot["customer"] = customer_details(customer) if customer else None
            invoice.snapshot = snapshot
            return json.dumps(snapshot, sort_keys=True) != old

        self.rewrite("repairs.Invoice", ("snapshot",), change, read=("customer",))

    def stored_answers(self) -> None:
        def change(request: Any) -> bool:
            old = request.response_body
            request.response_body = self.scrub_json(old)
            return request.response_body != old

        self.rewrite("accounts.IdempotentRequest", ("response_body",), change)

    def audit_log(self) -> None:
        from django.contrib.contenttypes.models import ContentType

        labels = {
            ct.pk: f"{ct.app_label}.{ct.model}"
            for ct in ContentType.objects.db_manager(self.alias).all()
        }
        user_model = self.model("accounts.User")
        emails = dict(user_model._base_manager.using(self.alias).values_list("pk", "email"))
        existing = {}
        for label in PERSON_MODELS:
            model = self.model(label)
            existing[label] = {
                str(pk) for pk in model._base_manager.using(self.alias).values_list("pk", flat=True)
            }
        verbose = {
            label: self.model(label)._meta.verbose_name.capitalize() for label in PERSON_MODELS
        }

        def change(entry: Any) -> bool:
            label = labels.get(entry.content_type_id, "")
            personal = PERSONAL_FIELDS.get(label, set())
            gone = label in existing and entry.object_pk not in existing[label]
            old = (
                entry.object_repr,
                json.dumps(entry.changes, sort_keys=True),
                entry.changes_text,
                json.dumps(entry.serialized_data, sort_keys=True),
                json.dumps(entry.additional_data, sort_keys=True),
                entry.remote_addr,
                entry.actor_email,
            )
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
            return old != (
                entry.object_repr,
                json.dumps(entry.changes, sort_keys=True),
                entry.changes_text,
                json.dumps(entry.serialized_data, sort_keys=True),
                json.dumps(entry.additional_data, sort_keys=True),
                entry.remote_addr,
                entry.actor_email,
            )

        self.rewrite(
            "auditlog.LogEntry",
            (
                "object_repr",
                "changes",
                "changes_text",
                "serialized_data",
                "additional_data",
                "remote_addr",
                "actor_email",
            ),
            change,
            read=("content_type", "object_pk", "actor"),
        )

    def scrub_changes(self, changes: Any, personal: Collection[str]) -> Any:
        if not isinstance(changes, dict):
            return self.scrub_json(changes)
        scrubbed = {}
        for field, value in changes.items():
            if field in personal:
                scrubbed[field] = _blank_values(value)
            else:
                scrubbed[field] = self.scrub_json(value)
        return scrubbed

    def scrub_serialized(self, data: Any, personal: Collection[str]) -> Any:
        if not isinstance(data, dict):
            return self.scrub_json(data)
        data = self.scrub_json(data)
        fields = data.get("fields")
        if isinstance(fields, dict):
            data["fields"] = {
                k: (ANONYMIZED if k in personal and v not in (None, "") else v)
                for k, v in fields.items()
            }
        return data

    def admin_log(self) -> None:
        def change(entry: Any) -> bool:
            old = entry.object_repr
            entry.object_repr = self.scrub_text(old)
            return entry.object_repr != old

        self.rewrite("admin.LogEntry", ("object_repr",), change)

    def sessions_and_logins(self) -> None:
        from django.apps import apps

        for label in (
            "sessions.Session",
            "axes.AccessAttempt",
            "axes.AccessLog",
            "axes.AccessFailureLog",
            "axes.AccessAttemptExpiration",
        ):
            try:
                model = apps.get_model(label)
            except LookupError:
                continue
            deleted, _ = model._base_manager.using(self.alias).all().delete()
            self.counts[model._meta.db_table] = deleted


def _blank_values(value: Any) -> Any:
    """An audit change of a personal field: every value but empty ones becomes [anonymized]."""
    if isinstance(value, list):
        return [_blank_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _blank_values(item) for key, item in value.items()}
    if value in (None, "", "None"):
        return value
    return ANONYMIZED


def fake_phone(r: Random) -> str:
    # 555-01xx: the numbers reserved for fiction in North America; never someone's phone.
    return f"+1 {r.randint(201, 989)} 555-01{r.randint(0, 99):02d}"
