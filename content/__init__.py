"""The editorial domain: items, language variants, assets, workflow, slot bookings, audit.

Depends only on ``config`` (DESIGN.md §1). Callers get frozen views, never database rows.
"""

from content._alert_store import AlertDraft, AlertStore
from content._alert_views import AlertClipView, AlertDeliveryView, AlertView
from content._cap import (
    CAP_NAMESPACE,
    HAZARDS,
    LEVEL_BY_SEVERITY,
    MAX_CAP_BYTES,
    CapArea,
    CapCircle,
    CapError,
    CapInfo,
    CapMessage,
    CapReference,
    CapResource,
)
from content._cap_read import parse_cap
from content._cap_resource import resource_bytes
from content._cap_write import audio_resource, cap_area, write_cap
from content._enums import (
    MAX_LEVEL,
    MIN_LEVEL,
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
    "CAP_NAMESPACE",
    "HAZARDS",
    "LEVEL_BY_SEVERITY",
    "MAX_CAP_BYTES",
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
    "CapArea",
    "CapCircle",
    "CapError",
    "CapInfo",
    "CapMessage",
    "CapReference",
    "CapResource",
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
    "audio_resource",
    "cap_area",
    "normalise_text",
    "parse_cap",
    "read_text_file",
    "resource_bytes",
    "write_cap",
]
