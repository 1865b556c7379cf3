"""Who may call a view: partner keys by scope, staff sessions by their role's model permissions.

Declare per view:

    permission_classes = [HasScope("repairs:read")]

A key passes when it has the scope (for every method of the view; give write actions their own
scope with `HasScope(read="listings:read", write="leads:write")`). A logged-in staff member passes
by the model permissions of the view's queryset (view_*, add_*, ...), as in the admin. Everybody
else is refused. Views that declare nothing get StaffModelPermissions: closed to keys.
"""

from rest_framework import permissions

from accounts.models import PartnerKey
from core.api.permissions import ScopedPermission


def partner_key(request):
    """The PartnerKey the request authenticated with, or None."""
    return request.auth if isinstance(request.auth, PartnerKey) else None


class ModelPermissionsWithView(permissions.DjangoModelPermissions):
    """Django's model permissions, where reading also needs the view_* permission."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def _staff_allowed(request, view):
    user = request.user
    if partner_key(request) is not None or not (user and user.is_authenticated):
        return False
    if not (user.is_active and user.is_staff):
        return False
    return ModelPermissionsWithView().has_permission(request, view)


class StaffModelPermissions(permissions.BasePermission):
    """Staff sessions with the model permissions of the view's queryset; no partner keys."""

    def has_permission(self, request, view):
        return _staff_allowed(request, view)


class HasScope(ScopedPermission):
    """A key with the scope, or a staff session with the model permissions (see module doc).

    Used as `permission_classes = [HasScope("repairs:read")]`: DRF instantiates each entry, and an
    instance returns itself when called.
    """

    def has_permission(self, request, view):
        key = partner_key(request)
        if key is not None:
            scope = self.required_scope(request)
            return scope is None or key.has_scope(scope)
        return self.staff and _staff_allowed(request, view)


def PartnerKeyRequired():
    """Any usable partner key; no staff sessions (endpoints about the calling partner itself)."""
    return HasScope(None, staff=False)
