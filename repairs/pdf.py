"""PDF of an estimate or invoice, drawn with ReportLab from the same context as the print page."""

import io

from django.utils import timezone
from django.utils.html import escape
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

_STYLES = getSampleStyleSheet()
_NORMAL = ParagraphStyle("carshop-normal", parent=_STYLES["Normal"], fontSize=9.5, leading=12)
_SMALL = ParagraphStyle("carshop-small", parent=_NORMAL, fontSize=8, textColor=colors.grey)
_TITLE = ParagraphStyle(
    "carshop-title", parent=_STYLES["Title"], fontSize=15, alignment=0, spaceAfter=2
)
_RIGHT = ParagraphStyle("carshop-right", parent=_NORMAL, alignment=2)
_JOB = ParagraphStyle(
    "carshop-job", parent=_STYLES["Heading3"], fontSize=11, spaceBefore=6, spaceAfter=2
)


def _p(text, style=_NORMAL):
    return Paragraph(escape(str(text or "")).replace("\n", "<br/>"), style)


def _header(context):
    document = context["document"]
    shop = document["shop"]
    left = [
        Paragraph(escape(shop["name"]), _TITLE),
        _p(shop["address"]),
        _p(" · ".join(part for part in (shop["phone"], shop["email"]) if part)),
    ]
    if shop["tax_id"]:
        left.append(_p(f"Tax id {shop['tax_id']}"))
    right = [
        Paragraph(f"<b>{escape(context['kind'].upper())}</b>", _RIGHT),
        Paragraph(f"<b>{escape(context['number'])}</b>", _RIGHT),
        _p(context["date"].strftime("%Y-%m-%d %H:%M"), _RIGHT),
    ]
    if context.get("repair_order_number"):
        right.append(_p(f"Repair order {context['repair_order_number']}", _RIGHT))
    table = Table([[left, right]], colWidths=[110 * mm, 70 * mm])
    table.setStyle(
        TableStyle(
            [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, 0), 1.5, colors.black)]
        )
    )
    return table


def _parties(document):
    customer = document["customer"]
    if customer:
        who = [
            _p("CUSTOMER", _SMALL),
            Paragraph(f"<b>{escape(customer['name'])}</b>", _NORMAL),
            _p(customer["address"]),
            _p(customer["phone"]),
        ]
        if customer["tax_id"]:
            who.append(_p(f"Tax id {customer['tax_id']}"))
    else:
        who = [_p("CUSTOMER", _SMALL), _p("Internal (the business's own vehicle)")]
    vehicle = document["vehicle"]
    what = [
        _p("VEHICLE", _SMALL),
        Paragraph(f"<b>{escape(vehicle['description'])}</b>", _NORMAL),
        _p(f"VIN {vehicle['vin']}"),
    ]
    if vehicle["plate"]:
        what.append(_p(f"Plate {vehicle['plate']}"))
    if vehicle["odometer_in"]:
        what.append(_p(f"Odometer in {vehicle['odometer_in']}"))
    table = Table([[who, what]], colWidths=[90 * mm, 90 * mm])
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 6)])
    )
    return table


def _job(job, show_authorization):
    title = f"{job['position']}. {job['title']}"
    if show_authorization:
        title += f" ({job['authorization_label']})"
    flow = [Paragraph(escape(title), _JOB)]
    for label in ("complaint", "cause", "correction"):
        if job[label]:
            flow.append(Paragraph(f"<b>{label.capitalize()}:</b> {escape(job[label])}", _NORMAL))
    rows = [["Description", "Qty / hours", "Unit", "Amount"]]
    rows += [
        [_p(f"Labor: {line['operation']}"), line["hours"], line["rate"], line["amount"]]
        for line in job["labor"]
    ]
    rows += [
        [
            _p(f"{line['sku']} {line['description']}"),
            str(line["quantity"]),
            line["price"],
            line["amount"],
        ]
        for line in job["parts"]
    ]
    table = Table(rows, colWidths=[105 * mm, 25 * mm, 25 * mm, 25 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.grey),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    flow.append(table)
    return KeepTogether(flow)


def _totals(context):
    document = context["document"]
    totals, rates = document["totals"], document["rates"]
    rows = [["Labor", totals["labor"]], ["Parts", totals["parts"]]]
    optional = [
        ("discount", f"Discount ({document['repair_order']['discount_percent']} %)", "-"),
        ("shop_supplies", "Shop supplies", ""),
        ("hazardous_waste", "Hazardous waste disposal", ""),
        ("labor_tax", f"Tax on labor ({rates['labor_tax_rate']} %)", ""),
        ("parts_tax", f"Tax on parts ({rates['parts_tax_rate']} %)", ""),
    ]
    rows += [
        [label, f"{sign}{totals[key]}"] for key, label, sign in optional if totals[key] != "0.00"
    ]
    rows.append(["Total", totals["total"]])
    grand = [len(rows) - 1]
    for note in context.get("credit_notes", ()):
        rows.append([f"Credit note {note.number}", f"-{note.amount}"])
    for payment in context.get("payments", ()):
        rows.append(
            [
                f"Paid {payment.received_at:%Y-%m-%d} ({payment.get_method_display()})",
                f"-{payment.amount}",
            ]
        )
    if context.get("balance") is not None:
        rows.append(["Balance due", str(context["balance"])])
        grand.append(len(rows) - 1)
    table = Table(rows, colWidths=[55 * mm, 30 * mm], hAlign="RIGHT")
    style = [("ALIGN", (1, 0), (1, -1), "RIGHT"), ("FONTSIZE", (0, 0), (-1, -1), 9.5)]
    for row in grand:
        style += [
            ("FONTNAME", (0, row), (-1, row), "Helvetica-Bold"),
            ("LINEABOVE", (0, row), (-1, row), 1, colors.black),
        ]
    table.setStyle(TableStyle(style))
    return table


def signature_text(signature):
    """One signed approval as the printed documents state it."""
    jobs = ", ".join(f"{job['position']}. {job['title']}" for job in signature.jobs)
    signed_at = timezone.localtime(signature.signed_at)
    return (
        f"Approved online and signed by {signature.signed_name} on {signed_at:%Y-%m-%d %H:%M}"
        f" from {signature.client_ip or 'an unknown address'}, for a total of {signature.total}:"
        f" {jobs}."
    )


def render_document(context):
    """The PDF bytes of an estimate or invoice (see repairs.views.estimate_context and
    invoice_context for what `context` holds)."""
    document = context["document"]
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"{context['kind']} {context['number']}",
        author=document["shop"]["name"],
    )
    story = [_header(context), _parties(document), Spacer(1, 4 * mm)]
    show_authorization = context["kind"] != "Invoice"
    story += [_job(job, show_authorization) for job in document["jobs"]]
    story += [Spacer(1, 4 * mm), _totals(context)]
    if document["recommendations"]:
        story.append(Paragraph("Recommended for later (declined)", _JOB))
        story += [_p(f"• {job['title']}") for job in document["recommendations"]]
    if context.get("signatures"):
        story.append(Paragraph("Customer's signed approval", _JOB))
        story += [_p(text) for text in context["signatures"]]
    story += [Spacer(1, 6 * mm), _p(document["shop"]["name"], _SMALL)]
    pdf.build(story)
    return buffer.getvalue()
