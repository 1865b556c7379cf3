"""CSV files Carshop writes cannot run formulas in the spreadsheet that opens them, and read back
unchanged: a text cell a spreadsheet would evaluate (=, +, -, @, tab, carriage return first) is
written with a single quote in front, numbers of numeric columns stay numbers."""

import csv

import pytest

from accounts.models import Customer
from inventory.models import StockMovement
from sales.models import Lead
from tests.helpers.builders.inventory import make_customer, make_part
from tests.helpers.commands import run

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "=1+1",
    "+1+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


def rows(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_a_lead_named_with_a_formula_is_exported_as_text(tmp_path):
    customer = make_customer(first_name='=HYPERLINK("http://x","y")', last_name="@SUM(A1)")
    Lead.objects.create(customer=customer, source=Lead.Source.MARKETPLACE, source_reference="=1+1")
    run("export", "--format=csv", "--tables=customers,leads", f"--output={tmp_path}")

    (person,) = rows(tmp_path / "customers.csv")
    (lead,) = rows(tmp_path / "leads.csv")
    assert person["first_name"] == '\'=HYPERLINK("http://x","y")'
    assert person["last_name"] == "'@SUM(A1)"
    assert lead["source_reference"] == "'=1+1"


def test_every_formula_form_is_neutralized_and_imports_back_unchanged(tmp_path):
    values = [*FORMULAS, "'=already quoted", "'quoted text", "plain", "a=b", ""]
    for number, value in enumerate(values):
        make_customer(last_name=f"Driver{number}", notes=value, city=value[:80])
    fields = ["id", "last_name", "notes", "city"]
    before = list(Customer.objects.order_by("pk").values(*fields))
    path = tmp_path / "customers.csv"
    run("export", "--format=csv", "--tables=customers", f"--output={path}")

    written = {row["last_name"]: row for row in rows(path)}
    for number, value in enumerate(values):
        cell = written[f"Driver{number}"]["notes"]
        if value in FORMULAS or value == "'=already quoted":
            assert cell == "'" + value, value
        else:
            assert cell == value, value

    Customer.objects.all().delete()
    run("import", "--format=csv", f"--input={path}")
    assert list(Customer.objects.order_by("pk").values(*fields)) == before


def test_negative_numbers_stay_numbers_while_text_beside_them_is_neutralized(tmp_path):
    part = make_part(on_hand=5)
    StockMovement.objects.create(
        part=part, kind=StockMovement.Kind.ADJUSTMENT, quantity=-2, reason="-2 damaged in the shop"
    )
    path = tmp_path / "ledger.csv"
    run("export", "--format=csv", "--tables=stock_movements", f"--output={path}")

    adjustment = next(row for row in rows(path) if row["kind"] == "adjustment")
    assert adjustment["quantity"] == "-2"
    assert adjustment["reason"] == "'-2 damaged in the shop"
