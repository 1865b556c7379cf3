"""Message templates rendered in a closed room.

A template sees only the plain values this module passes (strings and numbers named in
VARIABLES): no model object, so no attribute of one can be reached. Tags that read files or
other templates, or print the context, are refused when the template is saved (check_template),
and the engine has no loaders and no libraries to load anyway.
"""

from __future__ import annotations

import re

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, Parser, TokenType

from messaging.exceptions import MessagingError

# What a template may use: {{ name }} for each of these.
VARIABLES = {
    "customer_name": "the customer's name",
    "shop_name": "the shop's name (its settings' header)",
    "shop_phone": "the shop's phone",
    "shop_email": "the shop's email",
    "vehicle": "year, make and model",
    "order_number": "the repair order's number",
    "approval_link": "the link to approve the estimate (approval link message)",
    "total": "the estimate's or invoice's total (estimate and invoice messages)",
    "invoice_number": "the invoice's number (invoice message)",
    "due_date": "when the service is due (reminders)",
    "job_title": "the work declined (follow-up)",
    "appointment_date": "the appointment's day (reminder)",
    "appointment_time": "the appointment's time (reminder)",
}
ALLOWED_TAGS = {
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "empty",
    "endfor",
    "with",
    "endwith",
    "comment",
    "endcomment",
    "firstof",
    "spaceless",
    "endspaceless",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# No loaders, no libraries, no debug: {% include %} and {% extends %} find nothing.
_ENGINE = Engine(loaders=[], libraries={}, autoescape=False, debug=False, string_if_invalid="")


def check_template(source: str, *, field: str = "body") -> None:
    """Refuse a template with a syntax error, a tag outside ALLOWED_TAGS or a variable outside
    VARIABLES, with a message that names what is wrong."""
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents.split() else ""
            if name not in ALLOWED_TAGS:
                raise MessagingError(
                    f"The tag {{% {name} %}} is not allowed in a message template (line "
                    f"{token.lineno}).",
                    field=field,
                )
        elif token.token_type == TokenType.VAR:
            try:
                expression = FilterExpression(
                    token.contents, Parser([], builtins=_ENGINE.template_builtins)
                )
            except TemplateSyntaxError as exc:
                raise MessagingError(
                    f"Template error on line {token.lineno}: {exc}", field=field
                ) from None
            root = str(getattr(expression.var, "var", expression.var)).split(".")[0]
            if _NAME.fullmatch(root) and root not in VARIABLES:
                raise MessagingError(
                    f"Unknown variable {{{{ {root} }}}} on line {token.lineno}; a template may "
                    f"use {', '.join(sorted(VARIABLES))}.",
                    field=field,
                )
            if "." in str(getattr(expression.var, "var", "")):
                raise MessagingError(
                    f"{{{{ {token.contents} }}}} on line {token.lineno}: the variables are plain "
                    "values, with no attributes to read.",
                    field=field,
                )
    try:
        _ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise MessagingError(f"Template error: {exc}", field=field) from None


def render(source: str, values: dict[str, str]) -> str:
    """The template filled with `values` (plain strings only)."""
    plain = {key: str(value) for key, value in values.items() if key in VARIABLES}
    try:
        return _ENGINE.from_string(source).render(Context(plain, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise MessagingError(f"Template error: {exc}") from None
