"""Admin pages in tests: what a posted form carries besides its fields (inline management forms,
images) and the text a person sees on a page."""

import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def png():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "PNG")
    return SimpleUploadedFile("unit.png", buffer.getvalue(), content_type="image/png")


def inline_management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def deal_inlines(deal=None):
    """The management forms of a deal's inlines, for a deal's change page posted unchanged."""
    counts = {"trade_ins": 0, "addons": 0, "payments": 0, "refunds": 0, "commissions": 0}
    if deal is not None:
        counts = {
            "trade_ins": deal.trade_ins.count(),
            "addons": deal.addons.count(),
            "payments": deal.payments.count(),
            "refunds": deal.refunds.count(),
            "commissions": deal.commissions.count(),
        }
    data = {}
    for prefix, initial in counts.items():
        data.update(inline_management(prefix, total=initial, initial=initial))
    return data


def visible_text(html):
    """The page's text without its markup, scripts and styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)
