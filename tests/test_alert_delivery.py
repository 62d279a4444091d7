"""Alerts reaching real commune agents (threads, `file:` sinks) through real SeaweedFS:
what they played, what `loa alert status` shows, and the routine silent check."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app._alert_checks import reports_dir, silent_check
from app._alert_status import alert_status
from app._alerts import send_alert
from config import Settings
from content import AlertDraft, AlertStatus, Hazard
from playout import AckState
from tests.cli import run_loa
from tests.conftest import cli_env, run_agents, sink_plays

FLOOD_VI = "Cảnh báo lũ quét. Bà con không đi qua ngầm, tràn, suối khi nước đang lên."
WITH_AGENTS = ["ta-tong", "mu-ca"]  # vi + lhu, vi + hni
WITHOUT_AGENT = "pa-u"


@pytest.fixture
def district(alert_district: Settings) -> Settings:
    data = alert_district.model_dump()
    data["agent"] = {**data["agent"], "emergency_poll_s": 1.0, "heartbeat_interval_s": 30.0}
    data["alerts"] = {"check_timeout_s": 10.0}
    return Settings(**data)


@pytest.fixture
def agents(district: Settings, tmp_path: Path) -> Iterator[Path]:
    sinks = tmp_path / "sinks"
    stop, threads = run_agents(district, WITH_AGENTS, sinks)
    time.sleep(2)  # the first sync and heartbeat
    yield sinks
    stop.set()
    for thread in threads:
        thread.join(10)


def _wait(condition: Callable[[], bool], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_every_agent_plays_every_language_and_status_says_so(
    district: Settings, agents: Path, tmp_path: Path
) -> None:
    now = datetime.now(district.organisation.district.zone).replace(microsecond=0)
    draft = AlertDraft(
        title="Cảnh báo lũ quét – rủi ro thiên tai cấp độ 3",
        hazard=Hazard.FLASH_FLOOD,
        level=3,
        status=AlertStatus.ACTUAL,
        communes=(*WITH_AGENTS, WITHOUT_AGENT),
        issued_at=now,
        expires_at=now + timedelta(hours=2),
        identifier=f"delivery-{now.timestamp()}",
        sender="muong-te@loa",
        texts={"vi": FLOOD_VI},
        phrasebank_languages=("lhu", "hni"),
    )
    sent = send_alert(district, draft, actor="a")
    returned = datetime.now(district.organisation.district.zone)
    alert_id = sent.alert.id
    expected = {"ta-tong": ["vi", "lhu"], "mu-ca": ["vi", "hni"]}

    def played(commune: str) -> list[str]:
        return [
            p["item_id"].rsplit("-", 1)[1]
            for p in sink_plays(agents, commune)
            if p["item_id"].startswith(f"alert-{alert_id}-") and p["outcome"] == "played"
        ]

    assert _wait(lambda: all(played(c) == langs for c, langs in expected.items()))
    for commune in WITH_AGENTS:
        first = sink_plays(agents, commune)[0]
        assert first["priority"] == "emergency"
        started = datetime.fromisoformat(first["started"])
        assert started - returned < timedelta(seconds=3)  # a 1 s emergency poll here
    assert _wait(lambda: _states(district, alert_id)["ta-tong"] is AckState.PLAYED)
    assert _wait(lambda: _states(district, alert_id)["mu-ca"] is AckState.PLAYED)
    assert _states(district, alert_id)[WITHOUT_AGENT] is AckState.SILENT

    shown = run_loa("alert", "status", str(alert_id), "--json", env=cli_env(district, tmp_path))
    assert shown.returncode == 1  # pa-u has not played it
    by_commune = {c["commune"]: c for c in json.loads(shown.stdout)["communes"]}
    assert by_commune["ta-tong"]["state"] == "played"
    assert set(by_commune["ta-tong"]["played"]) == {f"alert-{alert_id}-vi", f"alert-{alert_id}-lhu"}
    assert by_commune[WITHOUT_AGENT]["state"] == "silent"
    table = run_loa("alert", "status", str(alert_id), env=cli_env(district, tmp_path))
    assert table.returncode == 1
    assert "Đã phát xong ở 2/3 xã." in table.stdout and "mất liên lạc" in table.stdout


def _states(settings: Settings, alert_id: int) -> dict[str, AckState]:
    report = alert_status(settings, alert_id)
    return {ack.commune_id: ack.state for ack in report.acknowledgements}


def test_the_silent_check_names_the_commune_that_did_not_answer(
    district: Settings, agents: Path
) -> None:
    report = silent_check(district, (*WITH_AGENTS, WITHOUT_AGENT), name="weekly")
    results = {one.commune: one for one in report.communes}
    for commune in WITH_AGENTS:
        assert results[commune].passed, results[commune]
        assert results[commune].round_trip_s is not None and results[commune].round_trip_s < 4
    assert [one.commune for one in report.failed] == [WITHOUT_AGENT]
    assert results[WITHOUT_AGENT].problem == "no heartbeat ever"
    assert not any(sink_plays(agents, commune) for commune in WITH_AGENTS)  # no sound
    (written,) = reports_dir(district).iterdir()
    assert json.loads(written.read_text(encoding="utf-8"))["failed"] == [WITHOUT_AGENT]


def test_loa_alert_check_exits_0_when_every_commune_answers(
    district: Settings, agents: Path, tmp_path: Path
) -> None:
    checked = run_loa(
        "alert", "check", "--communes", ",".join(WITH_AGENTS), "--json",
        env=cli_env(district, tmp_path),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["check"] == "silent" and report["failed"] == []
    assert sorted(one["commune"] for one in report["communes"]) == sorted(WITH_AGENTS)
