"""Checks at the API edge: each failure names the field and the value, and what is allowed."""

import math
import re
import unicodedata
from enum import StrEnum
from typing import Final, TypeVar

from content._errors import ContentError, ContentInputError

E = TypeVar("E", bound=StrEnum)

LANGUAGE_PATTERN: Final = re.compile(r"[a-z]{2,3}")
SHA256_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
TITLE_MAX: Final = 300
NAME_MAX: Final = 100


def parse_choice(field: str, value: object, choices: type[E]) -> E:
    """``value`` as a member of ``choices``; case and surrounding spaces are forgiven."""
    if isinstance(value, choices):
        return value
    try:
        return choices(value.strip().lower() if isinstance(value, str) else "")
    except ValueError:
        allowed = " | ".join(member.value for member in choices)
        raise ContentInputError(f"{field} {value!r} is not one of: {allowed}") from None


def parse_language(value: object) -> str:
    """An ISO 639-1 or 639-3 code (``vi``, ``tyz``, ``hnj``), lowercase."""
    code = value.strip().lower() if isinstance(value, str) else ""
    if not LANGUAGE_PATTERN.fullmatch(code):
        raise ContentInputError(
            f"language {value!r} is not an ISO 639 code of 2 or 3 letters (e.g. vi, tyz, hnj)"
        )
    return code


def parse_line(field: str, value: object, max_length: int = NAME_MAX) -> str:
    """A one-line, non-empty label (title, actor, reason), NFC, spaces trimmed."""
    if not isinstance(value, str):
        raise ContentInputError(f"{field} must be text, got {type(value).__name__}")
    line = unicodedata.normalize("NFC", value.strip())
    if not line:
        raise ContentInputError(f"{field} is empty")
    if any(unicodedata.category(char) == "Cc" for char in line):
        raise ContentInputError(f"{field} {line!r} must be one line without control characters")
    if len(line) > max_length:
        raise ContentInputError(f"{field} is {len(line)} characters long; at most {max_length}")
    return line


def parse_item_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContentInputError(f"content item id {value!r} is not a positive whole number")
    return value


# The checks below guard values computed by the pipeline, not typed by a person: a failure
# is a bug upstream, hence ContentError (exit 1) rather than ContentInputError.


def check_sha256(field: str, value: str) -> str:
    if not SHA256_PATTERN.fullmatch(value):
        raise ContentError(f"{field} {value!r} is not 64 lowercase hex digits")
    return value


def check_positive(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ContentError(f"{field} {value!r} must be a positive whole number")
    return value


def check_finite(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContentError(f"{field} {value!r} must be a finite number")
    return float(value)


def check_label(field: str, value: str, max_length: int = NAME_MAX) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ContentError(f"{field} {value!r} must be non-empty text of at most {max_length}")
    return value.strip()
