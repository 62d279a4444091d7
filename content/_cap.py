"""OASIS CAP 1.2 emergency alerts: the vocabulary, the error and the frozen message model.

The reader is ``content._cap_read.parse_cap``, the writer ``content._cap_write.write_cap``;
areas and communes are matched in ``content._cap_geo`` and resource audio is fetched in
``content._cap_resource``. Everything here is plain data (str, int, float, datetime,
tuples) so that the app layer can build a ``CapMessage`` from its own alert model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from content._enums import Hazard
from content._errors import ContentInputError

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_CAP_BYTES = 1024 * 1024
"""A CAP document over 1 MiB is refused before it is parsed."""

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel")
"""The message types Loa imports; CAP's ``Ack`` and ``Error`` are refused."""
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

HAZARDS = tuple(hazard.value for hazard in Hazard)
"""The hazard groups of Decision 18/2021/QĐ-TTg, as Loa names them."""

HAZARD_NAME = "loa:hazard"
"""``valueName`` of the eventCode (or parameter) that carries the hazard."""
RISK_LEVEL_NAME = "loa:riskLevel"
"""``valueName`` of the parameter that carries the Decision 18/2021 risk level (1-5)."""

LEVEL_BY_SEVERITY = {"Extreme": 5, "Severe": 4, "Moderate": 3, "Minor": 2, "Unknown": 3}
"""The risk level of an info without ``loa:riskLevel``, from its CAP severity. Unknown
counts as Moderate (3): an alert of unknown severity still goes out, and not as the least."""

GEOCODE_COMMUNE = "commune"
"""Geocode ``valueName`` whose value is a Loa commune id."""
GEOCODE_ADMIN_CODE = "vn-admin-code"
"""Geocode ``valueName`` whose value is a 5-digit administrative unit code."""

_CAP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
_SHOWN_CHARS = 80

Point = tuple[float, float]
"""(latitude, longitude) in degrees, WGS 84 as CAP says."""
NameValue = tuple[str, str]
"""A CAP ``valueName`` / ``value`` pair (eventCode, parameter, geocode)."""


class CapError(ContentInputError):
    """A CAP document (or a message to export) is refused. The message names the source,
    the element path (``alert/info[2]/area[1]/polygon[1]``) and the value at fault."""


def shown(value: object) -> str:
    """``repr`` of a value for an error message, cut short so a huge value stays readable."""
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        return text[: _SHOWN_CHARS - 4] + "...'"
    return text


def cap_error(source: str, path: str, problem: str, value: object = None) -> CapError:
    """The error for ``path`` in ``source``; ``value`` (when given) is quoted at the end."""
    suffix = "" if value is None else f": {shown(value)}"
    return CapError(f"{source}: {path}: {problem}{suffix}")


def check_choice(source: str, path: str, value: str, allowed: Iterable[str], what: str) -> str:
    choices = tuple(allowed)
    if value not in choices:
        raise cap_error(source, path, f"not a {what} (one of {', '.join(choices)})", value)
    return value


def is_cap_time(text: str) -> bool:
    """CAP 1.2's dateTime form ``YYYY-MM-DDThh:mm:ss±hh:mm``: no ``Z``, no fractions."""
    return bool(_CAP_TIME.match(text))


@dataclass(frozen=True)
class CapReference:
    """One earlier message an Update or Cancel refers to (``sender,identifier,sent``)."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True)
class CapCircle:
    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class CapArea:
    """``<area>``. ``communes`` are the Loa commune ids the area resolved to (sorted)."""

    description: str
    polygons: tuple[tuple[Point, ...], ...] = ()
    circles: tuple[CapCircle, ...] = ()
    geocodes: tuple[NameValue, ...] = ()
    communes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CapResource:
    """``<resource>``: kept as parsed; ``resource_bytes`` fetches and checks the content."""

    description: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class CapInfo:
    """``<info>``. ``language`` is the ISO 639 primary subtag (``vi`` for ``vi-VN``).

    ``hazard`` and ``level`` are Loa's reading (eventCode/parameter ``loa:hazard``,
    parameter ``loa:riskLevel``); those entries are not repeated in ``event_codes`` and
    ``parameters``.
    """

    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    hazard: str = "other"
    level: int = 3
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    event_codes: tuple[NameValue, ...] = ()
    parameters: tuple[NameValue, ...] = ()
    resources: tuple[CapResource, ...] = ()
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True)
class CapMessage:
    """``<alert>``: an Alert, Update or Cancel, with its infos (one per language)."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[CapReference, ...] = ()
    infos: tuple[CapInfo, ...] = ()

    @property
    def communes(self) -> tuple[str, ...]:
        """The sorted union of the communes of every area of every info."""
        found = {commune for info in self.infos for area in info.areas for commune in area.communes}
        return tuple(sorted(found))
