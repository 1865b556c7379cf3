"""The admin's main lists export the rows they show (filters and search) to CSV and Excel:
with the columns the reader's role may see, formulas written as text, only for who may view the
list, a clear message for a request the export cannot read, and one query for the rows however
many there are."""

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from accounts.models import Customer
from accounts.resources import CustomerResource
from inventory.models import Part, StockUnit, Vehicle
from inventory.resources import PartResource, StockUnitResource, VehicleResource
from repairs import services as repair_services
from repairs.models import Invoice, Payment, RepairOrder
from repairs.resources import InvoiceResource, PaymentResource, RepairOrderResource
from sales.models import Deal, Lead
from sales.resources import DealResource, LeadResource
from tests.helpers.builders import lot
from tests.helpers.builders import repairs as shop
from tests.helpers.exports import changelist_url, model_columns, repair_orders

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"
# Words of a column name that holds money; none may reach a role without accounts.view_prices.
MONEY_WORDS = {
    "price",
    "cost",
    "amount",
    "total",
    "rate",
    "discount",
    "fee",
    "gross",
    "tax",
    "apr",
    "reserve",
    "payment",
    "financed",
    "snapshot",
}


def export_url(model, query=""):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export") + query


def offered_columns(client, model, query=""):
    """The column boxes of the export form (all ticked when the page opens)."""
    form = client.get(export_url(model, query))
    if form.status_code != 200:
        return {}
    return dict.fromkeys(re.findall(r'name="(\w+)" resource-id="0"', form.content.decode()), "on")


def download(client, model, query="", file_format=CSV_FORMAT, *, columns=None, **extra):
    """POST the export form as the page does (to its own address, filters included), with
    every column it offers ticked unless `columns` says which."""
    ticked = offered_columns(client, model, query) if columns is None else columns
    return client.post(
        export_url(model, query), {"format": file_format, "resource": "0", **ticked, **extra}
    )


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv"), response.content[:300]
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return rows[0], rows[1:]


def read_xlsx(response):
    assert "spreadsheetml" in response["Content-Type"], response.content[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows()]
    return [cell.value for cell in rows[0]], rows[1:]


# --- Each list: rows in and out of a filter -----------------------------------------------------


def customers():
    wanted = shop.make_customer(last_name="Lovelace", first_name="Ada")
    shop.make_customer(last_name="Hopper", first_name="Grace", phone="(217) 555-0199")
    return "?q=Lovelace", [wanted.pk]


def vehicles():
    wanted = shop.make_vehicle(make="Ford", model="Focus")
    shop.make_vehicle(make="Honda")
    return "?make=Ford", [wanted.pk]


def parts():
    wanted = shop.make_part("BR-1", on_hand=0)
    Part.objects.filter(pk=wanted.pk).update(active=False)
    shop.make_part("OF-1", on_hand=0)
    return "?active__exact=0", [wanted.pk]


def invoiced_order(last_name):
    order = shop.make_order(customer=shop.make_customer(last_name=last_name))
    shop.add_job_with_lines(order, labor=[("1.0", "100.00")])
    return shop.take_to(order, "invoiced")


def invoices():
    wanted = invoiced_order("Lovelace").invoice
    invoiced_order("Hopper")
    return "?q=Lovelace", [wanted.pk]


def payments():
    invoice = invoiced_order("Lovelace").invoice
    wanted = repair_services.record_payment(invoice, "40.00", "card")
    repair_services.record_payment(invoice, "10.00", "cash")
    return "?method__exact=card", [wanted.pk]


def stock_units():
    wanted = lot.make_unit(status=StockUnit.Status.RECONDITIONING)
    lot.make_unit()
    return "?status__exact=reconditioning", [wanted.pk]


def leads():
    wanted = Lead.objects.create(customer=lot.make_customer(), source=Lead.Source.PHONE)
    Lead.objects.create(customer=lot.make_customer(last="Walker"), source=Lead.Source.WEBSITE)
    return "?source__exact=phone", [wanted.pk]


def deals():
    salesperson = shop.make_staff("sam", "Salesperson")
    wanted = lot.make_deal(salesperson=salesperson)
    lot.delivered_deal(salesperson=salesperson)
    return "?status__exact=draft", [wanted.pk]


LISTS = {
    # list: (model, resource, rows)
    "customers": (Customer, CustomerResource, customers),
    "vehicles": (Vehicle, VehicleResource, vehicles),
    "parts": (Part, PartResource, parts),
    "repair orders": (RepairOrder, RepairOrderResource, repair_orders),
    "invoices": (Invoice, InvoiceResource, invoices),
    "payments": (Payment, PaymentResource, payments),
    "stock units": (StockUnit, StockUnitResource, stock_units),
    "leads": (Lead, LeadResource, leads),
    "deals": (Deal, DealResource, deals),
}


@pytest.mark.parametrize("name", LISTS)
def test_a_manager_exports_the_filtered_list_to_csv_and_excel(name, manager, login):
    model, resource, rows = LISTS[name]
    query, wanted = rows()
    client = login(manager)
    expected = model_columns(model, without=resource._meta.exclude or ())

    page = client.get(changelist_url(model, query))
    assert f'href="{export_url(model, query)}"' in page.content.decode()

    form = client.get(export_url(model, query))
    assert form.status_code == 200
    assert ">csv<" in form.content.decode() and ">xlsx<" in form.content.decode()

    headers, data = read_csv(download(client, model, query, CSV_FORMAT))
    assert headers == expected
    assert [int(row[0]) for row in data] == wanted

    headers, data = read_xlsx(download(client, model, query, XLSX_FORMAT))
    assert headers == expected
    assert [row[0].value for row in data] == wanted


def test_a_foreign_key_is_exported_as_the_related_row_s_id(manager, login):
    order = shop.make_order()
    client = login(manager)

    headers, (row,) = read_csv(download(client, RepairOrder))
    record = dict(zip(headers, row, strict=True))
    assert record["customer"] == str(order.customer_id)
    assert record["vehicle"] == str(order.vehicle_id)
    assert record["comeback_of"] == ""


def test_the_export_form_lets_a_manager_leave_columns_out(manager, login):
    shop.make_customer(last_name="Lovelace")
    client = login(manager)

    response = download(
        client, Customer, columns={"customerresource_id": "on", "customerresource_last_name": "on"}
    )

    headers, data = read_csv(response)
    assert headers == ["id", "last_name"]
    assert data[0][1] == "Lovelace"


# --- Roles ----------------------------------------------------------------------------------

TECHNICIAN_LISTS = ["vehicles", "parts", "repair orders"]


@pytest.mark.parametrize("name", TECHNICIAN_LISTS)
@pytest.mark.parametrize("file_format", [CSV_FORMAT, XLSX_FORMAT])
def test_a_technician_s_export_has_no_money_column(name, file_format, technician, login):
    model, resource, rows = LISTS[name]
    # A technician lists the repair orders they work on.
    query, wanted = rows(technician) if model is RepairOrder else rows()
    client = login(technician)

    page = client.get(changelist_url(model, query))
    assert page.status_code == 200 and f'href="{export_url(model, query)}"' in page.content.decode()
    response = download(client, model, query, file_format)
    headers, data = (read_csv if file_format == CSV_FORMAT else read_xlsx)(response)

    assert not set(headers) & {*resource.price_fields, *resource.cost_fields}
    assert not [column for column in headers if set(column.split("_")) & MONEY_WORDS]
    assert len(data) == len(wanted)
    # The form offers no money column either.
    form = client.get(export_url(model, query)).content.decode()
    for column in (*resource.price_fields, *resource.cost_fields):
        assert f"_{column}" not in form


def test_a_tampered_form_asking_for_a_hidden_column_gets_none(technician, login):
    shop.make_part("BR-1", cost="31.17", price="55.00")
    client = login(technician)

    response = download(
        client,
        Part,
        columns={
            "partresource_sku": "on",
            "partresource_unit_cost": "on",
            "partresource_price_override": "on",
        },
    )

    headers, data = read_csv(response)
    assert headers == ["sku"] and data == [["BR-1"]]
    assert "31.17" not in response.content.decode()


@pytest.mark.parametrize("name", sorted(set(LISTS) - set(TECHNICIAN_LISTS)))
def test_a_technician_may_not_export_a_list_they_cannot_view(name, technician, login):
    model, _resource, rows = LISTS[name]
    rows()
    client = login(technician)

    assert client.get(changelist_url(model)).status_code == 403
    assert client.get(export_url(model)).status_code == 403
    assert download(client, model).status_code == 403
    # Their home page is their own screen, with the lists they may open.
    home = client.get(reverse("admin:index"), follow=True).content.decode()
    assert export_url(model) not in home and changelist_url(model) not in home


def test_operations_export_customers_and_nothing_else(operator, login):
    for _model, _resource, rows in LISTS.values():
        rows()
    client = login(operator)

    headers, data = read_csv(download(client, Customer))
    assert headers == model_columns(Customer)
    assert len(data) == Customer.objects.count()
    for name, (model, _resource, _rows) in LISTS.items():
        if name != "customers":
            assert client.get(export_url(model)).status_code == 403, name
            assert download(client, model, file_format=XLSX_FORMAT).status_code == 403, name


def test_a_salesperson_exports_deals_with_their_figures(salesperson, login):
    lot.make_deal(salesperson=salesperson)
    client = login(salesperson)

    headers, (row,) = read_csv(download(client, Deal))

    assert dict(zip(headers, row, strict=True))["sale_price"] == "15000.00"


def test_a_user_without_a_role_is_refused(make_user, login):
    client = login(make_user("nobody"))

    assert client.get(export_url(RepairOrder)).status_code == 403
    assert download(client, RepairOrder).status_code == 403


# --- Formulas -----------------------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


def test_formulas_are_written_as_text_in_csv_and_excel(manager, login):
    for number, value in enumerate(FORMULAS):
        shop.make_customer(last_name=f"Driver{number}", notes=value, city="a=b")
    client = login(manager)

    headers, data = read_csv(download(client, Customer))
    csv_notes = {row[headers.index("last_name")]: row[headers.index("notes")] for row in data}
    headers, data = read_xlsx(download(client, Customer, file_format=XLSX_FORMAT))
    notes, last_name = headers.index("notes"), headers.index("last_name")
    xlsx_cells = {row[last_name].value: row[notes] for row in data}

    for number, value in enumerate(FORMULAS):
        assert csv_notes[f"Driver{number}"] == "'" + value
        cell = xlsx_cells[f"Driver{number}"]
        # (A spreadsheet file keeps a carriage return as a line feed.)
        assert cell.data_type == "s" and cell.value == "'" + value.replace("\r", "\n")
    assert {row[headers.index("city")].value for row in data} == {"a=b"}


def test_numbers_stay_numbers_in_excel(manager, login):
    shop.make_part("BR-1", cost="31.17", price="55.00", on_hand=3)
    client = login(manager)

    headers, (row,) = read_xlsx(download(client, Part, file_format=XLSX_FORMAT))
    record = {name: cell.value for name, cell in zip(headers, row, strict=True)}

    assert Decimal(str(record["unit_cost"])) == Decimal("31.17")
    assert record["on_hand"] == 3 and isinstance(record["id"], int)


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields", [{"format": "7"}, {"format": "csv"}, {"format": ""}, {"resource": "3"}]
)
def test_an_unknown_format_or_resource_is_a_message_on_the_form(fields, manager, login):
    shop.make_order()
    client = login(manager)

    response = download(client, RepairOrder, **fields)

    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    page = response.content.decode()
    assert "Select a valid choice" in page or "This field is required" in page, fields
    assert 'class="errorlist' in page


def test_a_form_with_no_column_chosen_says_so(manager, login):
    shop.make_order()
    client = login(manager)

    response = download(client, RepairOrder, columns={})

    assert response.status_code == 200
    assert "Select at least 1 field" in response.content.decode()


def test_filters_the_list_cannot_read_are_a_message_not_an_error_page(manager, login):
    shop.make_order()
    client = login(manager)

    response = client.get(export_url(RepairOrder, "?opened_at__gte=not-a-date"), follow=True)

    assert response.redirect_chain[-1][0] == changelist_url(RepairOrder)
    assert "filters in this address cannot be read" in response.content.decode()
    response = download(client, RepairOrder, "?opened_at__gte=not-a-date")
    assert response.status_code == 302


# --- Queries ------------------------------------------------------------------------------------


def many_orders(count):
    customer = shop.make_customer()
    for _ in range(count):
        shop.make_order(shop.make_vehicle(owner=customer), customer=customer)


def many_units(count):
    lot.bulk_units(count)


def many_deals(count):
    lot.bulk_delivered_deals(count, salesperson=shop.make_staff("sam", "Salesperson"))


def many_customers(count):
    Customer.objects.bulk_create(
        Customer(first_name=f"C{i}", last_name="Bulk", display_name=f"Bulk, C{i}")
        for i in range(count)
    )


@pytest.mark.parametrize(
    "model, make",
    [
        (RepairOrder, many_orders),
        (StockUnit, many_units),
        (Deal, many_deals),
        (Customer, many_customers),
    ],
    ids=["repair orders", "stock units", "deals", "customers"],
)
@pytest.mark.parametrize("count", [1, 50])
def test_an_export_reads_its_rows_in_the_same_queries_however_many(
    model, make, count, manager, login, django_assert_max_num_queries
):
    make(count)
    client = login(manager)
    columns = offered_columns(client, model)

    with django_assert_max_num_queries(8):
        response = download(client, model, file_format=XLSX_FORMAT, columns=columns)

    assert len(read_xlsx(response)[1]) == model.objects.count()
