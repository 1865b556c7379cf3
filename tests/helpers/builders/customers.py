"""Many customers at once, for tests of query plans on a table of realistic size."""

from django.db import connection

from accounts.models import Customer


def fill_customers(count=2000):
    Customer.objects.bulk_create(
        Customer(
            first_name=f"First{number}",
            last_name=f"Last{number}",
            display_name=f"Last{number}, First{number}",
        )
        for number in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
