"""OASIS CAP 1.2 import and export of emergency alerts (content._cap*): fast, offline.

The district is Mường Tè (Lai Châu) with some of its real communes; the administrative
codes and centroids given to them here are illustrative, not the official ones.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import xmlschema
from pydantic import ValidationError

from config import Commune, Organisation
from content import (
    CAP_NAMESPACE,
    HAZARDS,
    MAX_CAP_BYTES,
    CapArea,
    CapCircle,
    CapError,
    CapInfo,
    CapMessage,
    CapReference,
    CapResource,
    ContentInputError,
    audio_resource,
    cap_area,
    parse_cap,
    resource_bytes,
    write_cap,
)

DATA = Path(__file__).resolve().parent / "data" / "cap"
SOURCE = "feeds/kttv-lai-chau.xml"
SAMPLE = (DATA / "flash-flood-vi-hni.xml").read_text(encoding="utf-8")
ICT = timezone(timedelta(hours=7))

ORGANISATION = Organisation.model_validate(
    {
        "province": {"id": "lai-chau", "name": "Lai Châu"},
        "district": {
            "id": "muong-te",
            "name": "Mường Tè",
            "languages": ["vi", "hni", "lhu", "blt"],
        },
        "communes": [
            {
                "id": "thi-tran-muong-te",
                "name": "Thị trấn Mường Tè",
                "languages": ["vi", "blt"],
                "admin_code": "03400",
                "centroid": [22.376, 102.829],
            },
            {
                "id": "bum-nua",
                "name": "Bum Nưa",
                "languages": ["vi", "hni"],
                "admin_code": "03402",
                "centroid": [22.399, 102.793],
            },
            {
                "id": "bum-to",
                "name": "Bum Tở",
                "languages": ["vi", "blt"],
                "admin_code": "03403",
                "centroid": [22.431, 102.850],
            },
            {
                "id": "ka-lang",
                "name": "Ka Lăng",
                "languages": ["vi", "hni"],
                "admin_code": "03404",
                "centroid": [22.659, 102.443],
            },
            {
                "id": "thu-lum",
                "name": "Thu Lũm",
                "languages": ["vi", "hni"],
                "admin_code": "03405",
                "centroid": [22.622, 102.378],
            },
            {
                "id": "mu-ca",
                "name": "Mù Cả",
                "languages": ["vi", "hni"],
                "admin_code": "03406",
                "centroid": [22.538, 102.479],
            },
            {
                "id": "pa-u",
                "name": "Pa Ủ",
                "languages": ["vi", "lhu"],
                "admin_code": "03407",
                "centroid": [22.571, 102.577],
            },
            # Neither code nor centroid: reachable by its commune id only.
            {"id": "can-ho", "name": "Can Hồ", "languages": ["vi", "hni"]},
        ],
    }
)


@pytest.fixture(scope="module")
def cap_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "CAP-v1.2.xsd"))


def parse(document: str | bytes) -> CapMessage:
    data = document.encode("utf-8") if isinstance(document, str) else document
    return parse_cap(data, ORGANISATION, source=SOURCE)


def refused(document: str | bytes, *fragments: str) -> str:
    """Parse ``document``, expect a CapError naming the source and every fragment."""
    with pytest.raises(CapError) as caught:
        parse(document)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def without(document: str, tag: str, occurrence: int = 1) -> str:
    """``document`` less the ``occurrence``-th ``<tag>...</tag>`` element."""
    matches = list(re.finditer(rf"\s*<{tag}>.*?</{tag}>", document, flags=re.DOTALL))
    found = matches[occurrence - 1]
    return document[: found.start()] + document[found.end() :]


def minimal(info: str = "", *, head: str = "") -> str:
    """A small Alert whose single info is ``info`` (Vietnamese, one commune by default)."""
    info = info or f"<info>{INFO_BODY}{AREA_BUM_NUA}</info>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="{CAP_NAMESPACE}">'
        "<identifier>T-1</identifier><sender>test@example.vn</sender>"
        "<sent>2026-08-15T04:12:00+07:00</sent><status>Actual</status>"
        f"<msgType>Alert</msgType><scope>Public</scope>{head}{info}</alert>"
    )


INFO_BODY = (
    "<language>vi-VN</language><category>Met</category><event>Lũ quét</event>"
    "<urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>"
)
AREA_BUM_NUA = (
    "<area><areaDesc>Xã Bum Nưa</areaDesc>"
    "<geocode><valueName>commune</valueName><value>bum-nua</value></geocode></area>"
)


def info_with(extra: str = "", area: str = AREA_BUM_NUA, body: str = INFO_BODY) -> str:
    return f"<info>{body}{extra}{area}</info>"


def area(inner: str, description: str = "Vùng thử") -> str:
    return f"<area><areaDesc>{description}</areaDesc>{inner}</area>"


# --- reading a real-shaped alert ---------------------------------------------------------


def test_sample_is_valid_cap_1_2(cap_schema: xmlschema.XMLSchema) -> None:
    cap_schema.validate(SAMPLE.encode("utf-8"))


def test_flash_flood_alert_in_vietnamese_and_ha_nhi() -> None:
    message = parse(SAMPLE)

    assert message.identifier == "KTTV-LCH-20260815-0412"
    assert message.sender == "canhbao@kttv-laichau.example.vn"
    assert message.sent == datetime(2026, 8, 14, 21, 12, tzinfo=UTC)
    assert message.sent.utcoffset() == timedelta(hours=7)
    assert (message.status, message.msg_type, message.scope) == ("Actual", "Alert", "Public")
    assert message.references == ()
    assert [info.language for info in message.infos] == ["vi", "hni"]
    assert message.communes == (
        "bum-nua",
        "bum-to",
        "ka-lang",
        "mu-ca",
        "thi-tran-muong-te",
        "thu-lum",
    )

    vi, hni = message.infos
    assert vi.categories == ("Met", "Geo")
    assert vi.event == "Lũ quét, sạt lở đất"
    assert (vi.urgency, vi.severity, vi.certainty) == ("Immediate", "Severe", "Likely")
    assert (vi.hazard, vi.level) == ("flash-flood", 3)  # level given as loa:riskLevel
    assert vi.onset == datetime(2026, 8, 15, 6, 0, tzinfo=ICT)
    assert vi.headline is not None and vi.headline.startswith("Cảnh báo lũ quét")
    assert vi.sender_name == "Đài Khí tượng Thủy văn tỉnh Lai Châu"
    assert vi.event_codes == (("VN-KTTV", "LQ-SL"),)  # loa:hazard is read into .hazard
    assert vi.parameters == (("luong-mua-mm", "80-150"),)
    assert [a.communes for a in vi.areas] == [
        ("bum-nua", "bum-to"),
        ("thi-tran-muong-te",),
        ("ka-lang", "thu-lum"),
        ("mu-ca",),
    ]
    assert vi.areas[3].circles == (CapCircle(22.538, 102.479, 5.0),)

    assert (hni.hazard, hni.level) == ("flash-flood", 4)  # no riskLevel: Severe → 4
    assert hni.effective is None and hni.description is None
    (recording,) = hni.resources
    assert recording.mime_type == "audio/mpeg"
    assert recording.size == 70
    assert resource_bytes(recording, DATA).startswith(b"Loa test clip")


def test_update_and_cancel_carry_their_references() -> None:
    reference = "canhbao@kttv-laichau.example.vn,KTTV-LCH-20260815-0412,2026-08-15T04:12:00+07:00"
    update = SAMPLE.replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>").replace(
        "<scope>Public</scope>", f"<scope>Public</scope>\n  <references>{reference}</references>"
    )
    message = parse(update)
    assert message.msg_type == "Update"
    assert message.references == (
        CapReference(
            "canhbao@kttv-laichau.example.vn",
            "KTTV-LCH-20260815-0412",
            datetime(2026, 8, 15, 4, 12, tzinfo=ICT),
        ),
    )

    second = "canhbao@kttv-laichau.example.vn,KTTV-LCH-20260815-0530,2026-08-15T05:30:00+07:00"
    cancel = minimal(info="", head=f"<references>{reference}\n   {second}</references>").replace(
        "<msgType>Alert</msgType>", "<msgType>Cancel</msgType>"
    )
    cancel = re.sub(r"<info>.*</info>", "", cancel)  # a Cancel may carry no info
    message = parse(cancel)
    assert message.msg_type == "Cancel"
    assert [ref.identifier for ref in message.references] == [
        "KTTV-LCH-20260815-0412",
        "KTTV-LCH-20260815-0530",
    ]
    assert message.infos == () and message.communes == ()


def test_geocode_by_commune_id_and_by_admin_code() -> None:
    by_id = area(
        "<geocode><valueName>commune</valueName><value>can-ho</value></geocode>"
        "<geocode><valueName>SAME</valueName><value>012345</value></geocode>"
    )
    by_code = area("<geocode><valueName>vn-admin-code</valueName><value>03407</value></geocode>")
    message = parse(minimal(info_with(area=by_id + by_code)))
    assert [a.communes for a in message.infos[0].areas] == [("can-ho",), ("pa-u",)]
    assert message.infos[0].areas[0].geocodes[1] == ("SAME", "012345")  # kept, matches nothing
    assert message.communes == ("can-ho", "pa-u")


def test_polygon_and_circle_match_commune_centroids() -> None:
    # Around the district seat: Thị trấn Mường Tè, Bum Nưa and Bum Tở, not the north-west.
    polygon = "22.35,102.75 22.45,102.75 22.45,102.90 22.35,102.90 22.35,102.75"
    # 12 km around Mù Cả reaches Pa Ủ (~10.7 km) but not Ka Lăng (~13.8 km).
    circle = "22.538,102.479 12"
    message = parse(
        minimal(info_with(area=area(f"<polygon>{polygon}</polygon><circle>{circle}</circle>")))
    )
    assert message.communes == ("bum-nua", "bum-to", "mu-ca", "pa-u", "thi-tran-muong-te")


def test_language_tags_become_iso_639_codes() -> None:
    thai = INFO_BODY.replace("vi-VN", "blt-VN")
    message = parse(minimal(info_with(body=thai)))
    assert message.infos[0].language == "blt"
    bare = INFO_BODY.replace("vi-VN", "VI")
    assert parse(minimal(info_with(body=bare))).infos[0].language == "vi"


@pytest.mark.parametrize(
    ("severity", "level"),
    [("Extreme", 5), ("Severe", 4), ("Moderate", 3), ("Minor", 2), ("Unknown", 3)],
)
def test_level_derives_from_severity_without_loa_risk_level(severity: str, level: int) -> None:
    body = INFO_BODY.replace("<severity>Severe</severity>", f"<severity>{severity}</severity>")
    info = parse(minimal(info_with(body=body))).infos[0]
    assert (info.hazard, info.level) == ("other", level)


def test_a_document_of_exactly_1_mib_is_read() -> None:
    data = minimal().encode("utf-8")
    parse(data + b" " * (MAX_CAP_BYTES - len(data)))


# --- hostile and broken documents --------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""


def test_billion_laughs_is_refused() -> None:
    refused(BILLION_LAUGHS, "<!DOCTYPE>", "may not have a DOCTYPE")


def test_external_entity_to_a_local_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("district-signing-key-123", encoding="utf-8")
    document = minimal().replace(
        "<alert ", f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n<alert ', 1
    )
    document = document.replace("<identifier>T-1</identifier>", "<identifier>&xxe;</identifier>")
    message = refused(document, "<!DOCTYPE>")
    assert "district-signing-key" not in message


def test_a_doctype_alone_is_refused() -> None:
    refused(minimal().replace("<alert ", "<!DOCTYPE alert>\n<alert ", 1), "<!DOCTYPE>")


def test_an_undeclared_entity_is_not_well_formed() -> None:
    document = minimal().replace("T-1", "&nbsp;")
    refused(document, "document: not well-formed XML", "undefined entity")


def test_oversize_document_is_refused_before_parsing() -> None:
    data = minimal().encode("utf-8")
    padded = data + b"<!--" + b"x" * MAX_CAP_BYTES + b"-->"
    refused(padded, "document:", "over the 1 MiB limit", str(MAX_CAP_BYTES))
    # Refused before parsing: even a document that is not XML at all.
    refused(b"\x00" * (MAX_CAP_BYTES + 1), "over the 1 MiB limit")


def test_wrong_namespace_is_refused() -> None:
    cap_1_1 = SAMPLE.replace(CAP_NAMESPACE, "urn:oasis:names:tc:emergency:cap:1.1")
    refused(cap_1_1, "alert:", "urn:oasis:names:tc:emergency:cap:1.1", CAP_NAMESPACE)
    no_namespace = SAMPLE.replace(f' xmlns="{CAP_NAMESPACE}"', "")
    refused(no_namespace, "alert:", "namespace must be")


def test_another_root_element_is_refused() -> None:
    refused(f'<feed xmlns="{CAP_NAMESPACE}"/>', "feed:", "root element must be CAP's <alert>")


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("<sent>2026-08-15T04:12:00+07:00", "<sent>2026-08-14T21:12:00Z", "alert/sent"),
        (
            "<expires>2026-08-15T22:00:00+07:00",
            "<expires>2026-08-15T15:00:00Z",
            "alert/info[1]/expires",
        ),
        (
            "<onset>2026-08-15T06:00:00+07:00",
            "<onset>2026-08-15T06:00:00 ICT",
            "alert/info[1]/onset",
        ),
    ],
)
def test_zone_letters_are_refused(old: str, new: str, path: str) -> None:
    refused(SAMPLE.replace(old, new, 1), f"{path}:", "'Z' is forbidden", new.split(">")[1])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-08-15T04:12:00.250+07:00", "YYYY-MM-DDThh:mm:ss±hh:mm"),
        ("2026-08-15 04:12:00+07:00", "YYYY-MM-DDThh:mm:ss±hh:mm"),
        ("2026-08-15T04:12:00", "YYYY-MM-DDThh:mm:ss±hh:mm"),
        ("2026-02-30T04:12:00+07:00", "not a real date and time"),
    ],
)
def test_other_bad_times_are_refused(value: str, problem: str) -> None:
    refused(SAMPLE.replace("2026-08-15T04:12:00+07:00", value, 1), "alert/sent:", problem, value)


@pytest.mark.parametrize(
    ("tag", "occurrence", "path"),
    [
        ("identifier", 1, "alert/identifier"),
        ("sender", 1, "alert/sender"),
        ("sent", 1, "alert/sent"),
        ("status", 1, "alert/status"),
        ("msgType", 1, "alert/msgType"),
        ("scope", 1, "alert/scope"),
        ("category", 3, "alert/info[2]/category"),
        ("event", 1, "alert/info[1]/event"),
        ("urgency", 2, "alert/info[2]/urgency"),
        ("severity", 1, "alert/info[1]/severity"),
        ("certainty", 1, "alert/info[1]/certainty"),
        ("areaDesc", 3, "alert/info[1]/area[3]/areaDesc"),
        ("resourceDesc", 1, "alert/info[2]/resource[1]/resourceDesc"),
        ("mimeType", 1, "alert/info[2]/resource[1]/mimeType"),
        ("valueName", 2, "alert/info[1]/eventCode[2]/valueName"),
    ],
)
def test_a_missing_required_element_is_refused(tag: str, occurrence: int, path: str) -> None:
    refused(without(SAMPLE, tag, occurrence), f"{path}:", "missing")


def test_an_empty_required_element_is_refused() -> None:
    refused(SAMPLE.replace("<event>Lũ quét</event>", "<event>  </event>"), "alert/info[2]/event:")


def test_a_duplicated_single_element_is_refused() -> None:
    twice = SAMPLE.replace(
        "<status>Actual</status>", "<status>Actual</status><status>Test</status>"
    )
    refused(twice, "alert/status:", "appears 2 times")


@pytest.mark.parametrize("msg_type", ["Ack", "Error"])
def test_ack_and_error_messages_are_refused(msg_type: str) -> None:
    document = SAMPLE.replace("<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>")
    refused(document, "alert/msgType:", "not acknowledgements or errors", repr(msg_type))


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("<status>Actual</status>", "<status>Real</status>", "alert/status"),
        ("<msgType>Alert</msgType>", "<msgType>Warning</msgType>", "alert/msgType"),
        ("<scope>Public</scope>", "<scope>Everyone</scope>", "alert/scope"),
        ("<category>Geo</category>", "<category>Flood</category>", "alert/info[1]/category[2]"),
        ("<urgency>Immediate</urgency>", "<urgency>Now</urgency>", "alert/info[1]/urgency"),
        ("<severity>Severe</severity>", "<severity>High</severity>", "alert/info[1]/severity"),
        ("<certainty>Likely</certainty>", "<certainty>Sure</certainty>", "alert/info[1]/certainty"),
    ],
)
def test_values_outside_cap_lists_are_refused(old: str, new: str, path: str) -> None:
    value = re.sub("<[^>]+>", "", new)
    refused(SAMPLE.replace(old, new, 1), f"{path}:", repr(value))


def test_identifier_with_a_space_is_refused() -> None:
    document = SAMPLE.replace("KTTV-LCH-20260815-0412", "KTTV LCH 0412", 1)
    refused(document, "alert/identifier:", "forbids spaces")


def test_an_update_must_reference_what_it_replaces() -> None:
    document = SAMPLE.replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>")
    refused(document, "alert/references:", "Update must name")


def test_a_malformed_reference_is_refused() -> None:
    document = minimal(head="<references>kttv,KTTV-1</references>")
    refused(document, "alert/references:", "'kttv,KTTV-1'")
    zulu = minimal(head="<references>kttv,KTTV-1,2026-08-15T04:12:00Z</references>")
    refused(zulu, "alert/references:", "'Z' is forbidden")


def test_risk_level_outside_1_to_5_is_refused() -> None:
    level_7 = SAMPLE.replace("<value>3</value>", "<value>7</value>")
    refused(level_7, "alert/info[1]/parameter[1]/value:", "1..5", "'7'")
    fractional = SAMPLE.replace("<value>3</value>", "<value>3.5</value>")
    refused(fractional, "alert/info[1]/parameter[1]/value:", "'3.5'")


def test_unknown_hazard_is_refused() -> None:
    document = SAMPLE.replace("<value>flash-flood</value>", "<value>volcano</value>", 1)
    refused(document, "alert/info[1]/eventCode[1]/value:", "Decision 18/2021", "'volcano'")


def test_conflicting_hazards_are_refused() -> None:
    extra = (
        "<eventCode><valueName>loa:hazard</valueName><value>flood</value></eventCode>"
        "<parameter><valueName>loa:hazard</valueName><value>landslide</value></parameter>"
    )
    refused(
        minimal(info_with(extra)), "alert/info[1]/parameter[1]/value:", "different", "landslide"
    )


def test_a_language_the_district_does_not_serve_is_refused() -> None:
    french = INFO_BODY.replace("vi-VN", "fr-FR")
    refused(minimal(info_with(body=french)), "alert/info[1]/language:", "'fr'", "'fr-FR'")
    # Without <language>, CAP 1.2 says en-US: not a language of Mường Tè.
    unsaid = INFO_BODY.replace("<language>vi-VN</language>", "")
    refused(minimal(info_with(body=unsaid)), "alert/info[1]/language:", "'en-US'", "hni, lhu")


def test_unknown_geocodes_are_refused() -> None:
    unknown_id = area("<geocode><valueName>commune</valueName><value>ha-noi</value></geocode>")
    refused(
        minimal(info_with(area=unknown_id)),
        "alert/info[1]/area[1]/geocode[1]/value:",
        "'ha-noi'",
    )
    unknown_code = area(
        "<geocode><valueName>vn-admin-code</valueName><value>00001</value></geocode>"
    )
    refused(
        minimal(info_with(area=unknown_code)),
        "alert/info[1]/area[1]/geocode[1]/value:",
        "admin code",
        "'00001'",
    )


def test_an_area_that_matches_no_commune_is_refused() -> None:
    gulf = area(
        "<polygon>20.0,107.0 20.5,107.0 20.5,107.5 20.0,107.5 20.0,107.0</polygon>",
        "Vịnh Bắc Bộ",
    )
    refused(
        minimal(info_with(area=AREA_BUM_NUA + gulf)),
        "alert/info[1]/area[2]/areaDesc:",
        "matches no commune of Mường Tè",
        "'Vịnh Bắc Bộ'",
    )


def test_an_alert_without_any_area_is_refused() -> None:
    refused(minimal(info_with(area="")), "alert/info:", "needs an <info> with an <area>")


@pytest.mark.parametrize(
    ("shape", "path", "problem"),
    [
        ("<polygon>22.3,102.7 22.5,102.7 22.3,102.7</polygon>", "polygon[1]", "at least 4"),
        ("<polygon>22.3,102.7 22.5,102.7 22.5,102.9 22.3,102.9</polygon>", "polygon[1]", "repeat"),
        ("<polygon>95,102.7 22.5,102.7 22.5,102.9 95,102.7</polygon>", "polygon[1]", "latitude"),
        ("<polygon>22.3;102.7 22.5,102.7 22.5,102.9 22.3;102.7</polygon>", "polygon[1]", "point"),
        ("<circle>22.538,102.479</circle>", "circle[1]", "radius_km"),
        ("<circle>22.538,102.479 -1</circle>", "circle[1]", "radius"),
        ("<circle>22.538,nan 5</circle>", "circle[1]", "longitude"),
    ],
)
def test_bad_shapes_are_refused(shape: str, path: str, problem: str) -> None:
    refused(minimal(info_with(area=area(shape))), f"alert/info[1]/area[1]/{path}:", problem)


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        ("<size>70</size>", "<size>seventy</size>", "size"),
        ("<digest>f18f", "<digest>zz8f", "digest"),
        ("<derefUri>TG9h", "<derefUri>!!!!TG9h", "derefUri"),
    ],
)
def test_bad_resource_fields_are_refused(old: str, new: str, element: str) -> None:
    refused(SAMPLE.replace(old, new), f"alert/info[2]/resource[1]/{element}:")


def test_cap_error_is_a_content_input_error() -> None:
    with pytest.raises(ContentInputError) as caught:
        parse(b"")
    assert caught.value.exit_code == 2


# --- resource content --------------------------------------------------------------------

AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00 stand-in bytes for an MP3"


def test_resource_from_a_relative_path_or_a_file_url(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "canh bao.mp3").write_bytes(AUDIO)
    relative = audio_resource("Cảnh báo", "audio/mpeg", AUDIO, "audio/canh%20bao.mp3")
    assert relative.digest == hashlib.sha256(AUDIO).hexdigest()
    assert resource_bytes(relative, tmp_path) == AUDIO
    url = replace(relative, uri=(tmp_path / "audio" / "canh bao.mp3").as_uri())
    assert resource_bytes(url, tmp_path) == AUDIO
    sha1 = replace(relative, digest=hashlib.sha1(AUDIO, usedforsecurity=False).hexdigest().upper())
    assert resource_bytes(sha1, tmp_path) == AUDIO


def test_resource_from_deref_uri() -> None:
    inline = CapResource(
        "Cảnh báo", "audio/mpeg", size=len(AUDIO), deref_uri=base64.b64encode(AUDIO).decode()
    )
    assert resource_bytes(inline, Path("/nonexistent")) == AUDIO


@pytest.mark.parametrize(
    ("change", "element", "problem"),
    [
        ({"digest": "0" * 64}, "digest", "the content's digest is"),
        ({"digest": "0" * 40}, "digest", "the content's digest is"),
        ({"digest": "abc"}, "digest", "40 hex digits"),
        ({"size": 3}, "size", f"the content is {len(AUDIO)} bytes"),
        ({"deref_uri": "not base64!"}, "derefUri", "not valid base64"),
        ({"uri": "https://kttv.example.vn/a.mp3"}, "uri", "no alert audio from the internet"),
        ({"uri": "ftp://kttv.example.vn/a.mp3"}, "uri", "only a relative path"),
        ({"uri": "../outside.mp3"}, "uri", "not under"),
        ({"uri": "file:///etc/hostname"}, "uri", "not under"),
        ({"uri": "audio/missing.mp3"}, "uri", "cannot read"),
        ({"uri": None}, "uri", "neither <derefUri> nor <uri>"),
    ],
)
def test_bad_resources_are_refused(
    tmp_path: Path, change: dict[str, object], element: str, problem: str
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "a.mp3").write_bytes(AUDIO)
    (tmp_path / "outside.mp3").write_bytes(AUDIO)
    good = audio_resource("Cảnh báo lũ quét", "audio/mpeg", AUDIO, "a.mp3")
    resource = replace(good, **change)  # type: ignore[arg-type]
    with pytest.raises(CapError) as caught:
        resource_bytes(resource, base)
    message = str(caught.value)
    assert message.startswith("resource 'Cảnh báo lũ quét': ")
    assert f": {element}: " in message and problem in message, message


# --- export ------------------------------------------------------------------------------


def flash_flood_message(**changes: object) -> CapMessage:
    """The message an app would build: one info per language, audio resources, one area."""
    area = cap_area(ORGANISATION, ["bum-nua", "thu-lum", "can-ho"])
    common = {
        "categories": ("Met", "Geo"),
        "event": "Lũ quét",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Likely",
        "hazard": "flash-flood",
        "level": 3,
        "effective": datetime(2026, 8, 15, 4, 15, tzinfo=ICT),
        "expires": datetime(2026, 8, 15, 22, 0, tzinfo=ICT),
        "sender_name": "Trung tâm VHTT&TT huyện Mường Tè",
        "areas": (area,),
    }
    vi = CapInfo(
        language="vi",
        headline="Cảnh báo lũ quét cấp độ 3",
        description="Mưa lớn gây nguy cơ lũ quét tại Bum Nưa, Thu Lũm, Can Hồ.",
        instruction="Không đi qua ngầm, tràn; di chuyển đến nơi an toàn.",
        event_codes=(("VN-KTTV", "LQ"),),
        parameters=(("luong-mua-mm", "80-150"),),
        resources=(audio_resource("Bản tin tiếng Việt", "audio/mpeg", AUDIO, "audio/vi.mp3"),),
        **common,  # type: ignore[arg-type]
    )
    hni = CapInfo(
        language="hni",
        headline="Cảnh báo lũ quét (tiếng Hà Nhì)",
        resources=(audio_resource("Bản ghi tiếng Hà Nhì", "audio/mpeg", b"hni", "audio/hni.mp3"),),
        **common,  # type: ignore[arg-type]
    )
    message = CapMessage(
        identifier="LOA-muong-te-20260815-0001",
        sender="loa@muong-te.example.vn",
        sent=datetime(2026, 8, 15, 4, 14, 30, tzinfo=ICT),
        status="Actual",
        msg_type="Alert",
        scope="Public",
        infos=(vi, hni),
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def test_export_is_valid_cap_and_round_trips(cap_schema: xmlschema.XMLSchema) -> None:
    message = flash_flood_message()
    data = write_cap(message)

    cap_schema.validate(data)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="')
    assert b"Z<" not in data and b"<sent>2026-08-15T04:14:30+07:00</sent>" in data
    assert b"<language>vi-VN</language>" in data and b"<language>hni</language>" in data
    assert b"<valueName>loa:riskLevel</valueName>" in data
    assert parse(data) == message
    assert message.communes == ("bum-nua", "can-ho", "thu-lum")


def test_export_area_geocodes_and_district_wide_description() -> None:
    some = cap_area(ORGANISATION, ["thu-lum", "can-ho"])
    assert some.description == "Thu Lũm, Can Hồ"
    assert some.geocodes == (
        ("commune", "thu-lum"),
        ("vn-admin-code", "03405"),
        ("commune", "can-ho"),  # no admin code known
    )
    everyone = cap_area(ORGANISATION, ORGANISATION.commune_ids())
    assert everyone.description == "Mường Tè"
    assert everyone.communes == tuple(sorted(ORGANISATION.commune_ids()))
    with pytest.raises(CapError, match=r"area/geocode: .*'ha-noi'"):
        cap_area(ORGANISATION, ["bum-nua", "ha-noi"])


def test_export_update_in_utc_with_shapes_round_trips(cap_schema: xmlschema.XMLSchema) -> None:
    original = CapReference(
        "loa@muong-te.example.vn", "LOA-1", datetime(2026, 8, 15, 4, 14, 30, tzinfo=ICT)
    )
    shapes = CapArea(
        "Thượng nguồn Nậm Ma",
        polygons=(((22.6, 102.33), (22.7, 102.33), (22.7, 102.5), (22.6, 102.5), (22.6, 102.33)),),
        circles=(CapCircle(22.538, 102.479, 0.00001),),
        communes=("ka-lang", "mu-ca", "thu-lum"),
    )
    base = flash_flood_message()
    message = replace(
        base,
        msg_type="Update",
        sent=datetime(2026, 8, 14, 23, 0, tzinfo=UTC),
        references=(original,),
        infos=(replace(base.infos[0], areas=(shapes,), level=5),),
    )
    data = write_cap(message)
    cap_schema.validate(data)
    assert b"<sent>2026-08-14T23:00:00+00:00</sent>" in data
    assert b"<circle>22.538,102.479 0.00001</circle>" in data  # never 1e-05
    assert (
        b"<references>loa@muong-te.example.vn,LOA-1,2026-08-15T04:14:30+07:00</references>" in data
    )
    assert parse(data) == message


def test_the_schema_catches_misordered_cap(cap_schema: xmlschema.XMLSchema) -> None:
    swapped = SAMPLE.replace(
        "<status>Actual</status>\n  <msgType>Alert</msgType>",
        "<msgType>Alert</msgType>\n  <status>Actual</status>",
    )
    assert not cap_schema.is_valid(swapped.encode("utf-8"))
    zulu = SAMPLE.replace("2026-08-15T04:12:00+07:00", "2026-08-14T21:12:00Z")
    assert not cap_schema.is_valid(zulu.encode("utf-8"))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"sent": datetime(2026, 8, 15, 4, 14)}, "alert/sent: a time needs its UTC offset"),
        ({"identifier": "LOA 1"}, "alert/identifier:"),
        ({"msg_type": "Ack"}, "alert/msgType:"),
        ({"msg_type": "Cancel"}, "alert/references: an Cancel must name references"),
    ],
)
def test_export_refuses_what_cap_cannot_carry(change: dict[str, object], path: str) -> None:
    with pytest.raises(CapError, match=re.escape(path)):
        write_cap(flash_flood_message(**change))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"level": 7}, "alert/info[1]/level: a risk level is 1..5: 7"),
        ({"hazard": "volcano"}, "alert/info[1]/hazard:"),
        ({"language": "vi-VN"}, "alert/info[1]/language:"),
        ({"categories": ()}, "alert/info[1]/category:"),
        ({"event_codes": (("loa:hazard", "flood"),)}, "alert/info[1]/eventCode[1]/valueName:"),
        ({"headline": "tab\x07bell"}, "alert/info[1]/headline:"),
        ({"expires": datetime(2026, 8, 15, 22, 0)}, "alert/info[1]/expires:"),
    ],
)
def test_export_refuses_bad_infos(change: dict[str, object], path: str) -> None:
    base = flash_flood_message()
    bad = replace(base, infos=(replace(base.infos[0], **change),))  # type: ignore[arg-type]
    with pytest.raises(CapError, match=re.escape(path)):
        write_cap(bad)


def test_hazards_are_the_decision_18_groups() -> None:
    assert len(HAZARDS) == len(set(HAZARDS)) == 20
    assert HAZARDS[-1] == "other" and "flash-flood" in HAZARDS


# --- registry fields -----------------------------------------------------------------------


def test_commune_admin_code_and_centroid() -> None:
    commune = Commune(id="ka-lang", name="Ka Lăng", admin_code="03404", centroid=(22.659, 102.443))
    assert commune.admin_code == "03404" and commune.centroid == (22.659, 102.443)
    plain = Commune(id="ka-lang", name="Ka Lăng")
    assert plain.admin_code is None and plain.centroid is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"admin_code": "3404"}, "admin_code"),
        ({"admin_code": "034040"}, "admin_code"),
        ({"admin_code": "０３４０４"}, "admin_code"),
        ({"admin_code": 3404}, "write the administrative unit code quoted"),
        ({"centroid": (91.0, 102.4)}, "latitude 91.0 is outside"),
        ({"centroid": (22.6, -181.0)}, "longitude -181.0 is outside"),
        ({"centroid": (22.6,)}, "centroid"),
    ],
)
def test_commune_admin_code_and_centroid_are_checked(
    fields: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        Commune(id="ka-lang", name="Ka Lăng", **fields)
