"""The editorial vocabulary. Values are what the database, the CLI and manifests carry."""

from enum import StrEnum


class ContentKind(StrEnum):
    BULLETIN = "bulletin"
    ANNOUNCEMENT = "announcement"
    PROGRAMME = "programme"
    ALERT = "alert"
    TEST = "test"


class Priority(StrEnum):
    """Circular 39/2020's three broadcast levels (DESIGN.md §5)."""

    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


class ContentState(StrEnum):
    """Where an item is in the editorial workflow; transitions live in ``_workflow``."""

    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"


class AuditAction(StrEnum):
    CREATED = "created"
    VARIANT_ADDED = "variant_added"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLIP_RECORDED = "clip_recorded"
    BOOKED = "booked"
    UNBOOKED = "unbooked"
