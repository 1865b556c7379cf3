from django.db import migrations, models

from core.migration_operations import trigram_extension, trigram_index


def phone_digits(*phones):
    # As accounts.models.phone_digits when this migration was written.
    numbers = ("".join(char for char in phone or "" if char.isdigit()) for phone in phones)
    return " ".join(number for number in numbers if number)


def fill_phone_digits(apps, schema_editor):
    Customer = apps.get_model("accounts", "Customer")
    batch = []
    for customer in Customer.objects.only("pk", "phone", "phone_other").iterator(chunk_size=2000):
        customer.phone_digits = phone_digits(customer.phone, customer.phone_other)
        batch.append(customer)
        if len(batch) == 2000:
            Customer.objects.bulk_update(batch, ["phone_digits"])
            batch = []
    Customer.objects.bulk_update(batch, ["phone_digits"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_partners_keys_webhooks'),
    ]

    operations = [
        migrations.AddField(
            model_name='customer',
            name='phone_digits',
            field=models.CharField(blank=True, editable=False, max_length=80),
        ),
        migrations.RunPython(fill_phone_digits, migrations.RunPython.noop),
        # Customer searches (name, email, phone digits anywhere in the text) use these on
        # PostgreSQL instead of reading the whole customer book.
        trigram_extension(),
        trigram_index("customer_display_name_trgm", "accounts_customer", 'UPPER("display_name")'),
        trigram_index("customer_email_trgm", "accounts_customer", 'UPPER("email")'),
        trigram_index("customer_phone_digits_trgm", "accounts_customer", '"phone_digits"'),
    ]
