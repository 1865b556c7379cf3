"""Small forms the lot's admin asks before it calls a service (a reason, a price)."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from accounts.limits import MAX_VEHICLE_AMOUNT, at_most
from inventory.models import StockNumberSeries, StockUnit
from sales import services
from sales.models import Deal


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept on the record."
    )


class ConfirmForm(forms.Form):
    """Nothing to ask; the page lists what the step will do and the button confirms it."""


class WholesaleForm(forms.Form):
    price = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        validators=[at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
        help_text="What the unit went for.",
    )


class MainPhotoFormSet(forms.BaseInlineFormSet):
    """At most one photo of a unit is ticked as the main photo."""

    def clean(self):
        super().clean()
        ticked = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_main") and not form.cleaned_data.get("DELETE")
        ]
        if len(ticked) > 1:
            raise ValidationError("Tick one main photo.")


class StockUnitForm(forms.ModelForm):
    """Says so in the form when the vehicle is already on the lot. The stock number may be left
    blank: the unit then gets the shop's next one (inventory.lot_services.next_stock_number)."""

    class Meta:
        model = StockUnit
        fields = (
            "stock_number",
            "vehicle",
            "location",
            "source",
            "acquired_from",
            "acquired_on",
            "acquisition_cost",
            "asking_price",
            "internet_price",
            "title_status",
            "notes",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        number = self.fields.get("stock_number")
        if number is not None and self.instance.pk is None:
            number.required = False
            # Before the first number is taken the series may not be written yet: its defaults.
            series = StockNumberSeries.objects.filter(pk=1).first() or StockNumberSeries()
            number.help_text = (
                f"Leave blank for the shop's next number ({series.format(series.next_number)}); "
                "type one only to keep a number the unit already has."
            )

    def clean_vehicle(self):
        vehicle = self.cleaned_data["vehicle"]
        current = (
            StockUnit.objects.filter(vehicle=vehicle, status__in=StockUnit.IN_STOCK)
            .exclude(pk=self.instance.pk)
            .first()
        )
        if current is not None:
            raise ValidationError(f"This vehicle is already in stock as {current.stock_number}.")
        return vehicle


class DealForm(forms.ModelForm):
    """Only units on the lot can be written up."""

    class Meta:
        model = Deal
        fields = (
            "stock_unit",
            "buyer",
            "co_buyer",
            "salesperson",
            "lead",
            "sale_price",
            "documentation_fee",
            "registration_fee",
            "down_payment",
            "lender",
            "apr",
            "term_months",
            "finance_reserve",
            "notes",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        price = self.fields.get("sale_price")
        if price is not None and self.instance.pk is None:
            # Blank: the unit's asking price (services.open_deal); the page fills it in.
            price.required = False
            price.help_text = "Starts at the unit's asking price."

    def clean_stock_unit(self):
        unit = self.cleaned_data["stock_unit"]
        if not unit.in_stock:
            raise ValidationError(
                f"Stock unit {unit.stock_number} is "
                f"{unit.get_status_display().lower()}; it is not for sale."
            )
        return unit

    def _post_clean(self):
        super()._post_clean()
        if "down_payment" in self.fields and not self.errors:
            try:
                services.check_down_payment(self.instance)
            except services.DealError as exc:
                self.add_error("down_payment", str(exc))
