"""django-import-export resources: how rows of the accounts tables look in CSV.

`CarshopResource` is the base of every Carshop resource (the other apps' resources.py build on
it): each row is validated like a form would (full_clean: field rules, the model's clean(), unique
and check constraints); times are ISO 8601 with their offset, to the microsecond, so a CSV round
trip keeps them; a foreign key is the related row's id, and an id that does not exist is reported
as such; fields the application computes or keeps through its services are exported but never
imported (`read_only`).

A resource also names its money columns, which the admin's exports leave out for a role that may
not see them (accounts.admin_exports): `price_fields` (prices, rates, amounts, totals: without
accounts.view_prices) and `cost_fields` (what the shop paid: without inventory.view_part_cost).
"""

import functools

from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist
from django.utils.dateparse import parse_datetime
from import_export import fields, resources, widgets

from accounts.models import Customer, User


class IsoDateTimeWidget(widgets.DateTimeWidget):
    """2026-06-30T18:00:00.123456+00:00 in and out (spreadsheets read it; nothing is lost)."""

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        if hasattr(value, "tzinfo"):
            return value
        parsed = parse_datetime(str(value).strip())
        if parsed is None:
            return super().clean(value, row, **kwargs)
        return parsed


class KnownForeignKeyWidget(widgets.ForeignKeyWidget):
    """A foreign key by id; an id with no row is a clear error on the row's field."""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except ObjectDoesNotExist:
            key = "id" if self.field == "pk" else self.field
            raise ValueError(f"no {self.model._meta.verbose_name} with {key} {value}") from None
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a {self.model._meta.verbose_name} id") from None


class CarshopResource(resources.ModelResource):
    WIDGETS_MAP = {**resources.ModelResource.WIDGETS_MAP, "DateTimeField": IsoDateTimeWidget}

    # Model fields written out but never read in: computed on save or kept by the services.
    read_only: tuple[str, ...] = ()
    # Money columns, left out of the admin's exports for roles that may not see them.
    price_fields: tuple[str, ...] = ()
    cost_fields: tuple[str, ...] = ()

    class Meta:
        clean_model_instances = True
        # A row equal to the database's is left alone (no save, no audit entry).
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True
        use_transactions = True

    @classmethod
    def get_fk_widget(cls, field):
        return functools.partial(KnownForeignKeyWidget, model=field.related_model)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        model_fields = {f.name: f for f in self._meta.model._meta.concrete_fields}
        for name, field in self.fields.items():
            model_field = model_fields.get(name)
            automatic = getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            )
            if automatic or name in self.read_only:
                field.readonly = True


class CustomerResource(CarshopResource):
    read_only = ("display_name", "phone_digits")

    class Meta:
        model = Customer
        exclude = ("partners",)


class UserResource(CarshopResource):
    """Staff accounts. Roles by name; the password hash only with --include-secrets (a new user
    imported without one cannot log in until `reset_password`)."""

    groups = fields.Field(
        attribute="groups",
        column_name="groups",
        widget=widgets.ManyToManyWidget(Group, field="name", separator="|"),
    )

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "password",
            "first_name",
            "last_name",
            "email",
            "phone",
            "is_active",
            "is_staff",
            "is_superuser",
            "date_joined",
            "last_login",
            "groups",
        )
        export_order = fields

    def after_init_instance(self, instance, new, row, **kwargs):
        if new and not instance.password:
            instance.set_unusable_password()
