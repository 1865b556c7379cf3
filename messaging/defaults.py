"""The templates every shop starts with (seeded by the migration, editable in the admin)."""

from messaging.choices import Channel, Kind

DEFAULT_TEMPLATES = {
    (Kind.APPROVAL_LINK, Channel.EMAIL): (
        "Your estimate {{ order_number }} from {{ shop_name }}",
        "Hello {{ customer_name }},\n\nThe estimate for your {{ vehicle }} is ready. Please "
        "approve or decline each job here:\n{{ approval_link }}\n\nQuestions? Call us at "
        "{{ shop_phone }}.\n\n{{ shop_name }}",
    ),
    (Kind.APPROVAL_LINK, Channel.SMS): (
        "",
        "{{ shop_name }}: the estimate for your {{ vehicle }} is ready. Approve or decline each "
        "job: {{ approval_link }}",
    ),
    (Kind.ESTIMATE_PDF, Channel.EMAIL): (
        "Estimate {{ order_number }} from {{ shop_name }}",
        "Hello {{ customer_name }},\n\nPlease find attached the estimate for your {{ vehicle }} "
        "({{ total }}).\n\n{{ shop_name }}, {{ shop_phone }}",
    ),
    (Kind.ESTIMATE_PDF, Channel.SMS): (
        "",
        "{{ shop_name }}: your estimate {{ order_number }} for your {{ vehicle }} comes to "
        "{{ total }}. We sent the details by email.",
    ),
    (Kind.INVOICE_PDF, Channel.EMAIL): (
        "Invoice {{ invoice_number }} from {{ shop_name }}",
        "Hello {{ customer_name }},\n\nPlease find attached invoice {{ invoice_number }} for "
        "your {{ vehicle }} ({{ total }}).\n\nThank you,\n{{ shop_name }}",
    ),
    (Kind.INVOICE_PDF, Channel.SMS): (
        "",
        "{{ shop_name }}: invoice {{ invoice_number }} for your {{ vehicle }}: {{ total }}. "
        "Thank you!",
    ),
    (Kind.CAR_READY, Channel.EMAIL): (
        "Your {{ vehicle }} is ready",
        "Hello {{ customer_name }},\n\nYour {{ vehicle }} is ready to be picked up.\n\n"
        "{{ shop_name }}, {{ shop_phone }}",
    ),
    (Kind.CAR_READY, Channel.SMS): (
        "",
        "{{ shop_name }}: your {{ vehicle }} is ready to be picked up.",
    ),
    (Kind.SERVICE_DUE, Channel.EMAIL): (
        "Your {{ vehicle }} is due for service",
        "Hello {{ customer_name }},\n\nYour {{ vehicle }} is due for service ({{ due_date }}). "
        "Call us at {{ shop_phone }} to book a visit.\n\n{{ shop_name }}",
    ),
    (Kind.SERVICE_DUE, Channel.SMS): (
        "",
        "{{ shop_name }}: your {{ vehicle }} is due for service. Call {{ shop_phone }} to book.",
    ),
    (Kind.DECLINED_FOLLOWUP, Channel.EMAIL): (
        "About your {{ vehicle }}: {{ job_title }}",
        "Hello {{ customer_name }},\n\nOn your last visit we recommended: {{ job_title }}. "
        "Would you like us to do it now? Call us at {{ shop_phone }}.\n\n{{ shop_name }}",
    ),
    (Kind.DECLINED_FOLLOWUP, Channel.SMS): (
        "",
        "{{ shop_name }}: we recommended {{ job_title }} for your {{ vehicle }}. Call "
        "{{ shop_phone }} to book it.",
    ),
    (Kind.APPOINTMENT_REMINDER, Channel.EMAIL): (
        "Your appointment on {{ appointment_date }}",
        "Hello {{ customer_name }},\n\nA reminder: we expect your {{ vehicle }} on "
        "{{ appointment_date }} at {{ appointment_time }}.\n\n{{ shop_name }}, {{ shop_phone }}",
    ),
    (Kind.APPOINTMENT_REMINDER, Channel.SMS): (
        "",
        "{{ shop_name }}: reminder, your {{ vehicle }} is expected {{ appointment_date }} at "
        "{{ appointment_time }}.",
    ),
}


def seed(template_model) -> None:
    """Write the group's default templates that are missing (the migration passes its
    historical model)."""
    for (kind, channel), (subject, body) in DEFAULT_TEMPLATES.items():
        template_model.objects.get_or_create(
            location=None,
            kind=str(kind),
            channel=str(channel),
            defaults={"subject": subject, "body": body},
        )
