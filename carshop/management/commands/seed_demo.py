import importlib
import random

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from carshop.commands import OperationsCommand

# Each app may have a `demo` module with seed(rng, scale, context); they run in layer order and
# pass what they created to the next through `context`.
DEMO_APPS = ("accounts", "inventory", "repairs", "sales")


class Command(OperationsCommand):
    help = (
        "Fill the database with a believable demo shop: one login per role, customers, vehicles, "
        "parts, repair orders in every status, a car lot with deals. Deterministic for a given "
        "--seed. Refuses to run in production.\n\n"
        "Example: python manage.py seed_demo --seed 7 --scale 2"
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--scale", type=int, default=1,
                            help="multiplies the amount of data (default 1)")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing if demo data is already there (just print logins)")

    def handle(self, *args, **options):
        if settings.DJANGO_ENV in ("production", "staging"):
            raise CommandError("seed_demo refuses to run in production or staging")
        if options["scale"] < 1:
            raise CommandError("--scale must be 1 or more")
        from accounts.demo import DEMO_PASSWORD
        from accounts.models import User

        if options["if_empty"] and User.objects.filter(username="advisor").exists():
            self.stdout.write("demo data already loaded")
        else:
            rng = random.Random(options["seed"])
            context = {}
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
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for user in User.objects.filter(is_staff=True).exclude(username="system").prefetch_related(
            "groups"
        ):
            roles = ", ".join(g.name for g in user.groups.all()) or (
                "superuser" if user.is_superuser else "-")
            self.stdout.write(f"  {user.username:<10} {roles}")
        self.stdout.write("Admin: http://127.0.0.1:8000/admin/")
