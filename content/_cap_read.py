"""Reading an OASIS CAP 1.2 alert into a ``CapMessage`` (a pure function of its input).

The document is parsed with defusedxml, which refuses any DOCTYPE (so entity expansion
such as "billion laughs" and external entities such as XXE never happen), after a size
check. Elements Loa does not use (source, restriction, addresses, code, note, incidents,
responseType, audience, web, contact, altitude, ceiling, a signature) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, DTDForbidden

from config import Organisation
from content._cap import (
    CAP_NAMESPACE,
    CATEGORIES,
    CERTAINTIES,
    HAZARD_NAME,
    HAZARDS,
    LEVEL_BY_SEVERITY,
    MAX_CAP_BYTES,
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
    CapReference,
    CapResource,
    NameValue,
    cap_error,
    check_choice,
    is_cap_time,
)
from content._cap_geo import area_communes, parse_circle, parse_polygon
from content._cap_resource import DIGEST_PATTERN, decode_deref_uri
from content._enums import MAX_LEVEL, MIN_LEVEL

DEFAULT_LANGUAGE = "en-US"
"""CAP 1.2: an ``<info>`` without ``<language>`` is in en-US."""
_LANGUAGE_SUBTAG = re.compile(r"^[a-z]{2,3}$")
_DIGITS = re.compile(r"^[0-9]+$")
_TOKEN_FORBIDDEN = re.compile(r"[\s,<&]")


def parse_cap(data: bytes, organisation: Organisation, *, source: str) -> CapMessage:
    """Read a CAP 1.2 ``<alert>`` (Alert, Update or Cancel) for ``organisation``'s district.

    ``source`` names the document (a file, a feed URL) in every error. Raises ``CapError``
    for anything Loa cannot broadcast as given.
    """
    return _Reader(source, organisation).alert(_root(data, source))


def _root(data: bytes, source: str) -> Element:
    if len(data) > MAX_CAP_BYTES:
        raise CapError(
            f"{source}: document: {len(data)} bytes is over the 1 MiB limit "
            f"({MAX_CAP_BYTES} bytes) for a CAP message"
        )
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise CapError(
            f"{source}: <!DOCTYPE>: a CAP document may not have a DOCTYPE "
            "(DTDs, entities and external references are refused)"
        ) from None
    except DefusedXmlException as error:
        raise CapError(f"{source}: document: refused: {error}") from None
    except ParseError as error:
        raise CapError(f"{source}: document: not well-formed XML: {error}") from None
    namespace, local = _split_tag(root.tag)
    if local != "alert":
        raise cap_error(source, local, "the root element must be CAP's <alert>", local)
    if namespace != CAP_NAMESPACE:
        raise cap_error(
            source,
            "alert",
            f"the namespace must be {CAP_NAMESPACE!r} (CAP 1.2)",
            namespace or "(no namespace)",
        )
    return root


def _split_tag(tag: str) -> tuple[str, str]:
    """``{namespace}local`` → (namespace, local); ("", tag) without a namespace."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _tag(name: str) -> str:
    return f"{{{CAP_NAMESPACE}}}{name}"


def _text(element: Element) -> str:
    return (element.text or "").strip()


@dataclass(frozen=True)
class _Pair:
    path: str
    name: str
    value: str


class _Reader:
    def __init__(self, source: str, organisation: Organisation) -> None:
        self.source = source
        self.organisation = organisation

    def error(self, path: str, problem: str, value: object = None) -> CapError:
        return cap_error(self.source, path, problem, value)

    # --- the alert ---------------------------------------------------------------------

    def alert(self, root: Element) -> CapMessage:
        identifier = self.token(root, "identifier", "alert")
        sender = self.token(root, "sender", "alert")
        sent = self.time(root, "sent", "alert")
        status = self.choice(root, "status", "alert", STATUSES, "CAP status")
        msg_type = self.msg_type(root)
        scope = self.choice(root, "scope", "alert", SCOPES, "CAP scope")
        references = self.references(root, msg_type)
        infos = tuple(
            self.info(element, f"alert/info[{index}]")
            for index, element in enumerate(root.findall(_tag("info")), start=1)
        )
        message = CapMessage(identifier, sender, sent, status, msg_type, scope, references, infos)
        if msg_type != "Cancel" and not message.communes:
            raise self.error(
                "alert/info", f"an {msg_type} needs an <info> with an <area> to broadcast to"
            )
        return message

    def msg_type(self, root: Element) -> str:
        value = self.one(root, "msgType", "alert")
        if value in ("Ack", "Error"):
            raise self.error(
                "alert/msgType",
                "Loa imports alerts (Alert, Update, Cancel), not acknowledgements or errors",
                value,
            )
        return self.choice_of(value, "alert/msgType", MSG_TYPES, "CAP msgType")

    def references(self, root: Element, msg_type: str) -> tuple[CapReference, ...]:
        text = self.optional(root, "references", "alert")
        if text is None:
            if msg_type in ("Update", "Cancel"):
                raise self.error(
                    "alert/references", f"an {msg_type} must name the message(s) it replaces"
                )
            return ()
        return tuple(self.reference(triple) for triple in text.split())

    def reference(self, triple: str) -> CapReference:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise self.error("alert/references", "a reference is 'sender,identifier,sent'", triple)
        sender, identifier, sent = parts
        return CapReference(sender, identifier, self.parse_time(sent, "alert/references"))

    # --- one info ------------------------------------------------------------------------

    def info(self, element: Element, path: str) -> CapInfo:
        language = self.language(element, path)
        categories = self.categories(element, path)
        event = self.one(element, "event", path)
        urgency = self.choice(element, "urgency", path, URGENCIES, "CAP urgency")
        severity = self.choice(element, "severity", path, SEVERITIES, "CAP severity")
        certainty = self.choice(element, "certainty", path, CERTAINTIES, "CAP certainty")
        event_codes = self.pairs(element, "eventCode", path)
        parameters = self.pairs(element, "parameter", path)
        return CapInfo(
            language=language,
            categories=categories,
            event=event,
            urgency=urgency,
            severity=severity,
            certainty=certainty,
            hazard=self.hazard(event_codes + parameters),
            level=self.level(parameters, severity),
            effective=self.optional_time(element, "effective", path),
            onset=self.optional_time(element, "onset", path),
            expires=self.optional_time(element, "expires", path),
            sender_name=self.optional(element, "senderName", path),
            headline=self.optional(element, "headline", path),
            description=self.optional(element, "description", path),
            instruction=self.optional(element, "instruction", path),
            event_codes=_plain(event_codes, HAZARD_NAME),
            parameters=_plain(parameters, HAZARD_NAME, RISK_LEVEL_NAME),
            resources=tuple(self.resources(element, path)),
            areas=tuple(self.areas(element, path)),
        )

    def language(self, element: Element, path: str) -> str:
        tag = self.optional(element, "language", path) or DEFAULT_LANGUAGE
        primary = tag.split("-")[0].lower()
        where = f"{path}/language"
        if not _LANGUAGE_SUBTAG.match(primary):
            raise self.error(where, "not an RFC 3066 tag with an ISO 639 language", tag)
        languages = self.organisation.district.languages
        if primary not in languages:
            raise self.error(
                where,
                f"{primary!r} is not a language of {self.organisation.district.name} "
                f"({', '.join(languages)})",
                tag,
            )
        return primary

    def categories(self, element: Element, path: str) -> tuple[str, ...]:
        found = element.findall(_tag("category"))
        if not found:
            raise self.error(f"{path}/category", "missing: an <info> needs a <category>")
        return tuple(
            self.choice_of(_text(item), f"{path}/category[{index}]", CATEGORIES, "CAP category")
            for index, item in enumerate(found, start=1)
        )

    def hazard(self, pairs: tuple[_Pair, ...]) -> str:
        hazard = self.single_value(pairs, HAZARD_NAME)
        if hazard is None:
            return "other"
        path, value = hazard
        return self.choice_of(value, path, HAZARDS, "Loa hazard (Decision 18/2021)")

    def level(self, parameters: tuple[_Pair, ...], severity: str) -> int:
        given = self.single_value(parameters, RISK_LEVEL_NAME)
        if given is None:
            return LEVEL_BY_SEVERITY[severity]
        path, value = given
        if not _DIGITS.match(value) or not MIN_LEVEL <= int(value) <= MAX_LEVEL:
            raise self.error(
                path, f"a risk level is a whole number {MIN_LEVEL}..{MAX_LEVEL}", value
            )
        return int(value)

    def single_value(self, pairs: tuple[_Pair, ...], name: str) -> tuple[str, str] | None:
        """The (path, value) of the pairs named ``name``; refused if they disagree."""
        named = [pair for pair in pairs if pair.name == name]
        for pair in named[1:]:
            if pair.value != named[0].value:
                raise self.error(pair.path, f"{name} given twice with different values", pair.value)
        return (named[0].path, named[0].value) if named else None

    # --- resources and areas -------------------------------------------------------------

    def resources(self, element: Element, path: str) -> Iterator[CapResource]:
        for index, item in enumerate(element.findall(_tag("resource")), start=1):
            where = f"{path}/resource[{index}]"
            size = self.optional(item, "size", where)
            if size is not None and not _DIGITS.match(size):
                raise self.error(f"{where}/size", "the size is a whole number of bytes", size)
            yield CapResource(
                description=self.one(item, "resourceDesc", where),
                mime_type=self.one(item, "mimeType", where),
                size=None if size is None else int(size),
                uri=self.optional(item, "uri", where),
                deref_uri=self.deref_uri(item, where),
                digest=self.digest(item, where),
            )

    def deref_uri(self, item: Element, path: str) -> str | None:
        text = self.optional(item, "derefUri", path)
        if text is not None:
            try:
                decode_deref_uri(text)
            except ValueError:
                raise self.error(f"{path}/derefUri", "not valid base64", text) from None
        return text

    def digest(self, item: Element, path: str) -> str | None:
        text = self.optional(item, "digest", path)
        if text is not None and not DIGEST_PATTERN.match(text):
            raise self.error(
                f"{path}/digest", "a digest is 40 hex digits (SHA-1) or 64 (SHA-256)", text
            )
        return text

    def areas(self, element: Element, path: str) -> Iterator[CapArea]:
        for index, item in enumerate(element.findall(_tag("area")), start=1):
            where = f"{path}/area[{index}]"
            area = CapArea(
                description=self.one(item, "areaDesc", where),
                polygons=tuple(
                    parse_polygon(text, self.source, spot)
                    for spot, text in self.texts(item, "polygon", where)
                ),
                circles=tuple(
                    parse_circle(text, self.source, spot)
                    for spot, text in self.texts(item, "circle", where)
                ),
                geocodes=tuple(
                    (pair.name, pair.value) for pair in self.pairs(item, "geocode", where)
                ),
            )
            communes = area_communes(area, self.organisation, self.source, where)
            yield CapArea(area.description, area.polygons, area.circles, area.geocodes, communes)

    # --- elements ------------------------------------------------------------------------

    def one(self, parent: Element, name: str, path: str) -> str:
        """The stripped text of the single child ``name``, which CAP requires."""
        text = self.optional(parent, name, path)
        if text is None:
            raise self.error(f"{path}/{name}", "missing or empty: CAP 1.2 requires it")
        return text

    def optional(self, parent: Element, name: str, path: str) -> str | None:
        """The stripped text of the single child ``name``; None when absent or empty."""
        found = parent.findall(_tag(name))
        if len(found) > 1:
            raise self.error(f"{path}/{name}", f"appears {len(found)} times; CAP 1.2 allows one")
        return (_text(found[0]) or None) if found else None

    def texts(self, parent: Element, name: str, path: str) -> Iterator[tuple[str, str]]:
        for index, item in enumerate(parent.findall(_tag(name)), start=1):
            yield f"{path}/{name}[{index}]", _text(item)

    def pairs(self, parent: Element, name: str, path: str) -> tuple[_Pair, ...]:
        """Every ``name`` child as a valueName/value pair (valueName required, value may be
        empty)."""
        found: list[_Pair] = []
        for index, item in enumerate(parent.findall(_tag(name)), start=1):
            where = f"{path}/{name}[{index}]"
            value_name = self.one(item, "valueName", where)
            if item.find(_tag("value")) is None:
                raise self.error(f"{where}/value", "missing: CAP 1.2 requires it")
            value = self.optional(item, "value", where) or ""
            found.append(_Pair(f"{where}/value", value_name, value))
        return tuple(found)

    def token(self, parent: Element, name: str, path: str) -> str:
        value = self.one(parent, name, path)
        if _TOKEN_FORBIDDEN.search(value):
            raise self.error(
                f"{path}/{name}", "CAP 1.2 forbids spaces, commas, '<' and '&' here", value
            )
        return value

    def choice(
        self, parent: Element, name: str, path: str, allowed: tuple[str, ...], what: str
    ) -> str:
        return self.choice_of(self.one(parent, name, path), f"{path}/{name}", allowed, what)

    def choice_of(self, value: str, path: str, allowed: tuple[str, ...], what: str) -> str:
        return check_choice(self.source, path, value, allowed, what)

    def time(self, parent: Element, name: str, path: str) -> datetime:
        return self.parse_time(self.one(parent, name, path), f"{path}/{name}")

    def optional_time(self, parent: Element, name: str, path: str) -> datetime | None:
        text = self.optional(parent, name, path)
        return None if text is None else self.parse_time(text, f"{path}/{name}")

    def parse_time(self, text: str, path: str) -> datetime:
        if not is_cap_time(text):
            problem = "CAP 1.2 times are YYYY-MM-DDThh:mm:ss±hh:mm"
            if re.search(r"[A-SU-Za-z]", text):
                problem += "; a zone letter such as 'Z' is forbidden: write +00:00"
            raise self.error(path, problem, text)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise self.error(path, "not a real date and time", text) from None


def _plain(pairs: tuple[_Pair, ...], *loa_names: str) -> tuple[NameValue, ...]:
    """The pairs as (valueName, value), without the ones Loa reads into fields."""
    return tuple((pair.name, pair.value) for pair in pairs if pair.name not in loa_names)
