"""The editorial domain: items, language variants, assets, workflow, slot bookings, audit.

Depends only on ``config`` (DESIGN.md §1). Callers get frozen views, never database rows.
"""

from content._enums import AuditAction, ContentKind, ContentState, Priority
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
    "TRANSITIONS",
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
    "ItemView",
    "Priority",
    "SlotBookingView",
    "VariantView",
    "normalise_text",
    "read_text_file",
]
