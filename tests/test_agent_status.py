"""``loa agent status``: the agent's local state, read without the network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import Settings
from playout import DistrictKeys, ObjectStore
from playout.agent import CommuneAgent, FileSink, Outcome, status_path
from tests.cli import one_line_error, run_loa
from tests.conftest import SettingsFactory, agent_settings
from tests.manifests import COMMUNE, Bucket, item, make_tone, manifest

TIMING = {"poll_interval_s": 0.2, "heartbeat_interval_s": 1.0, "once_max_wait_s": 2.0}


@pytest.fixture
def settings(make_settings: SettingsFactory, district_keys: DistrictKeys) -> Settings:
    return agent_settings(make_settings, district_keys, TIMING)


@pytest.fixture
def published(object_store: ObjectStore, district_keys: DistrictKeys, tmp_path: Path) -> Bucket:
    """A manifest with one item in a second and one tomorrow ("Bản tin trưa")."""
    bucket = Bucket(object_store, district_keys.private_key())
    ref = bucket.put_audio(make_tone(tmp_path / "tone.mp3", 440))
    now = datetime.now(UTC)
    items = [
        item(ref, now + timedelta(seconds=1), item_id="ban-tin-sang"),
        item(ref, now + timedelta(hours=1), item_id="ban-tin-trua", title="Bản tin trưa"),
    ]
    bucket.publish(manifest(items, sequence=7))
    return bucket


def status(settings: Settings, *options: str) -> tuple[int, str, str]:
    env = {"LOA_DATA_DIR": str(settings.data_dir)}
    result = run_loa("agent", "status", "--commune", COMMUNE, *options, env=env, timeout=60)
    return result.returncode, result.stdout, result.stderr


def test_status_after_a_run_in_json_and_in_vietnamese(
    settings: Settings, object_store: ObjectStore, published: Bucket, tmp_path: Path
) -> None:
    agent = CommuneAgent(settings, COMMUNE, object_store, FileSink(tmp_path / "played"))
    agent.run(once=True)

    code, out, _ = status(settings, "--json")
    assert code == 0
    document = json.loads(out)
    assert document == json.loads(status_path(settings, COMMUNE).read_bytes())
    assert document == published.read_json(f"communes/{COMMUNE}/status/heartbeat.json")

    code, out, _ = status(settings)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"Trạm phát xã {COMMUNE}: trạng thái lúc ")
    assert lines[1].startswith("Lịch phát: số 7, hiệu lực đến ")
    assert "Kết nối: trực tuyến" in lines
    assert "Đang phát: không" in lines
    assert any(line.startswith("Mục kế tiếp: «Bản tin trưa» (ban-tin-trua) lúc ") for line in lines)
    assert any(line.startswith("Bộ nhớ đệm: 1 tệp, ") and "còn trống" in line for line in lines)
    assert any(line.startswith("Đồng hồ: máy này ") and "giờ của máy này" in line for line in lines)
    assert "Lỗi gần nhất: không có" in lines
    assert "Biên bản phát chờ gửi: 0" in lines


def test_status_of_an_offline_agent_shows_the_waiting_receipts(
    settings: Settings,
    object_store: ObjectStore,
    dead_store: ObjectStore,
    published: Bucket,
    tmp_path: Path,
) -> None:
    sink = FileSink(tmp_path / "played")
    assert CommuneAgent(settings, COMMUNE, object_store, sink).sync().audio_refused == []
    summary = CommuneAgent(settings, COMMUNE, dead_store, sink).run(once=True)
    played = [r.occurrence.item.id for r in summary.receipts if r.outcome is Outcome.PLAYED]
    assert played == ["ban-tin-sang"] and summary.online is False

    code, out, _ = status(settings)

    assert code == 0
    lines = out.splitlines()
    assert "Kết nối: mất kết nối với kho lưu trữ" in lines
    assert "Biên bản phát chờ gửi: 1" in lines
    [last_error] = [line for line in lines if line.startswith("Lỗi gần nhất: ")]
    assert "cannot reach S3 endpoint" in last_error
    document = json.loads(status(settings, "--json")[1])
    assert document["online"] is False and document["outbox_pending"] == 1
    assert document["last_play"]["item_id"] == "ban-tin-sang"


def test_status_without_state_exits_2_naming_the_commune_and_the_file(settings: Settings) -> None:
    env = {"LOA_DATA_DIR": str(settings.data_dir)}
    result = run_loa("agent", "status", "--commune", COMMUNE, env=env, timeout=60)

    assert result.returncode == 2
    line = one_line_error(result)
    assert f"commune {COMMUNE!r}" in line and str(status_path(settings, COMMUNE)) in line

    unknown = run_loa("agent", "status", "--commune", "atlantis", "--json", env=env, timeout=60)
    assert unknown.returncode == 2 and "unknown commune 'atlantis'" in one_line_error(unknown)
