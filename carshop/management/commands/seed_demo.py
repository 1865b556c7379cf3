import datetime
import importlib
import json
import random

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from carshop.ops.testenv.large_data import summary_path
from carshop.ops.toolkit import OperationsCommand

# Each app may have a `demo` module with seed(rng, scale, context); they run in layer order and
# pass what they created to the next through `context`.
DEMO_APPS = ("accounts", "inventory", "repairs", "sales")


def _scale(value):
    if value == "large":
        return value
    try:
        scale = int(value)
    except ValueError:
        scale = 0
    if scale < 1:
        raise CommandError(f"--scale is a whole number from 1 up, or 'large' (got {value!r})")
    return scale


class Command(OperationsCommand):
    help = (
        "Fill the database with a believable demo shop: one login per role, customers, vehicles, "
        "parts, repair orders in every status, a car lot with deals; a second service shop (East "
        "Side Service) with its own staff, orders and stock, and a manager of both (--one-shop "
        "leaves it out). Deterministic for a given --seed. Refuses to run in production.\n\n"
        "--scale large loads the data set of a group of shops after five years instead (100,000 "
        "customers, 200,000 vehicles, 1,000,000 repair orders, the lot; see "
        "carshop/ops/testenv/large_data.py) "
        "into an empty, migrated PostgreSQL database, with COPY; --fraction takes a part of it "
        "for a quick check.\n\n"
        "Examples: python manage.py seed_demo --seed 7 --scale 2\n"
        "          python manage.py seed_demo --scale large --fraction 0.01"
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--scale",
            type=_scale,
            default=1,
            help="multiplies the amount of demo data (default 1), or 'large'",
        )
        parser.add_argument(
            "--fraction",
            type=float,
            default=1.0,
            help="with --scale large: the part of the full size to load, "
            "more than 0 and at most 1 (default 1)",
        )
        parser.add_argument(
            "--until",
            default="",
            help="with --scale large: the moment the data ends (ISO 8601, "
            "default now); the same seed and --until give the same data",
        )
        parser.add_argument(
            "--one-shop",
            action="store_true",
            help="the demo of a single-shop install: Main Street Auto only, without the second "
            "shop (East Side Service), so no location is ever asked for",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing if demo data is already there (just print logins)",
        )

    def handle(self, *args, **options):
        if settings.DJANGO_ENV in ("production", "staging"):
            raise CommandError("seed_demo refuses to run in production or staging")
        if options["scale"] == "large":
            if options["one_shop"]:
                raise CommandError("--one-shop goes with the demo; --scale large is a group")
            return self.large(options)
        if options["fraction"] != 1.0 or options["until"]:
            raise CommandError("--fraction and --until go with --scale large")
        from accounts.models import User

        if options["if_empty"] and User.objects.filter(username="advisor").exists():
            self.stdout.write("demo data already loaded")
        else:
            rng = random.Random(options["seed"])
            context = {"one_shop": options["one_shop"]}
            with transaction.atomic():
                for app in DEMO_APPS:
                    try:
                        module = importlib.import_module(f"{app}.demo")
                    except ModuleNotFoundError as exc:
                        if exc.name != f"{app}.demo":
                            raise
                        continue
                    summary = module.seed(rng, options["scale"], context)
                    self.stdout.write(f"{app}: {summary}")
        self.print_logins()

    def print_logins(self, usernames=None):
        from accounts.demo import DEMO_PASSWORD
        from accounts.locations import location_count, sees_all_locations
        from accounts.models import Location, User

        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        users = User.objects.filter(is_staff=True).exclude(username="system")
        if usernames is not None:
            users = users.filter(username__in=usernames)
        group = location_count() > 1
        default = Location.default()
        for user in users.select_related("home_location").prefetch_related("groups", "locations"):
            roles = ", ".join(g.name for g in user.groups.all()) or (
                "superuser" if user.is_superuser else "-"
            )
            where = ""
            if group:  # a group of shops: where each login works
                if sees_all_locations(user):
                    where = " - every location"
                else:
                    places = [user.home_location or default, *user.locations.all()]
                    where = " - " + ", ".join(dict.fromkeys(str(place) for place in places))
            self.stdout.write(f"  {user.username:<12} {roles}{where}")
        self.stdout.write("Admin: http://127.0.0.1:8000/admin/")

    def record(self, summary):
        """Keep the run's figures in VAR_DIR (large_data.summary_path): the benchmark report
        quotes them."""
        path = summary_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=1))

    def large(self, options):
        from carshop.ops.testenv.large_data import STAFF, Generator

        fraction = options["fraction"]
        if not 0 < fraction <= 1:
            raise CommandError("--fraction is more than 0 and at most 1, e.g. 0.01")
        until = None
        if options["until"]:
            until = parse_datetime(options["until"])
            if until is None:
                raise CommandError(
                    f"--until {options['until']!r} is not an ISO 8601 moment, "
                    "e.g. 2026-06-30T18:00:00+00:00"
                )
            if until.tzinfo is None:
                until = until.replace(tzinfo=datetime.UTC)
        verbose = options["verbosity"] > 0
        generator = Generator(
            fraction=fraction,
            seed=options["seed"],
            until=until,
            log=(lambda line: self.stderr.write(line)) if verbose else None,
        )
        try:
            summary = generator.run()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.record(summary)
        self.stdout.write(
            f"Loaded in {summary['seconds']['total']} s (seed {summary['seed']}, "
            f"fraction {summary['fraction']}, until {summary['until']}):"
        )
        for label, count in summary["rows"].items():
            self.stdout.write(f"  {label:<32} {count:>12,}")
        self.print_logins(usernames=["admin", *(username for username, *_ in STAFF)])
