"""What the admin-export tests share: the list and its filter, the columns of a model."""

from django.urls import reverse

from tests.helpers.builders import repairs as shop


def changelist_url(model, query=""):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + query


def model_columns(model, *, without=()):
    return [f.name for f in model._meta.concrete_fields if f.name not in without]


def repair_orders(technician=None):
    wanted = shop.make_order()
    shop.add_job_with_lines(wanted, labor=[("1.0", "100.00")], technician=technician)
    shop.take_to(wanted, "approved")
    shop.make_order()
    return "?status__exact=approved", [wanted.pk]
