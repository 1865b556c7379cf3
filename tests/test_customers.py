"""The customer book: people and companies, searched by name, phone and email in the admin."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Customer


@pytest.mark.django_db
def test_display_name_is_last_first_for_people_and_the_name_for_companies():
    person = Customer.objects.create(first_name="Ada", last_name="Lovelace")
    company = Customer.objects.create(kind="company", company_name="Analytical Engines Ltd")
    assert str(person) == "Lovelace, Ada"
    assert str(company) == "Analytical Engines Ltd"


@pytest.mark.django_db
def test_database_refuses_a_company_without_a_name():
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(kind="company", company_name="")


@pytest.mark.django_db
def test_admin_form_explains_a_missing_company_name_and_saves_nothing(advisor, login):
    response = login(advisor).post(
        "/admin/accounts/customer/add/", {"kind": "company", "company_name": "", "tax_id": "12-34"}
    )
    assert response.status_code == 200
    assert b"A company needs a company name." in response.content
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["lovelace", "555-0142", "ADA@EXAMPLE.COM", "Analytical"])
def test_admin_search_finds_customers_by_name_phone_and_email(advisor, login, term):
    Customer.objects.create(
        first_name="Ada",
        last_name="Lovelace",
        phone="(217) 555-0142",
        email="ada@example.com",
        company_name="",
    )
    Customer.objects.create(
        kind="company", company_name="Analytical Engines Ltd", email="ada@example.com"
    )
    Customer.objects.create(first_name="Charles", last_name="Babbage", phone="(217) 555-9999")
    response = login(advisor).get("/admin/accounts/customer/", {"q": term})
    assert response.status_code == 200
    assert b"Babbage" not in response.content
    assert b"Lovelace" in response.content or b"Analytical" in response.content


@pytest.mark.django_db
def test_customer_list_queries_do_not_grow_with_rows(advisor, login, django_assert_max_num_queries):
    client = login(advisor)
    Customer.objects.create(first_name="One", last_name="Row")
    with django_assert_max_num_queries(8):
        assert client.get("/admin/accounts/customer/").status_code == 200
    Customer.objects.bulk_create(
        Customer(first_name=f"F{i}", last_name=f"L{i}", display_name=f"L{i}, F{i}")
        for i in range(60)
    )
    with django_assert_max_num_queries(8):
        assert client.get("/admin/accounts/customer/").status_code == 200


@pytest.mark.django_db
def test_technician_cannot_open_the_customer_book(technician, login):
    assert login(technician).get("/admin/accounts/customer/").status_code == 403


@pytest.mark.django_db
def test_a_customer_entered_again_is_added_with_a_warning_naming_the_one_on_file(advisor, login):
    on_file = Customer.objects.create(
        first_name="Ada", last_name="Lovelace", phone="(217) 555-0142", email="ada@example.com"
    )
    client = login(advisor)
    form = {"kind": "person", "first_name": "Ada", "last_name": "Lovelace"}
    response = client.post(
        "/admin/accounts/customer/add/", {**form, "phone": "217.555.0142"}, follow=True
    )
    text = response.content.decode()
    # Added (a family may share a phone), and the advisor is told who already has it.
    assert Customer.objects.count() == 2
    assert "already on file with this phone or email" in text
    assert f'href="/admin/accounts/customer/{on_file.pk}/change/"' in text
    # By email, any case, as well.
    response = client.post(
        "/admin/accounts/customer/add/",
        {**form, "first_name": "Augusta", "email": "ADA@example.com"},
        follow=True,
    )
    assert "already on file with this phone or email" in response.content.decode()
    # A customer with nothing in common is added without a word.
    response = client.post(
        "/admin/accounts/customer/add/",
        {**form, "first_name": "Charles", "phone": "(312) 555-0999"},
        follow=True,
    )
    assert "already on file" not in response.content.decode()
