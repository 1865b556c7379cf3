from django.conf import settings
from django.db import models

from accounts.models import Customer, Location, default_location_id
from inventory.models import Vehicle
from repairs.choices import AppointmentStatus


class Appointment(models.Model):
    """A customer booked to bring a vehicle in on a day and time, with what they told us.

    The vehicle is the customer's; a slot (day and time) of a location holds one scheduled
    booking; nothing is booked on a day already gone (repairs.services.check_appointment)."""

    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="appointments",
        default=default_location_id,
        db_index=False,  # appointment_location_date_idx starts with it
        help_text="The shop the vehicle is brought to.",
    )
    date = models.DateField()
    time = models.TimeField()
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="appointments")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="appointments")
    concern = models.TextField(help_text="What the customer says is wrong, in their words.")
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
    )
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "time", "id"]
        indexes = [
            models.Index(fields=["date", "time"], name="appointment_date_time_idx"),
            models.Index(fields=["status", "date"], name="appointment_status_date_idx"),
            models.Index(fields=["location", "date", "time"], name="appointment_location_date_idx"),
        ]
        constraints = [
            # A slot is a day and a time: one scheduled booking each (repairs.services also
            # says who holds it). Canceled, no-show and converted bookings free their slot.
            models.UniqueConstraint(
                fields=["location", "date", "time"],
                condition=models.Q(status="scheduled"),
                name="appointment_one_per_location_slot",
                violation_error_message="Another appointment is already booked on this day at "
                "this time: choose another time.",
            ),
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.time:%H:%M} {self.customer}"
