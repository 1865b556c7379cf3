from django.db import migrations

from core.migration_operations import trigram_extension, trigram_index


class Migration(migrations.Migration):
    """Searches of parts (words of the description, the start of the brand), stock units (part
    of the stock number) and vehicles by make or model use trigram indexes on PostgreSQL instead
    of reading the whole table; a no-op on SQLite."""

    dependencies = [
        ("accounts", "0004_customer_phone_digits"),
        ("inventory", "0003_stock_units"),
    ]

    operations = [
        trigram_extension(),
        trigram_index("part_description_trgm", "inventory_part", 'UPPER("description")'),
        trigram_index("part_brand_trgm", "inventory_part", 'UPPER("brand")'),
        trigram_index("stockunit_number_trgm", "inventory_stockunit", 'UPPER("stock_number")'),
        trigram_index("vehicle_make_trgm", "inventory_vehicle", 'UPPER("make")'),
        trigram_index("vehicle_model_trgm", "inventory_vehicle", 'UPPER("model")'),
    ]
