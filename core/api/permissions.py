"""What a view declares about the access it needs, for the schema to document: the scope a key
needs. Who holds scopes (partner keys) is accounts' business (accounts.api.permissions.HasScope)."""

from rest_framework import permissions


class ScopedPermission(permissions.BasePermission):
    """A permission naming the scope a key needs, for reading and for writing (None: any key).

    Used as `permission_classes = [HasScope("repairs:read")]`: DRF instantiates each entry, and an
    instance returns itself when called. `staff`: whether staff sessions may pass too.
    """

    def __init__(self, scope=None, *, read=None, write=None, staff=True):
        self.read_scope = read or scope
        self.write_scope = write or scope
        self.staff = staff

    def __call__(self):
        return self

    def __repr__(self):
        return f"{type(self).__name__}(read={self.read_scope!r}, write={self.write_scope!r})"

    def required_scope(self, request):
        if request.method in permissions.SAFE_METHODS:
            return self.read_scope
        return self.write_scope
