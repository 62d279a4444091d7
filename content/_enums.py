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
    ALERT_ISSUED = "alert_issued"
    ALERT_PUBLISHED = "alert_published"
    ALERT_SUPERSEDED = "alert_superseded"
    ALERT_CANCELLED = "alert_cancelled"


MIN_LEVEL, MAX_LEVEL = 1, 5  # the risk levels of Decision 18/2021/QĐ-TTg


class Hazard(StrEnum):
    """The hazard types of Decision 18/2021/QĐ-TTg on disaster risk levels, by group."""

    STORM = "storm"
    TROPICAL_DEPRESSION = "tropical-depression"
    TORNADO = "tornado"
    LIGHTNING = "lightning"
    HAIL = "hail"
    HEAVY_RAIN = "heavy-rain"
    FLOOD = "flood"
    FLASH_FLOOD = "flash-flood"
    INUNDATION = "inundation"
    LANDSLIDE = "landslide"
    LAND_SUBSIDENCE = "land-subsidence"
    DROUGHT = "drought"
    SALINITY_INTRUSION = "salinity-intrusion"
    EXTREME_HEAT = "extreme-heat"
    COLD = "cold"
    FROST = "frost"
    FOREST_FIRE = "forest-fire"
    EARTHQUAKE = "earthquake"
    TSUNAMI = "tsunami"
    OTHER = "other"


class AlertStatus(StrEnum):
    """What an alert is for (CAP 1.2's ``status``, without ``System``)."""

    ACTUAL = "actual"  # a real warning
    EXERCISE = "exercise"  # a drill, announced as one
    TEST = "test"  # a technical test, announced as one
    DRAFT = "draft"  # never leaves the district


class AlertState(StrEnum):
    """Where an alert is in its life. Expiry is not a state: it is read from the clock."""

    ISSUED = "issued"  # in the target manifests (or being put there)
    HELD = "held"  # a draft: stored, never published
    SUPERSEDED = "superseded"  # replaced by a later alert
    CANCELLED = "cancelled"  # withdrawn everywhere
