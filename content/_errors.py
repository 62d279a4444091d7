"""Errors of the content part (DESIGN.md §9): one base, a subclass per failure mode."""

from config import LoaError, UserInputError


class ContentError(LoaError):
    """The content store failed (database unreachable, disk full): exit code 1."""


class ContentInputError(ContentError, UserInputError):
    """The caller's input is wrong; the message names the file, field or value: exit code 2."""

    exit_code = 2


class ContentNotFoundError(ContentInputError):
    """No content item (or language variant) has the given id."""


class ContentStateError(ContentInputError):
    """The item's workflow state does not allow the operation (e.g. publishing a draft)."""


class DuplicateVariantError(ContentInputError):
    """The item already has a variant in that language."""


class BookingConflictError(ContentInputError):
    """The item already has a live booking in that slot on some of the same days."""
