"""Slot bulletins built from bookings: real SQLite, espeak-ng, ffmpeg and SeaweedFS; the
programmes measured with an independent meter."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app._bulletins import build_slot
from app._publishing import content_store
from config import Settings
from playout import DistrictKeys, S3ObjectStore, manifest_key, verify
from playout.scheduler import BuildStatus, DistrictScheduler
from tests.meter import decode, integrated_lufs, true_peak_dbtp

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
GAP_S = 1.5


@pytest.fixture
def settings(seaweed_settings: Settings) -> Settings:
    DistrictKeys(seaweed_settings.key_dir).init()
    slots = {
        "morning": {"at": "06:00", "duration_minutes": 30, "title": "Bản tin sáng"},
        "evening": "17:00 daily",
    }
    data = seaweed_settings.model_dump()
    data["schedule"] = {"slots": slots, "gap_between_items_s": GAP_S}
    data["tts"]["chains"]["vi"] = ["espeak"]  # no internet here: the offline voice
    return Settings(**data)


def _approved(
    settings: Settings, title: str, text: str, *, priority: str = "normal", blt: Path | None = None
) -> int:
    store = content_store(settings)
    item = store.add_item("bulletin", title, "vi", text=text, priority=priority, actor="biên tập")
    if blt is not None:
        store.add_variant(item.id, "blt", audio_file=blt, actor="biên tập")
    store.approve(item.id, "trưởng ban")
    return item.id


def _book(
    settings: Settings, item_id: int, slot: str, day: date, communes: list[str] | None
) -> None:
    content_store(settings).book(item_id, slot, communes=communes, first_day=day, actor="biên tập")


def _manifest(settings: Settings, commune_id: str) -> dict[str, Any] | None:
    store = S3ObjectStore.from_settings(settings)
    if store.head(manifest_key(commune_id)) is None:
        return None
    data = store.get_bytes(manifest_key(commune_id), max_bytes=1 << 20)
    keys = [DistrictKeys(settings.key_dir).private_key().public_key()]
    verify(data, keys, source=commune_id, now=datetime.now(UTC))
    document: dict[str, Any] = json.loads(data)
    return document


def _tomorrow() -> date:
    return datetime.now(ZONE).date() + timedelta(days=1)


def test_a_slot_bulletin_per_commune_and_language(settings: Settings, tmp_path: Path) -> None:
    recording = tmp_path / "thông báo tiếng Thái.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=3", str(recording)],
        check=True,
    )
    day = _tomorrow()
    local = _approved(settings, "Tin xã", "Xã Bum Nưa họp dân lúc 8 giờ sáng.")
    urgent = _approved(
        settings,
        "Lịch tiêm",
        "Trạm y tế tiêm vắc-xin sởi cho trẻ em vào thứ Tư.",
        priority="priority",
        blt=recording,
    )
    _book(settings, local, "morning", day, ["bum-nua", "thi-tran-muong-te"])
    _book(settings, urgent, "morning", day, None)  # booked later, but priority plays first

    scheduler = DistrictScheduler(settings, partial(build_slot, settings))
    (record,) = scheduler.run_now("morning", day)

    assert record.status is BuildStatus.PUBLISHED, record.summary
    plan = record.detail["communes"]
    assert plan["bum-nua"] == {"vi": [urgent, local]}
    assert record.detail["missing_languages"]["bum-nua"] == ["hni"]
    assert plan["thi-tran-muong-te"] == {"vi": [urgent, local], "blt": [urgent]}
    assert plan["pa-u"] == {"vi": [urgent]}
    slot_start = datetime(day.year, day.month, day.day, 6, tzinfo=ZONE)

    town = _manifest(settings, "thi-tran-muong-te")
    assert town is not None
    vi, blt = town["items"]
    assert (vi["language"], blt["language"]) == ("vi", "blt")
    assert vi["id"] == f"morning-{day.isoformat()}-vi" and vi["kind"] == "bulletin"
    assert vi["title"] == f"Bản tin sáng {day:%d/%m/%Y}"
    assert vi["priority"] == "priority"
    assert datetime.fromisoformat(vi["start"]) == slot_start
    assert datetime.fromisoformat(vi["not_after"]) == slot_start + timedelta(minutes=30)
    vi_ms = vi["audio"]["duration_ms"]
    assert datetime.fromisoformat(blt["start"]) == slot_start + timedelta(milliseconds=vi_ms + 2000)
    # Communes with the same items share one programme clip.
    assert _manifest(settings, "bum-nua")["items"][0]["audio"] == vi["audio"]  # type: ignore[index]

    programme = tmp_path / "programme.mp3"
    S3ObjectStore.from_settings(settings).download_to(
        vi["audio"]["key"], programme, max_bytes=1 << 26
    )
    decoded = decode(programme)
    assert abs(integrated_lufs(decoded) + 16.0) <= 0.5
    assert true_peak_dbtp(decoded) <= -1.5
    parts = [_clip_seconds(settings, item_id) for item_id in (urgent, local)]
    assert decoded.duration_s == pytest.approx(sum(parts) + GAP_S, abs=0.7)


def _clip_seconds(settings: Settings, item_id: int) -> float:
    variant = content_store(settings).get(item_id).variant("vi")
    assert variant is not None and variant.latest_clip is not None
    return variant.latest_clip.duration_ms / 1000


def test_an_empty_slot_publishes_nothing_and_says_so(settings: Settings) -> None:
    scheduler = DistrictScheduler(settings, partial(build_slot, settings))
    (record,) = scheduler.run_now("evening", _tomorrow())
    assert record.status is BuildStatus.EMPTY
    assert "không có nội dung nào" in record.summary
    assert len(record.detail["empty"]) == len(settings.organisation.communes)
    assert _manifest(settings, "bum-nua") is None


def test_building_a_slot_again_publishes_nothing_twice(settings: Settings) -> None:
    day = _tomorrow()
    item_id = _approved(settings, "Tin huyện", "Huyện tổ chức hội nghị nông nghiệp.")
    _book(settings, item_id, "evening", day, ["ka-lang"])
    scheduler = DistrictScheduler(settings, partial(build_slot, settings))
    (first,) = scheduler.run_now("evening", day)
    sequence = _manifest(settings, "ka-lang")["sequence"]  # type: ignore[index]
    (again,) = scheduler.run_now("evening", day)

    assert (first.status, again.status) == (BuildStatus.PUBLISHED, BuildStatus.PUBLISHED)
    assert again.detail["uploaded"] == 0 and again.detail["unchanged"] == ["ka-lang"]
    manifest = _manifest(settings, "ka-lang")
    assert manifest is not None and manifest["sequence"] == sequence
    assert [entry["id"] for entry in manifest["items"]] == [f"evening-{day.isoformat()}-vi"]
    assert manifest["items"][0]["title"] == f"Bản tin evening {day:%d/%m/%Y}"
