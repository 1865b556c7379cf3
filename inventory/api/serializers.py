"""What marketplaces read of the lot: cars for sale with their price, specs and photos. What the
business paid (acquisition, reconditioning, other costs) and where it bought the car are never
among the fields."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import CarshopModelSerializer
from core.api.rows import RowSerializerMixin
from inventory.lot import StockUnit, StockUnitPhoto
from inventory.models import PartStock, Vehicle


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


class ListingSerializer(RowSerializerMixin, CarshopModelSerializer):
    """A car for sale on the lot."""

    vehicle = ListingVehicleSerializer(read_only=True)
    price = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        read_only=True,
        help_text="The price advertised online (or the asking price when there is none).",
    )
    days_listed = serializers.SerializerMethodField(
        help_text="Days since the car arrived on the lot."
    )
    main_photo_url = serializers.SerializerMethodField(
        help_text="The main photo (or the first one); null when the car has no photo yet."
    )
    photos = PhotoSerializer(many=True, read_only=True)

    class Meta:
        model = StockUnit
        fields = [
            "id",
            "stock_number",
            "vehicle",
            "price",
            "asking_price",
            "days_listed",
            "main_photo_url",
            "photos",
            "updated_at",
        ]
        read_only_fields = fields

    def get_days_listed(self, unit) -> int:
        return unit.days_in_stock(self.context.get("today") or timezone.localdate())

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_main_photo_url(self, unit):
        photos = list(unit.photos.all())  # prefetched, in display order
        main = next((photo for photo in photos if photo.is_main), photos[0] if photos else None)
        return _absolute(self.context.get("request"), main.image.url) if main else None

    # List pages: built from .values() rows (core/api/rows.py), the photos read for the whole
    # page with one query, as the prefetch does.
    row_values = [
        "id",
        "stock_number",
        "vehicle__vin",
        "vehicle__make",
        "vehicle__model",
        "vehicle__model_year",
        "vehicle__trim",
        "vehicle__engine",
        "vehicle__color",
        "vehicle__odometer",
        "price",
        "asking_price",
        "acquired_on",
        "disposed_on",
        "updated_at",
    ]

    _today = None

    @classmethod
    def add_related_rows(cls, rows):
        by_id = {}
        for row in rows:
            row["photos"] = []
            by_id[row["id"]] = row
        if by_id:
            photos = (
                StockUnitPhoto.objects.filter(unit_id__in=by_id)
                .order_by("position", "id")
                .values_list("unit_id", "image", "caption", "position", "is_main")
            )
            for unit_id, *photo in photos:
                by_id[unit_id]["photos"].append(photo)
        return rows

    def represent_row(self, row, f):
        request = self.context.get("request")
        storage = StockUnitPhoto._meta.get_field("image").storage
        photos = [
            {
                "url": _absolute(request, storage.url(image)),
                "caption": caption,
                "position": position,
                "is_main": is_main,
            }
            for image, caption, position, is_main in row["photos"]
        ]
        main = next((photo for photo in photos if photo["is_main"]), photos[0] if photos else None)
        if self._today is None:
            self._today = self.context.get("today") or timezone.localdate()
        return {
            "id": row["id"],
            "stock_number": row["stock_number"],
            "vehicle": {
                "vin": row["vehicle__vin"],
                "make": row["vehicle__make"],
                "model": row["vehicle__model"],
                "year": row["vehicle__model_year"],
                "trim": row["vehicle__trim"],
                "engine": row["vehicle__engine"],
                "color": row["vehicle__color"],
                "odometer": row["vehicle__odometer"],
            },
            "price": f.money(row["price"], max_digits=10),
            "asking_price": f.money(row["asking_price"], max_digits=10),
            "days_listed": StockUnit.days_between(
                row["acquired_on"], row["disposed_on"], self._today
            ),
            "main_photo_url": main["url"] if main else None,
            "photos": photos,
            "updated_at": f.datetime(row["updated_at"]),
        }


class PartStockSerializer(CarshopModelSerializer):
    """A part's stock at one location: what is on hand there, never what it cost."""

    sku = serializers.CharField(source="part.sku", read_only=True)
    description = serializers.CharField(source="part.description", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    reorder_point = serializers.IntegerField(
        source="effective_reorder_point",
        read_only=True,
        help_text="At or below this the location reorders (its own, else the part's).",
    )
    bin = serializers.CharField(source="effective_bin", read_only=True)

    class Meta:
        model = PartStock
        fields = [
            "id",
            "part",
            "sku",
            "description",
            "location",
            "location_code",
            "on_hand",
            "reorder_point",
            "bin",
        ]
        read_only_fields = fields
