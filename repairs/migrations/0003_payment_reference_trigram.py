from django.db import migrations

from core.migration_operations import trigram_extension, trigram_index


class Migration(migrations.Migration):
    """A payment is found by part of its reference (card slip, check number) through a trigram
    index on PostgreSQL instead of reading every payment; a no-op on SQLite."""

    dependencies = [
        ("accounts", "0004_customer_phone_digits"),
        ("repairs", "0002_feed_times"),
    ]

    operations = [
        trigram_extension(),
        trigram_index("payment_reference_trgm", "repairs_payment", 'UPPER("reference")'),
    ]
