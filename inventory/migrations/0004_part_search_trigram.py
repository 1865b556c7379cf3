from django.db import migrations

from accounts.migration_operations import trigram_extension, trigram_index


class Migration(migrations.Migration):
    """Part searches (words of the description, the start of the brand) use trigram indexes on
    PostgreSQL instead of reading every part; a no-op on SQLite."""

    dependencies = [
        ("accounts", "0004_customer_phone_digits"),
        ("inventory", "0003_stock_units"),
    ]

    operations = [
        trigram_extension(),
        trigram_index("part_description_trgm", "inventory_part", 'UPPER("description")'),
        trigram_index("part_brand_trgm", "inventory_part", 'UPPER("brand")'),
    ]
