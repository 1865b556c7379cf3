from accounts.roles import ROLES, apply_roles
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Create the staff roles (groups) and give each exactly the permissions declared in "
        "accounts/roles.py, removing any other. Safe to run again.\n\n"
        "Example: python manage.py setup_roles"
    )

    def handle(self, *args, **options):
        missing = apply_roles()
        for role in ROLES:
            self.stdout.write(f"role {role}: ok")
        if missing:
            self.stdout.write(
                self.style.WARNING("not yet in the database (run migrate): " + ", ".join(missing))
            )
        self.stdout.write(self.style.SUCCESS(f"{len(ROLES)} roles set up"))
