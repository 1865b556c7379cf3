# One subscription per partner and URL (duplicates were merged by 0005, in its own transaction:
# PostgreSQL refuses to alter a table with pending trigger events from those deletions).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_webhook_subscription_verification"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.UniqueConstraint(fields=("partner", "url"), name="webhooksub_one_per_partner_url", violation_error_message="This partner already has a subscription for this URL."),
        ),
    ]
