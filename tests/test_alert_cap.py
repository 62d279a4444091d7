"""`loa alert import` / `loa alert export`: CAP 1.2 messages end to end, against real
SeaweedFS, espeak-ng and ffmpeg (the sender's recordings and XML are made here)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from app._alert_cap import export_cap, import_cap
from app._alerts import alert_store
from config import Settings
from content import (
    AlertState,
    CapArea,
    CapError,
    CapInfo,
    CapMessage,
    CapReference,
    CapResource,
    parse_cap,
    write_cap,
)
from playout import S3ObjectStore
from tests.cli import one_line_error, run_loa
from tests.conftest import cli_env
from tests.test_alerts import _alert_items, _manifest

SCHEMA = Path(__file__).resolve().parent / "data" / "cap" / "CAP-v1.2.xsd"
SENDER = "canhbao@kttv-laichau.example.vn"
COMMUNES = ("bum-nua", "thu-lum")  # both speak vi and hni


@pytest.fixture
def district(alert_district: Settings) -> Settings:
    return alert_district


def _recording(path: Path) -> Path:
    """A stand-in for a Hà Nhì speaker's recording: espeak-ng's voice, as a WAV."""
    subprocess.run(
        ["espeak-ng", "-v", "vi", "-w", str(path), "Chú ý! Lũ quét. Bà con đi ngay."],
        check=True,
        capture_output=True,
    )
    return path


def _message(settings: Settings, folder: Path, **changes: Any) -> Path:
    """A CAP Alert in vi-VN (text) and hni (a recording beside the XML), written out."""
    now = datetime.now(settings.organisation.district.zone).replace(microsecond=0)
    wav = _recording(folder / "hni.wav")
    data = wav.read_bytes()
    area = CapArea("Xã Bum Nưa, xã Thu Lũm", geocodes=tuple(("commune", c) for c in COMMUNES))
    common: dict[str, Any] = {
        "categories": ("Met",),
        "event": "Lũ quét",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Likely",
        "hazard": "flash-flood",
        "level": 4,
        "expires": now + timedelta(hours=6),
        "areas": (area,),
    }
    vietnamese = CapInfo(
        language="vi",
        headline="Cảnh báo lũ quét",
        description="Nguy cơ rất cao xảy ra lũ quét trên các suối nhỏ.",
        instruction="Không đi qua ngầm, tràn khi nước lớn.",
        **common,
    )
    resource = CapResource(
        "Bản ghi tiếng Hà Nhì",
        "audio/x-wav",
        size=len(data),
        uri="hni.wav",
        digest=hashlib.sha1(data).hexdigest(),  # noqa: S324 - CAP 1.2 specifies SHA-1
    )
    hani = CapInfo(language="hni", resources=(resource,), **common)
    fields: dict[str, Any] = {
        "identifier": f"KTTV-LCH-{now:%Y%m%d%H%M%S}",
        "sender": SENDER,
        "sent": now,
        "status": "Actual",
        "msg_type": "Alert",
        "scope": "Public",
        "infos": (vietnamese, hani),
        **changes,
    }
    path = folder / f"{fields['identifier']}-{fields['msg_type']}.xml"
    path.write_bytes(write_cap(CapMessage(**fields)))
    return path


def _reference(path: Path, settings: Settings) -> CapReference:
    message = parse_cap(path.read_bytes(), settings.organisation, source=str(path))
    return CapReference(message.sender, message.identifier, message.sent)


def test_alert_update_and_cancel_arrive_as_cap(district: Settings, tmp_path: Path) -> None:
    first_xml = _message(district, tmp_path)
    imported = run_loa("alert", "import", str(first_xml), "--json", env=cli_env(district, tmp_path))
    assert imported.returncode == 0, imported.stderr
    first = json.loads(imported.stdout)
    assert (first["msg_type"], first["communes"], first["languages"]) == (
        "Alert",
        list(COMMUNES),
        ["hni", "vi"],
    )
    assert _alert_items(district, "bum-nua") == [f"alert-{first['id']}-{c}" for c in ("vi", "hni")]
    stored = alert_store(district).alert(first["id"])
    assert {(c.language, c.source) for c in stored.clips} == {("vi", "text"), ("hni", "recording")}
    assert stored.level == 4 and stored.severity == "Severe"

    update_xml = _message(
        district,
        tmp_path,
        identifier="KTTV-LCH-update-1",
        msg_type="Update",
        references=(_reference(first_xml, district),),
    )
    update = import_cap(district, update_xml, actor="cap-import")
    assert update.outcome.alert.supersedes_id == first["id"]
    assert alert_store(district).alert(first["id"]).state is AlertState.SUPERSEDED
    new_id = update.outcome.alert.id
    assert _alert_items(district, "thu-lum") == [f"alert-{new_id}-vi", f"alert-{new_id}-hni"]

    cancel_xml = _message(
        district,
        tmp_path,
        identifier="KTTV-LCH-cancel-1",
        msg_type="Cancel",
        references=(_reference(update_xml, district),),
    )
    cancelled = import_cap(district, cancel_xml, actor="cap-import")
    assert cancelled.outcome.alert.state is AlertState.CANCELLED
    assert _alert_items(district, "bum-nua") == [] and _alert_items(district, "thu-lum") == []


def test_export_is_valid_cap_with_every_rendered_audio(district: Settings, tmp_path: Path) -> None:
    imported = import_cap(district, _message(district, tmp_path), actor="cap-import")
    document = export_cap(district, imported.outcome.alert.id)
    xmlschema.XMLSchema(str(SCHEMA)).validate(document.decode())
    again = parse_cap(document, district.organisation, source="export")
    assert again.communes == COMMUNES
    assert [info.language for info in again.infos] == ["vi", "hni"]
    storage = S3ObjectStore.from_settings(district)
    for info in again.infos:
        (resource,) = info.resources
        key = resource.uri.split(f"/{storage.bucket}/", 1)[1] if resource.uri else ""
        stored = storage.get_bytes(key, max_bytes=1 << 26)
        assert hashlib.sha256(stored).hexdigest() == resource.digest
        assert resource.size == len(stored)
    manifest = _manifest(district, "bum-nua")
    assert {i.audio.sha256 for i in manifest.items} == {
        r.digest for info in again.infos for r in info.resources
    }


def test_a_cancel_for_an_unknown_alert_is_refused(district: Settings, tmp_path: Path) -> None:
    unknown = CapReference(
        SENDER, "KTTV-never-sent", datetime.now(district.organisation.district.zone)
    )
    cancel_xml = _message(district, tmp_path, msg_type="Cancel", references=(unknown,))
    refused = run_loa("alert", "import", str(cancel_xml), env=cli_env(district, tmp_path))
    assert refused.returncode == 2
    assert "nothing to cancel" in one_line_error(refused)
    assert alert_store(district).alerts() == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&d;</identifier></alert>
"""


def test_an_xml_bomb_is_refused_and_nothing_is_published(
    district: Settings, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    refused = run_loa("alert", "import", str(bomb), env=cli_env(district, tmp_path))
    assert refused.returncode == 2
    message = one_line_error(refused)
    assert "bomb.xml" in message and "DTD" in message
    assert alert_store(district).alerts() == []
    with pytest.raises(CapError, match="'System' messages are not broadcast"):
        import_cap(district, _message(district, tmp_path, status="System"), actor="x")
