from django import template

from accounts.locations import header_context

register = template.Library()


@register.inclusion_tag("accounts/location_chooser.html", takes_context=True)
def location_chooser(context):
    request = context.get("request")
    return header_context(request) if request is not None else {}
