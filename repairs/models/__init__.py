"""Models of the service shop, one module per part of the work (re-exported here)."""

from repairs.models.appointments import Appointment
from repairs.models.billing import CreditNote, DocumentSequence, FeedClock, Invoice, Payment
from repairs.models.canned import CannedJob, CannedJobLabor, CannedJobPart
from repairs.models.inspections import (
    EstimateSignature,
    Inspection,
    InspectionItem,
    InspectionMedia,
    InspectionTemplate,
    InspectionTemplatePoint,
)
from repairs.models.orders import (
    Job,
    LaborLine,
    PartLine,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)

__all__ = [
    "Appointment",
    "CannedJob",
    "CannedJobLabor",
    "CannedJobPart",
    "CreditNote",
    "DocumentSequence",
    "EstimateSignature",
    "FeedClock",
    "Inspection",
    "InspectionItem",
    "InspectionMedia",
    "InspectionTemplate",
    "InspectionTemplatePoint",
    "Invoice",
    "Job",
    "LaborLine",
    "PartLine",
    "Payment",
    "RepairOrder",
    "RepairOrderEvent",
    "TimeEntry",
]
