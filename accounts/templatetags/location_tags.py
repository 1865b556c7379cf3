from django import template

from accounts.locations import header_context

register = template.Library()


@register.inclusion_tag("accounts/location_chooser.html", takes_context=True)
def location_chooser(context):
    request = context.get("request")
    if request is None:
        return {}
    # The chooser's form returns to the page it was used on (its `next`).
    return {**header_context(request), "request": request}
