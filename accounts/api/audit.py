"""Credit audit-log entries written during an API request to the partner's service user.

django-auditlog's middleware opens a context for each request with the actor it found in the
session (none for an API key). Authentication fills in the partner's user there, so every change
the request makes is credited to it; the key's prefix is added to each entry's additional data.
The context ends with the request, so nothing leaks into the next one.
"""

from auditlog.context import auditlog_value


def credit_request(user, key_prefix):
    try:
        context = auditlog_value.get()
    except LookupError:  # outside auditlog's middleware (nothing to credit)
        return False
    context["actor"] = user
    context["carshop_api_key"] = key_prefix
    return True


def add_key_to_entry(sender, instance, **kwargs):
    """pre_save receiver for auditlog's LogEntry: note which key made the change."""
    try:
        prefix = auditlog_value.get().get("carshop_api_key")
    except LookupError:
        return
    if prefix:
        data = dict(instance.additional_data or {})
        data.setdefault("api_key", prefix)
        instance.additional_data = data
