"""Writing a ``CapMessage`` as an OASIS CAP 1.2 document, and helpers to build one.

Elements go in the order the CAP 1.2 XML Schema's sequences require; times are written as
``YYYY-MM-DDThh:mm:ss±hh:mm`` (never ``Z``, which CAP 1.2 forbids). Each info carries
Loa's hazard as eventCode ``loa:hazard`` and its risk level as parameter ``loa:riskLevel``,
so ``parse_cap(write_cap(message))`` gives the message back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from config import Organisation
from content._cap import (
    CAP_NAMESPACE,
    CATEGORIES,
    CERTAINTIES,
    GEOCODE_ADMIN_CODE,
    GEOCODE_COMMUNE,
    HAZARD_NAME,
    HAZARDS,
    MSG_TYPES,
    RISK_LEVEL_NAME,
    SCOPES,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    CapArea,
    CapError,
    CapInfo,
    CapMessage,
    CapResource,
    NameValue,
    Point,
    cap_error,
    check_choice,
    is_cap_time,
)
from content._cap_resource import DIGEST_PATTERN
from content._enums import MAX_LEVEL, MIN_LEVEL

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TOKEN_FORBIDDEN = re.compile(r"[\s,<&]")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_EXPORT = "CAP export"
_MIN_POLYGON_POINTS = 4


def write_cap(message: CapMessage) -> bytes:
    """``message`` as a UTF-8 CAP 1.2 document (CAP's namespace as the default one).

    Raises ``CapError`` naming the element when the message cannot be written as valid
    CAP 1.2 that Loa reads back (a naive time, a level outside 1..5, ...).
    """
    root = _Writer(f"{_EXPORT} of {message.identifier!r}").alert(message)
    indent(root)
    body = tostring(root, encoding="unicode", default_namespace=CAP_NAMESPACE)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()


def cap_area(organisation: Organisation, commune_ids: Iterable[str]) -> CapArea:
    """One ``<area>`` for these communes: geocodes ``commune`` and, when known,
    ``vn-admin-code`` per commune; its areaDesc is the district's name when every commune
    of the district is targeted, else the communes' names."""
    wanted = set(commune_ids)
    unknown = sorted(wanted - set(organisation.commune_ids()))
    if unknown:
        raise cap_error(
            _EXPORT, "area/geocode", "no commune of the district has this id", unknown[0]
        )
    communes = [commune for commune in organisation.communes if commune.id in wanted]
    if not communes:
        raise cap_error(_EXPORT, "area", "an area needs at least one commune")
    geocodes: list[NameValue] = []
    for commune in communes:
        geocodes.append((GEOCODE_COMMUNE, commune.id))
        if commune.admin_code is not None:
            geocodes.append((GEOCODE_ADMIN_CODE, commune.admin_code))
    if len(communes) == len(organisation.communes):
        description = organisation.district.name
    else:
        description = ", ".join(commune.name for commune in communes)
    return CapArea(description, geocodes=tuple(geocodes), communes=tuple(sorted(wanted)))


def audio_resource(description: str, mime_type: str, data: bytes, uri: str) -> CapResource:
    """A ``<resource>`` for rendered audio: its size and its SHA-256 hex digest.

    CAP 1.2's text specifies SHA-1 for ``digest``; Loa writes SHA-256 (64 hex digits, which
    Loa's reader tells from SHA-1's 40) because its whole distribution path is SHA-256.
    """
    return CapResource(
        description=description,
        mime_type=mime_type,
        size=len(data),
        uri=uri,
        digest=hashlib.sha256(data).hexdigest(),
    )


def _tag(name: str) -> str:
    return f"{{{CAP_NAMESPACE}}}{name}"


class _Writer:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, problem: str, value: object = None) -> CapError:
        return cap_error(self.source, path, problem, value)

    def alert(self, message: CapMessage) -> Element:
        root = Element(_tag("alert"))
        self.token(root, "identifier", message.identifier, "alert")
        self.token(root, "sender", message.sender, "alert")
        self.time(root, "sent", message.sent, "alert")
        self.choice(root, "status", message.status, "alert", STATUSES)
        self.choice(root, "msgType", message.msg_type, "alert", MSG_TYPES)
        self.choice(root, "scope", message.scope, "alert", SCOPES)
        if message.references:
            triples = [
                f"{ref.sender},{ref.identifier},{self.time_text(ref.sent, 'alert/references')}"
                for ref in message.references
            ]
            for ref in message.references:
                self.check_token(ref.sender, "alert/references")
                self.check_token(ref.identifier, "alert/references")
            self.text(root, "references", " ".join(triples), "alert")
        elif message.msg_type in ("Update", "Cancel"):
            raise self.error("alert/references", f"an {message.msg_type} must name references")
        for index, info in enumerate(message.infos, start=1):
            self.info(root, info, f"alert/info[{index}]")
        return root

    def info(self, root: Element, info: CapInfo, path: str) -> None:
        element = SubElement(root, _tag("info"))
        self.classification(element, info, path)
        self.not_reserved(info.event_codes, "eventCode", path)
        check_choice(self.source, f"{path}/hazard", info.hazard, HAZARDS, "Loa hazard")
        self.pairs(element, "eventCode", [*info.event_codes, (HAZARD_NAME, info.hazard)], path)
        for name in ("effective", "onset", "expires"):
            when: datetime | None = getattr(info, name)
            if when is not None:
                self.time(element, name, when, path)
        self.text(element, "senderName", info.sender_name, path)
        self.text(element, "headline", info.headline, path)
        self.text(element, "description", info.description, path)
        self.text(element, "instruction", info.instruction, path)
        self.not_reserved(info.parameters, "parameter", path)
        if not MIN_LEVEL <= info.level <= MAX_LEVEL:
            raise self.error(f"{path}/level", "a risk level is 1..5", info.level)
        level = (RISK_LEVEL_NAME, str(info.level))
        self.pairs(element, "parameter", [*info.parameters, level], path)
        for index, resource in enumerate(info.resources, start=1):
            self.resource(element, resource, f"{path}/resource[{index}]")
        for index, area in enumerate(info.areas, start=1):
            self.area(element, area, f"{path}/area[{index}]")

    def classification(self, element: Element, info: CapInfo, path: str) -> None:
        """language, category+, event, urgency, severity, certainty."""
        if not _LANGUAGE.match(info.language):
            raise self.error(f"{path}/language", "an ISO 639 code such as vi", info.language)
        self.text(element, "language", "vi-VN" if info.language == "vi" else info.language, path)
        if not info.categories:
            raise self.error(f"{path}/category", "an info needs at least one category")
        for category in info.categories:
            self.choice(element, "category", category, path, CATEGORIES)
        self.text(element, "event", info.event, path, required=True)
        self.choice(element, "urgency", info.urgency, path, URGENCIES)
        self.choice(element, "severity", info.severity, path, SEVERITIES)
        self.choice(element, "certainty", info.certainty, path, CERTAINTIES)

    def resource(self, parent: Element, resource: CapResource, path: str) -> None:
        element = SubElement(parent, _tag("resource"))
        self.text(element, "resourceDesc", resource.description, path, required=True)
        self.text(element, "mimeType", resource.mime_type, path, required=True)
        if resource.size is not None:
            if resource.size < 0:
                raise self.error(f"{path}/size", "a size is a number of bytes", resource.size)
            self.text(element, "size", str(resource.size), path)
        self.text(element, "uri", resource.uri, path)
        self.text(element, "derefUri", resource.deref_uri, path)
        if resource.digest is not None and not DIGEST_PATTERN.match(resource.digest):
            raise self.error(f"{path}/digest", "40 or 64 hex digits", resource.digest)
        self.text(element, "digest", resource.digest, path)

    def area(self, parent: Element, area: CapArea, path: str) -> None:
        element = SubElement(parent, _tag("area"))
        self.text(element, "areaDesc", area.description, path, required=True)
        for polygon in area.polygons:
            if len(polygon) < _MIN_POLYGON_POINTS or polygon[0] != polygon[-1]:
                raise self.error(f"{path}/polygon", "4 or more points, closed", polygon)
            self.text(element, "polygon", " ".join(_point(point) for point in polygon), path)
        for circle in area.circles:
            centre = _point((circle.latitude, circle.longitude))
            self.text(element, "circle", f"{centre} {_number(circle.radius_km)}", path)
        self.pairs(element, "geocode", area.geocodes, path)

    # --- elements ------------------------------------------------------------------------

    def text(
        self, parent: Element, name: str, value: str | None, path: str, *, required: bool = False
    ) -> None:
        if not value:
            if required:
                raise self.error(f"{path}/{name}", "CAP 1.2 requires a value")
            return
        if _XML_ILLEGAL.search(value):
            raise self.error(f"{path}/{name}", "a character XML 1.0 cannot carry", value)
        SubElement(parent, _tag(name)).text = value

    def pairs(self, parent: Element, name: str, pairs: Iterable[NameValue], path: str) -> None:
        for index, (value_name, value) in enumerate(pairs, start=1):
            where = f"{path}/{name}[{index}]"
            element = SubElement(parent, _tag(name))
            self.text(element, "valueName", value_name, where, required=True)
            if _XML_ILLEGAL.search(value):
                raise self.error(f"{where}/value", "a character XML 1.0 cannot carry", value)
            SubElement(element, _tag("value")).text = value

    def not_reserved(self, pairs: Iterable[NameValue], name: str, path: str) -> None:
        """``loa:hazard`` and ``loa:riskLevel`` are written from ``hazard`` and ``level``."""
        for index, (value_name, _) in enumerate(pairs, start=1):
            if value_name in (HAZARD_NAME, RISK_LEVEL_NAME):
                raise self.error(
                    f"{path}/{name}[{index}]/valueName", "set it as hazard or level", value_name
                )

    def token(self, parent: Element, name: str, value: str, path: str) -> None:
        self.check_token(value, f"{path}/{name}")
        self.text(parent, name, value, path, required=True)

    def check_token(self, value: str, path: str) -> None:
        if not value or _TOKEN_FORBIDDEN.search(value):
            raise self.error(path, "CAP 1.2 wants no spaces, commas, '<' or '&' here", value)

    def choice(
        self, parent: Element, name: str, value: str, path: str, allowed: tuple[str, ...]
    ) -> None:
        check_choice(self.source, f"{path}/{name}", value, allowed, f"CAP {name}")
        self.text(parent, name, value, path)

    def time(self, parent: Element, name: str, value: datetime, path: str) -> None:
        self.text(parent, name, self.time_text(value, f"{path}/{name}"), path)

    def time_text(self, value: datetime, path: str) -> str:
        """CAP's ``YYYY-MM-DDThh:mm:ss±hh:mm``: aware times only, whole-minute offsets."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.error(path, "a time needs its UTC offset", value.isoformat())
        text = value.isoformat(timespec="seconds")
        if not is_cap_time(text):
            raise self.error(path, "not expressible as CAP 1.2 time", text)
        return text


def _point(point: Point) -> str:
    return f"{_number(point[0])},{_number(point[1])}"


def _number(value: float) -> str:
    """Plain decimal notation, exact where ``repr`` is (never ``1e-05``)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text
