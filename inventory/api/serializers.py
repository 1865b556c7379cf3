"""What marketplaces read of the lot: cars for sale with their price, specs and photos. What the
business paid (acquisition, reconditioning, other costs) and where it bought the car are never
among the fields."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import CarshopModelSerializer
from inventory.lot import StockUnit, StockUnitPhoto
from inventory.models import Vehicle


class ListingVehicleSerializer(CarshopModelSerializer):
    """The car: VIN, make, model, model year, trim, engine, colour and last odometer reading."""

    year = serializers.IntegerField(source="model_year", allow_null=True, read_only=True)

    class Meta:
        model = Vehicle
        fields = ["vin", "make", "model", "year", "trim", "engine", "color", "odometer"]
        read_only_fields = fields


class PhotoSerializer(CarshopModelSerializer):
    """A photo of the car, in display order."""

    url = serializers.SerializerMethodField()

    class Meta:
        model = StockUnitPhoto
        fields = ["url", "caption", "position", "is_main"]
        read_only_fields = fields

    def get_url(self, photo) -> str:
        return _absolute(self.context.get("request"), photo.image.url)


def _absolute(request, url):
    return request.build_absolute_uri(url) if request is not None else url


class ListingSerializer(CarshopModelSerializer):
    """A car for sale on the lot."""

    vehicle = ListingVehicleSerializer(read_only=True)
    price = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True,
        help_text="The price advertised online (or the asking price when there is none).")
    days_listed = serializers.SerializerMethodField(
        help_text="Days since the car arrived on the lot.")
    main_photo_url = serializers.SerializerMethodField(
        help_text="The main photo (or the first one); null when the car has no photo yet.")
    photos = PhotoSerializer(many=True, read_only=True)

    class Meta:
        model = StockUnit
        fields = ["id", "stock_number", "vehicle", "price", "asking_price", "days_listed",
                  "main_photo_url", "photos", "updated_at"]
        read_only_fields = fields

    def get_days_listed(self, unit) -> int:
        return unit.days_in_stock(self.context.get("today") or timezone.localdate())

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_main_photo_url(self, unit):
        photos = list(unit.photos.all())  # prefetched, in display order
        main = next((photo for photo in photos if photo.is_main), photos[0] if photos else None)
        return _absolute(self.context.get("request"), main.image.url) if main else None
