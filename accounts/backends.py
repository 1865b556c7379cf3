"""Authentication backend: Django's ModelBackend, with the user and their permissions read in one
query on PostgreSQL.

Django reads the logged-in user on every request, then on the first permission check the user's
own permissions and their groups' permissions: three queries before an admin page has done
anything. Here the user row comes with both permission lists (array subqueries), and the caches
ModelBackend keeps on the user are filled from them, so no permission check queries again.

On other databases, and for superusers (who have every permission), it is ModelBackend as is.
Django's ModelBackend stays in AUTHENTICATION_BACKENDS after this one, so sessions that name it
(logins made before, and tests that log in with it) keep working.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connections
from django.db.models import CharField, F, OuterRef, Value
from django.db.models.functions import Concat


def _labels(**filters):
    # "app_label.codename", as ModelBackend names permissions.
    return (
        Permission.objects.filter(**filters)
        .order_by()
        .annotate(
            label=Concat(
                F("content_type__app_label"), Value("."), F("codename"), output_field=CharField()
            )
        )
        .values("label")
    )


class PermissionsInOneQueryBackend(ModelBackend):
    def get_user(self, user_id):
        user_model = get_user_model()
        manager = user_model._default_manager
        if connections[manager.db].vendor != "postgresql":
            return super().get_user(user_id)
        from django.contrib.postgres.expressions import ArraySubquery

        try:
            user = manager.annotate(
                preloaded_user_perms=ArraySubquery(_labels(user=OuterRef("pk"))),
                preloaded_group_perms=ArraySubquery(_labels(group__user=OuterRef("pk"))),
            ).get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        if user.is_active and not user.is_superuser:
            user._user_perm_cache = set(user.preloaded_user_perms)
            user._group_perm_cache = set(user.preloaded_group_perms)
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return user
