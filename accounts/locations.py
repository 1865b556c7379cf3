"""Which locations of the group a person may see and change, and which one they are looking at.

A member of staff works at their home location (the default location when they have none) and
may be allowed others; a superuser, or someone with the `accounts.work_at_all_locations`
permission, works at all of them. The back office remembers, per session, the location chosen in
its header ("all" shows every allowed location: the group); lists, searches and reports start
there. Change pages open any allowed location's record, so links from a shared customer's
history keep working.

`LocationScopedAdmin` applies this to an admin class whose model belongs to a location; partners
are scoped the same way in the API by `partner_location_ids`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Location

SESSION_KEY = "carshop_location"
ALL = "all"


def sees_all_locations(user: Any) -> bool:
    return bool(user.is_superuser or user.has_perm("accounts.work_at_all_locations"))


def home_location(user: Any) -> Location:
    """Where `user` works; the default location for someone with no home set."""
    if getattr(user, "home_location_id", None):
        return user.home_location
    return Location.default()


def allowed_location_ids(user: Any) -> frozenset[int]:
    """The ids of every location `user` may see and change; remembered on the user object for
    the request."""
    cached = getattr(user, "_carshop_location_ids", None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        ids: frozenset[int] = frozenset()
    elif location_count() == 1:
        ids = frozenset({_only_location_id()})  # a single-shop install asks nothing more
    elif sees_all_locations(user):
        ids = frozenset(Location.objects.values_list("pk", flat=True))
    else:
        others = user.locations.values_list("pk", flat=True) if user.pk else []
        ids = frozenset({home_location(user).pk, *others})
    user._carshop_location_ids = ids
    return ids


def allowed_locations(user: Any) -> QuerySet[Location]:
    return Location.objects.filter(pk__in=allowed_location_ids(user))


def may_work_at(user: Any, location: Location | int | None) -> bool:
    location_id = getattr(location, "pk", location)
    return location_id is not None and location_id in allowed_location_ids(user)


def selected_location_ids(request: HttpRequest) -> frozenset[int]:
    """The locations the request's lists start with: the one chosen in the header, every
    allowed one after choosing "all", or the user's home location."""
    allowed = allowed_location_ids(request.user)
    if len(allowed) < 2:
        return allowed
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if chosen == ALL:
        return allowed
    if isinstance(chosen, int) and chosen in allowed:
        return frozenset({chosen})
    home = home_location(request.user).pk
    return frozenset({home}) if home in allowed else allowed


def selected_location(request: HttpRequest) -> Location | None:
    """The one location chosen, or None when the group is shown."""
    ids = selected_location_ids(request)
    if len(ids) != 1:
        return None
    cache = request.__dict__.setdefault("_carshop_selected_location", {})
    if ids not in cache:
        cache[ids] = Location.objects.filter(pk=next(iter(ids))).first()
    return cache[ids]


def choose_location(request: HttpRequest, value: str) -> bool:
    """Remember `value` (a location id or "all") for the session; False when the user may not
    work there (nothing changes)."""
    if value == ALL:
        request.session[SESSION_KEY] = ALL
        return True
    try:
        location_id = int(value)
    except (TypeError, ValueError):
        return False
    if location_id not in allowed_location_ids(request.user):
        return False
    request.session[SESSION_KEY] = location_id
    return True


def partner_location_ids(partner: Any) -> frozenset[int]:
    """The locations a partner sees through the API: those it is linked to."""
    cached = getattr(partner, "_carshop_location_ids", None)
    if cached is None:
        cached = frozenset(partner.locations.values_list("pk", flat=True))
        partner._carshop_location_ids = cached
    return cached


def header_context(request: HttpRequest) -> dict[str, Any]:
    """What the back office header's location chooser shows: nothing for someone with one
    location (a single-shop install sees no extra step)."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_staff", False) or location_count() < 2:
        return {}
    allowed = allowed_location_ids(user)
    if len(allowed) < 2:
        return {}
    selected = selected_location_ids(request)
    return {
        "location_choices": list(Location.objects.filter(pk__in=allowed).only("pk", "name")),
        "location_selected": next(iter(selected)) if len(selected) == 1 else ALL,
    }


class LocationScopedAdmin:
    """For an admin whose model belongs to a location (`location_field`, a path such as
    "location" or "order__location"): its list shows the locations chosen in the header, its
    change pages open only allowed locations' records, and its location field offers only
    allowed locations, starting at the chosen one."""

    location_field = "location"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset.filter(**{f"{self.location_field}__in": allowed_location_ids(request.user)})

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        changelist = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        field = self.location_field

        class ChosenLocationsChangeList(changelist):  # type: ignore[misc, valid-type]
            def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
                queryset = super().get_queryset(request, exclude_parameters)
                return queryset.filter(**{f"{field}__in": selected_location_ids(request)})

        return ChosenLocationsChangeList

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == self.location_field:
            kwargs["queryset"] = allowed_locations(request.user).filter(is_active=True)
            chosen = selected_location(request) or home_location(request.user)
            if may_work_at(request.user, chosen):
                kwargs["initial"] = chosen.pk
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if db_field.name == self.location_field and isinstance(formfield, forms.ModelChoiceField):
            formfield.error_messages["invalid_choice"] = "Choose one of the locations you work at."
        return formfield


_COUNT_KEY = "carshop:location-count"
_ONLY_KEY = "carshop:only-location"


def location_count() -> int:
    """How many locations the group has, kept in the cache (cleared when one is added or
    removed): pages of a single-shop install ask the database nothing about locations."""
    from django.core.cache import cache

    count = cache.get(_COUNT_KEY)
    if count is None:
        first = list(Location.objects.order_by("pk").values_list("pk", flat=True)[:2])
        count = len(first) if len(first) < 2 else Location.objects.count()
        cache.set(_COUNT_KEY, count, 3600)
        if first:
            cache.set(_ONLY_KEY, first[0], 3600)
    return int(count)


def _only_location_id() -> int:
    """The id of the group's first location, the default one (kept in the cache with the
    count; locations are never deleted)."""
    from django.core.cache import cache

    location_id = cache.get(_ONLY_KEY)
    if location_id is None:
        location_id = Location.default().pk
        cache.set(_ONLY_KEY, location_id, 3600)
    return int(location_id)


def default_location_id() -> int:
    return _only_location_id()


def forget_location_count(**kwargs: Any) -> None:
    from django.core.cache import cache

    cache.delete_many([_COUNT_KEY, _ONLY_KEY])
