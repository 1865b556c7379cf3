from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.toolkit import OperationsCommand
from carshop.ops.users.access import describe_user, users_with_roles


def when(moment):
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "never"


class Command(OperationsCommand):
    help = (
        "List every user account with its roles, whether it is active, staff or superuser, and "
        "its last login.\n\n"
        "Example: python manage.py list_users --role Technician --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--role", help="only users with this role (group), e.g. Technician")

    def handle(self, *args, **options):
        role = options["role"]
        if role and not Group.objects.filter(name=role).exists():
            known = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(f"no role named {role!r}; roles: {known}")
        rows = [describe_user(user) for user in users_with_roles(role)]
        width = max([len(row["username"]) for row in rows] + [8])
        lines = [f"{'username':<{width}}  {'active':<6}  {'staff':<5}  {'last login':<16}  roles"]
        for row in rows:
            roles = ", ".join(row["roles"]) or ("superuser" if row["superuser"] else "-")
            if row["superuser"] and row["roles"]:
                roles += " (superuser)"
            lines.append(
                f"{row['username']:<{width}}  {'yes' if row['active'] else 'no':<6}  "
                f"{'yes' if row['staff'] else 'no':<5}  {when(row['last_login']):<16}  {roles}"
            )
        active = sum(1 for row in rows if row["active"])
        lines.append(f"{len(rows)} users, {active} active")
        self.emit(options, {"users": rows, "count": len(rows), "active": active}, lines)
