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

import uuid
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.models import Location, User

SESSION_KEY = "carshop_location"
ALL = "all"


def sees_all_locations(user: Any) -> bool:
    return bool(user.is_superuser or user.has_perm("accounts.work_at_all_locations"))


def home_location(user: Any) -> Location:
    """Where `user` works; the default location for someone with no home set."""
    if getattr(user, "home_location_id", None):
        return user.home_location
    return Location.default()


def home_location_id(user: Any) -> int:
    cached = getattr(user, "_carshop_home_id", None)
    if cached is None:
        cached = getattr(user, "home_location_id", None) or _only_location_id()
        user._carshop_home_id = cached
    return int(cached)


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
        ids = frozenset({home_location_id(user), *others})
    user._carshop_location_ids = ids
    return ids


def allowed_locations(user: Any) -> QuerySet[Location]:
    return Location.objects.filter(pk__in=allowed_location_ids(user))


def may_work_at(user: Any, location: Location | int | None) -> bool:
    location_id = getattr(location, "pk", location)
    return location_id is not None and location_id in allowed_location_ids(user)


def working_at(location_ids: Iterable[int]) -> Q:
    """A condition on users: those who work at one of `location_ids`, as allowed_location_ids
    counts them (their home, the default location for someone with none, their other
    locations, or all of them), to offer only a location's own staff in its pickers."""
    ids = sorted(location_ids)
    codename = {"codename": "work_at_all_locations", "content_type__app_label": "accounts"}
    everywhere = User.objects.filter(
        Q(is_superuser=True)
        | Q(**{f"user_permissions__{name}": value for name, value in codename.items()})
        | Q(**{f"groups__permissions__{name}": value for name, value in codename.items()})
    ).values("pk")
    elsewhere = User.locations.through.objects.filter(location_id__in=ids).values("user_id")
    condition = Q(home_location__in=ids) | Q(pk__in=elsewhere) | Q(pk__in=everywhere)
    if default_location_id() in ids:
        condition |= Q(home_location__isnull=True)
    return condition


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
    home = home_location_id(request.user)
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


def allowed_location_rows(request: HttpRequest) -> list[Location]:
    """The request user's locations (id and name, in name order), read once per request: the
    header's chooser and a list's location filter show the same rows."""
    ids = allowed_location_ids(request.user)
    read = request.__dict__.setdefault("_carshop_allowed_location_rows", {})
    if ids not in read:
        read[ids] = list(Location.objects.filter(pk__in=ids).only("pk", "name").order_by("name"))
    return read[ids]


def header_context(request: HttpRequest) -> dict[str, Any]:
    """What the back office header's location chooser shows: nothing for someone with one
    location (a single-shop install sees no extra step)."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_staff", False):
        return {}
    allowed = allowed_location_ids(user)
    if len(allowed) < 2:
        return {}
    selected = selected_location_ids(request)
    return {
        "location_choices": allowed_location_rows(request),
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
        if location_count() < 2:
            return queryset  # a single shop: every row is at its one location
        return queryset.filter(**{f"{self.location_field}__in": allowed_location_ids(request.user)})

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        changelist = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        if location_count() < 2:
            return changelist
        field = self.location_field

        class ChosenLocationsChangeList(changelist):  # type: ignore[misc, valid-type]
            def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
                queryset = super().get_queryset(request, exclude_parameters)
                chosen = selected_location_ids(request)
                if chosen == allowed_location_ids(request.user):
                    return queryset  # the group: get_queryset has kept the allowed ones
                return queryset.filter(**{f"{field}__in": chosen})

            def get_results(self, request: HttpRequest) -> None:
                # Kept to the user's locations and nothing else (not filtered, not searched, and
                # the admin's own rows are all of the allowed locations' rows, not, say, a
                # technician's): the user's whole table, counted like one
                # (core.admin.EstimatedCountPaginator).
                scope_only = (
                    not self.get_filters_params()
                    and not self.query
                    and len(self.root_queryset.query.where.children) <= 1
                )
                request._carshop_scope_only = scope_only  # type: ignore[attr-defined]
                super().get_results(request)

        return ChosenLocationsChangeList

    def get_paginator(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        paginator = super().get_paginator(request, *args, **kwargs)  # type: ignore[misc]
        if getattr(request, "_carshop_scope_only", False) and hasattr(paginator, "scope_only"):
            paginator.scope_only = True
        return paginator

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


class AllowedLocationsFilter(admin.RelatedFieldListFilter):
    """A list's location filter: the user's locations, read from the few rows of the locations
    table, not by a DISTINCT over the list's rows (a full scan of a million repair orders), and
    the same rows as the header's chooser (one read per page)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        return [(location.pk, str(location)) for location in allowed_location_rows(request)]


# --- remembered per session ----------------------------------------------------------------
# Who may work where changes rarely; pages are read all day. The allowed locations and the home
# location are kept in the session, with the token of the group's "locations version" (in the
# cache) they were computed at. Adding a location, or changing a user's home, locations or
# permissions, sets a new token: every session computes its locations again on its next page.
# A single-shop install's pages ask the database nothing about locations.

_VERSION_KEY = "carshop:locations-version"
_SESSION_CACHE = "carshop_locations"


def _version(user_id: int | None = None) -> str:
    """The group's token (locations added), or one user's (their home, locations, rights)."""
    from django.core.cache import cache

    key = _VERSION_KEY if user_id is None else f"{_VERSION_KEY}:user:{user_id}"
    token = cache.get(key)
    if token is None:
        token = uuid.uuid4().hex
        if not cache.add(key, token, None):
            token = cache.get(key) or token
    return str(token)


def _tokens(user_id: int) -> str:
    return f"{_version()}/{_version(user_id)}"


def locations_changed(**kwargs: Any) -> None:
    """Signal receiver: whatever decides who works where changed: a location (everyone's
    token), or a user's home, locations, groups or permissions (that user's token)."""
    from django.core.cache import cache
    from django.db import transaction

    if kwargs.get("update_fields") and set(kwargs["update_fields"]) <= {"last_login"}:
        return
    if kwargs.get("action", "post_").startswith("pre_"):
        return
    instance = kwargs.get("instance")
    label = instance._meta.label if instance is not None else ""
    if label == "accounts.User":
        if kwargs.get("created"):
            return  # a new user has no session yet
        key = f"{_VERSION_KEY}:user:{getattr(instance, 'pk', None)}"
    else:
        key = _VERSION_KEY  # a location, or a group's permissions or members

    def new_version() -> None:
        cache.set(key, uuid.uuid4().hex, None)

    new_version()
    # Again once committed: a page read between the change and its commit kept the old state.
    transaction.on_commit(new_version)


def remember_locations(request: HttpRequest) -> None:
    """Put the request user's allowed and home locations on the user object, from the session
    when still valid, else computed and kept in the session (AuthenticationMiddleware first)."""
    session = getattr(request, "session", None)
    if session is None or not session.get("_auth_user_id"):
        return
    user: Any = request.user
    if not user.is_authenticated or not user.is_staff:
        return
    version = _tokens(user.pk)
    kept = session.get(_SESSION_CACHE)
    if kept and kept.get("v") == version and kept.get("user") == user.pk:
        user._carshop_location_ids = frozenset(kept["ids"])
        user._carshop_home_id = kept["home"]
        return
    user._carshop_location_ids = None
    ids = allowed_location_ids(user)
    home = home_location_id(user)
    # Read again: computing may have made the default location (a new, empty database). A
    # change committed meanwhile sets a new token once more when it commits.
    version = _tokens(user.pk)
    session[_SESSION_CACHE] = {"v": version, "user": user.pk, "ids": sorted(ids), "home": home}


def remember_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.user = user
        remember_locations(request)


class LocationMiddleware:
    """After AuthenticationMiddleware: the user's locations, remembered for the session."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        remember_locations(request)
        return self.get_response(request)


_ONLY_KEY = "carshop:only-location"


def location_count() -> int:
    """How many locations the group has (kept in the cache for a minute, under the locations
    version): forms hide their location field in a single-shop install."""
    from django.core.cache import cache

    key = f"carshop:location-count:{_version()}"
    count = cache.get(key)
    if count is None:
        first = list(Location.objects.order_by("pk").values_list("pk", flat=True)[:2])
        count = len(first) if len(first) < 2 else Location.objects.count()
        cache.set(key, count, 60)
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
