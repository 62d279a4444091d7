"""The editorial domain: items, language variants, assets, workflow, slot bookings, audit.

Depends only on ``config`` (DESIGN.md §1). Callers get frozen views, never database rows.
"""

from content._alert_store import MAX_LEVEL, MIN_LEVEL, AlertDraft, AlertStore
from content._alert_views import AlertClipView, AlertDeliveryView, AlertView
from content._enums import (
    AlertState,
    AlertStatus,
    AuditAction,
    ContentKind,
    ContentState,
    Hazard,
    Priority,
)
from content._errors import (
    BookingConflictError,
    ContentError,
    ContentInputError,
    ContentNotFoundError,
    ContentStateError,
    DuplicateVariantError,
)
from content._store import ContentStore
from content._text import normalise_text, read_text_file
from content._views import (
    AuditEventView,
    BookedItem,
    ClipView,
    ItemView,
    SlotBookingView,
    VariantView,
)
from content._workflow import TRANSITIONS

__all__ = [
    "MAX_LEVEL",
    "MIN_LEVEL",
    "TRANSITIONS",
    "AlertClipView",
    "AlertDeliveryView",
    "AlertDraft",
    "AlertState",
    "AlertStatus",
    "AlertStore",
    "AlertView",
    "AuditAction",
    "AuditEventView",
    "BookedItem",
    "BookingConflictError",
    "ClipView",
    "ContentError",
    "ContentInputError",
    "ContentKind",
    "ContentNotFoundError",
    "ContentState",
    "ContentStateError",
    "ContentStore",
    "DuplicateVariantError",
    "Hazard",
    "ItemView",
    "Priority",
    "SlotBookingView",
    "VariantView",
    "normalise_text",
    "read_text_file",
]
