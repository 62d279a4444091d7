"""Issuing, updating and cancelling alerts, end to end against real SeaweedFS, espeak-ng and
ffmpeg; the loudness of every clip is measured by ffmpeg's ebur128 filter."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app._alerts import alert_store, cancel_alert, publish_alert, send_alert
from config import Settings, UserInputError
from content import AlertDraft, AlertState, AlertStatus, ContentInputError, Hazard
from playout import (
    DistrictKeys,
    ItemKind,
    Manifest,
    ManifestItem,
    ObjectNotFound,
    Priority,
    S3ObjectStore,
    manifest_key,
    verify,
)
from tests.cli import one_line_error, run_loa
from tests.conftest import cli_env, free_port_block
from tests.edge_service import EdgeService
from tests.meter import decode, integrated_lufs, true_peak_dbtp

FLOOD_VI = (
    "Cảnh báo lũ quét, sạt lở đất. Đề nghị bà con không đi qua ngầm, tràn, suối khi nước đang lên."
)


@pytest.fixture
def district(alert_district: Settings) -> Settings:
    return alert_district


def _draft(settings: Settings, **changes: Any) -> AlertDraft:
    now = datetime.now(settings.organisation.district.zone).replace(microsecond=0)
    values: dict[str, Any] = {
        "title": "Cảnh báo lũ quét – rủi ro thiên tai cấp độ 3",
        "hazard": Hazard.FLASH_FLOOD,
        "level": 3,
        "status": AlertStatus.ACTUAL,
        "communes": ("ta-tong", "pa-u", "mu-ca"),
        "issued_at": now,
        "expires_at": now + timedelta(hours=6),
        "identifier": f"test-{now.timestamp()}-{sorted(changes)}-{id(changes)}",
        "sender": "muong-te@loa",
        "repeat_every_s": 7200,
        "texts": {"vi": FLOOD_VI},
        "phrasebank_languages": ("lhu", "hni"),
        **changes,
    }
    return AlertDraft(**values)


def _manifest(settings: Settings, commune: str) -> Manifest:
    store = S3ObjectStore.from_settings(settings)
    data = store.get_bytes(manifest_key(commune), max_bytes=1 << 20)
    keys = [DistrictKeys(settings.key_dir).private_key().public_key()]
    return verify(data, keys, source=commune, now=datetime.now(UTC))


def test_an_alert_reaches_every_target_in_each_of_its_languages(district: Settings) -> None:
    sent = send_alert(district, _draft(district), actor="chủ tịch UBND huyện")
    assert sorted(sent.communes) == ["mu-ca", "pa-u", "ta-tong"]
    assert sent.languages == ["hni", "lhu", "vi"]
    by_commune = {c: _in_play_order(_manifest(district, c).items) for c in sent.communes}
    assert [(i.language, i.kind, i.priority) for i in by_commune["ta-tong"]] == [
        ("vi", ItemKind.ALERT, Priority.EMERGENCY),
        ("lhu", ItemKind.ALERT, Priority.EMERGENCY),
    ]
    assert [item.language for item in by_commune["mu-ca"]] == ["vi", "hni"]
    vi, lhu = by_commune["ta-tong"]
    assert vi.id == f"alert-{sent.alert.id}-vi"
    assert vi.repeat is not None and vi.repeat.every_s == 7200
    assert vi.repeat.until + (vi.not_after - vi.start) <= sent.alert.expires_at
    # Both playable at once; newest first (DESIGN.md §5) puts Vietnamese first.
    assert vi.start - lhu.start == timedelta(milliseconds=1)
    # Vietnamese is one clip for all; the phrase bank says each commune's own name.
    assert by_commune["pa-u"][0].audio == vi.audio
    assert by_commune["pa-u"][1].audio.sha256 != lhu.audio.sha256
    clip = district.data_dir / "clips" / vi.audio.key.removeprefix("audio/")
    decoded = decode(clip)
    assert integrated_lufs(decoded) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(decoded) <= -1.5
    stored = alert_store(district).alert(sent.alert.id)
    assert {d.commune: d.sequence for d in stored.deliveries} == {
        c: _manifest(district, c).sequence for c in sent.communes
    }


def _in_play_order(items: list[ManifestItem]) -> list[ManifestItem]:
    """Emergencies play newest start first (DESIGN.md §5)."""
    return sorted(items, key=lambda item: item.start, reverse=True)


def _alert_items(settings: Settings, commune: str) -> list[str]:
    """The ids of the commune's alert items, in the order they play."""
    try:
        manifest = _manifest(settings, commune)
    except ObjectNotFound:
        return []
    return [item.id for item in _in_play_order(manifest.items) if item.id.startswith("alert-")]


def test_an_update_replaces_the_alert_everywhere_and_a_cancel_removes_it(
    district: Settings,
) -> None:
    first = send_alert(district, _draft(district, phrasebank_languages=("lhu", "hni")), actor="a")
    update = _draft(district, level=4, communes=("ta-tong",), supersedes=first.alert.id)
    second = send_alert(district, update, actor="b")
    assert _alert_items(district, "ta-tong") == [
        f"alert-{second.alert.id}-vi",
        f"alert-{second.alert.id}-lhu",
    ]
    # The communes the update no longer names lose the old alert and its pending repeats.
    assert _alert_items(district, "pa-u") == [] and _alert_items(district, "mu-ca") == []
    store = alert_store(district)
    assert store.alert(first.alert.id).state is AlertState.SUPERSEDED
    cancelled = cancel_alert(district, second.alert.id, actor="b", reason="Hết nguy cơ lũ")
    assert cancelled.communes == ["ta-tong"]
    assert _alert_items(district, "ta-tong") == []
    assert store.alert(second.alert.id).state is AlertState.CANCELLED
    with pytest.raises(ContentInputError, match="already cancelled"):
        cancel_alert(district, second.alert.id, actor="b", reason="again")


def test_resending_a_published_alert_changes_nothing(district: Settings) -> None:
    sent = send_alert(district, _draft(district, communes=("bum-nua", "pa-u")), actor="a")
    before = {c: _manifest(district, c).sequence for c in ("bum-nua", "pa-u")}
    store = alert_store(district)
    again = publish_alert(district, store, store.alert(sent.alert.id))
    # The same items with the same start: no new manifest, so no agent plays it twice.
    assert again.report.written == [] and sorted(again.report.unchanged) == ["bum-nua", "pa-u"]
    assert {c: _manifest(district, c).sequence for c in ("bum-nua", "pa-u")} == before
    assert again.report.uploaded == []


def test_a_draft_never_leaves_the_district(district: Settings) -> None:
    held = send_alert(district, _draft(district, status=AlertStatus.DRAFT), actor="a")
    assert held.published_at is None and held.alert.state is AlertState.HELD
    assert all(_alert_items(district, c) == [] for c in ("ta-tong", "pa-u", "mu-ca"))


def test_a_test_alert_is_a_test_item_announced_as_a_test(district: Settings) -> None:
    real = send_alert(district, _draft(district, communes=("bum-nua",)), actor="a")
    test = send_alert(
        district,
        _draft(district, communes=("bum-nua",), status=AlertStatus.TEST, title="[THỬ NGHIỆM] x"),
        actor="a",
    )
    items = {item.id: item for item in _manifest(district, "bum-nua").items}
    real_vi, test_vi = items[f"alert-{real.alert.id}-vi"], items[f"alert-{test.alert.id}-vi"]
    assert (real_vi.kind, test_vi.kind) == (ItemKind.ALERT, ItemKind.TEST)
    assert test_vi.priority is Priority.EMERGENCY
    # The notice (about 4 s) is said before the message each of the three times.
    extra_ms = test_vi.audio.duration_ms - real_vi.audio.duration_ms
    assert extra_ms > 3 * 3000


def test_every_language_is_checked_before_anything_is_published(district: Settings) -> None:
    draft = _draft(district, phrasebank_languages=("hni",))  # ta-tong and pa-u need lhu
    with pytest.raises(UserInputError) as refused:
        send_alert(district, draft, actor="a")
    message = str(refused.value)
    assert "xã Tà Tổng (ta-tong) cần tiếng La Hủ (lhu)" in message
    assert "xã Pa Ủ (pa-u) cần tiếng La Hủ (lhu)" in message
    assert alert_store(district).alerts() == []
    assert all(_alert_items(district, c) == [] for c in ("ta-tong", "pa-u", "mu-ca"))


def _edge_settings(district: Settings, url: str) -> Settings:
    data = district.model_dump()
    data["tts"]["chains"]["vi"] = ["edge", "espeak"]
    data["tts"]["edge"]["service_url"] = url
    return Settings(**data)


@pytest.mark.parametrize(("behaviour", "engine"), [("ok", "edge"), ("stall", "espeak")])
def test_the_neural_voice_is_used_only_when_it_answers_in_time(
    district: Settings, behaviour: str, engine: str
) -> None:
    with EdgeService() as service:
        service.script([behaviour] * 4)
        settings = _edge_settings(district, service.url)
        started = time.monotonic()
        sent = send_alert(settings, _draft(settings, communes=("bum-nua",)), actor="a")
        elapsed = time.monotonic() - started
    clips = sent.alert.latest_clips()
    assert clips[("vi", None)].engine == engine
    # A stalled service costs the wait (3 s per Vietnamese part said), never its own timeout.
    assert elapsed < 3 * settings.alerts.neural_wait_s + 10


def test_with_the_network_off_the_alert_does_not_wait_for_edge_tts(
    district: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port_block(1)  # nothing listens there: the service is unreachable
    settings = _edge_settings(district, f"ws://127.0.0.1:{closed}/edge")
    with caplog.at_level(logging.INFO, logger="app._alert_render"):
        sent = send_alert(settings, _draft(settings, communes=("bum-nua",)), actor="a")
    assert sent.alert.latest_clips()[("vi", None)].engine == "espeak"
    assert "edge-tts failed" in caplog.text
    assert "did not answer within" not in caplog.text  # refused at once, not waited for


def test_loa_alert_send_prints_its_json_once_published(district: Settings, tmp_path: Path) -> None:
    text = tmp_path / "lũ quét.txt"
    text.write_text(FLOOD_VI, encoding="utf-8")
    sent = run_loa(
        "alert", "send", str(text), "--level", "4", "--hazard", "flash-flood",
        "--communes", "bum-nua,thu-lum", "--phrasebank", "hni", "--expires", "+6h", "--json",
        env=cli_env(district, tmp_path),
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    printed = json.loads(sent.stdout)
    assert set(printed) == {"id", "communes", "languages", "published_at"}
    assert printed["communes"] == ["bum-nua", "thu-lum"] and printed["languages"] == ["hni", "vi"]
    assert _alert_items(district, "thu-lum") == [
        f"alert-{printed['id']}-vi",
        f"alert-{printed['id']}-hni",
    ]


def test_loa_alert_update_keeps_what_it_does_not_restate(
    district: Settings, tmp_path: Path
) -> None:
    first = send_alert(district, _draft(district, communes=("ta-tong",)), actor="a")
    text = tmp_path / "cập nhật.txt"
    text.write_text("Mưa lớn tiếp diễn, nguy cơ lũ quét rất cao.", encoding="utf-8")
    env = cli_env(district, tmp_path)
    updated = run_loa(
        "alert", "update", str(first.alert.id), str(text), "--level", "4", "--json", env=env
    )
    assert updated.returncode == 0, updated.stderr
    new_id = json.loads(updated.stdout)["id"]
    store = alert_store(district)
    new = store.alert(new_id)
    assert (new.level, new.supersedes_id, new.communes) == (4, first.alert.id, ("ta-tong",))
    assert new.phrasebank_languages == ("lhu", "hni")  # kept from the first
    vietnamese = new.item.variant("vi")
    assert vietnamese is not None and vietnamese.text == text.read_text(encoding="utf-8")
    assert new.title == "Cảnh báo lũ quét – rủi ro thiên tai cấp độ 4"
    assert _alert_items(district, "ta-tong") == [f"alert-{new_id}-vi", f"alert-{new_id}-lhu"]
    again = run_loa("alert", "update", str(first.alert.id), "--level", "5", env=env)
    assert again.returncode == 2
    assert "already superseded" in one_line_error(again)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--level", "7"], "risk level 7: Decision 18/2021 has levels 1 to 5"),
        (["--expires", "2020-01-01T00:00:00+07:00"], "is in the past"),
        (["--communes", ""], "--communes: name at least one commune id, or 'all'"),
        (["--communes", "atlantis"], "unknown commune 'atlantis'"),
        (["--hazard", "volcano"], "--hazard 'volcano': not one of"),
        (["--status", "system"], "--status 'system': not one of"),
        (["--communes", "ta-tong", "--phrasebank", ""], "xã Tà Tổng (ta-tong) cần tiếng La Hủ"),
    ],
)
def test_bad_alerts_exit_2_and_publish_nothing(
    district: Settings, tmp_path: Path, arguments: list[str], message: str
) -> None:
    text = tmp_path / "canh-bao.txt"
    text.write_text(FLOOD_VI, encoding="utf-8")
    defaults = ["--communes", "bum-nua", "--phrasebank", "hni"]
    refused = run_loa(
        "alert", "send", str(text), *defaults, *arguments, env=cli_env(district, tmp_path)
    )
    assert refused.returncode == 2, refused.stderr
    assert message in one_line_error(refused)
    assert alert_store(district).alerts() == []
    assert _alert_items(district, "bum-nua") == [] and _alert_items(district, "ta-tong") == []
