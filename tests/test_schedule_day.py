"""A district day, unattended and time-compressed: `loa up` runs the scheduler against a
real SeaweedFS, slot bulletins are built from bookings, and commune agents play them on
time in their languages. Also the scheduler killed with SIGKILL during a build, a second
scheduler refused, and `loa schedule add` with repeats."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app._publishing import content_store
from config import Settings
from playout import DistrictKeys, S3ObjectStore, manifest_key, verify
from tests.cli import LOA, one_line_error, run_loa
from tests.conftest import cli_env, run_agents, sink_plays

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TEXT_MORNING = "Ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi."
EVENING_COMMUNES = ["bum-nua", "thi-tran-muong-te"]
TEXT_EVENING = "Huyện Mường Tè tổ chức hội nghị về phòng chống lũ quét và sạt lở đất."


def _slot_phrase(moment: datetime, lead_s: float) -> str:
    return f"{moment.astimezone(ZONE):%H:%M:%S} daily, 30 min, lead {lead_s / 60:g} min"


def _district(seaweed_settings: Settings, slots: dict[str, str]) -> Settings:
    DistrictKeys(seaweed_settings.key_dir).init()
    data = seaweed_settings.model_dump()
    data["schedule"] = {"slots": slots, "gap_between_items_s": 1.0}
    data["tts"]["chains"]["vi"] = ["espeak"]  # no internet here: the offline voice
    data["agent"] = {**data["agent"], "poll_interval_s": 1.0, "heartbeat_interval_s": 5.0}
    return Settings(**data)


def _approved(settings: Settings, title: str, text: str, recording: Path | None = None) -> int:
    store = content_store(settings)
    item = store.add_item("bulletin", title, "vi", text=text, actor="biên tập")
    if recording is not None:
        store.add_variant(item.id, "blt", audio_file=recording, actor="biên tập")
    store.approve(item.id, "trưởng ban")
    return item.id


def _tone(path: Path, seconds: float) -> Path:
    source = f"sine=f=330:d={seconds}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, str(path)], check=True)
    return path


class _Up:
    """`loa up` as a subprocess (storage external: only the scheduler runs in it)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        clean = {name: value for name, value in os.environ.items() if not name.startswith("LOA_")}
        self._handle = log.open("w")
        self.process = subprocess.Popen(
            [*LOA, "-v", "up"], env={**clean, **env}, stdout=self._handle, stderr=subprocess.STDOUT
        )

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log.read_text(encoding="utf-8", errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"`loa up` never printed {text!r}:\n{self.log.read_text()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        finally:
            self._handle.close()


@pytest.fixture
def ups() -> Iterator[list[_Up]]:
    started: list[_Up] = []
    yield started
    for up in started:
        up.stop(signal.SIGKILL)


def test_a_district_day_runs_unattended(
    seaweed_settings: Settings, tmp_path: Path, ups: list[_Up]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    morning, evening = now + timedelta(seconds=35), now + timedelta(seconds=50)
    lead_s = 25.0
    settings = _district(
        seaweed_settings,
        {"morning": _slot_phrase(morning, lead_s), "evening": _slot_phrase(evening, lead_s)},
    )
    store = content_store(settings)
    first = _approved(settings, "Tiêm chủng", TEXT_MORNING, _tone(tmp_path / "thái.wav", 3))
    second = _approved(settings, "Phòng chống lũ", TEXT_EVENING)
    for item_id, slot, communes_booked, start in (
        (first, "morning", None, morning),
        (second, "evening", EVENING_COMMUNES, evening),
    ):
        day = start.astimezone(ZONE).date()
        store.book(item_id, slot, communes=communes_booked, first_day=day, actor="biên tập")
    communes = settings.organisation.commune_ids()
    sinks = tmp_path / "sinks"
    stop, threads = run_agents(settings, communes, sinks)
    up = _Up(cli_env(settings, tmp_path), tmp_path / "up.log")
    ups.append(up)
    try:
        up.wait_for("Bộ lập lịch đang chạy", 60)
        deadline = time.monotonic() + (evening - datetime.now(UTC)).total_seconds() + 40
        expected = _expectedsink_plays(settings, {"morning": morning, "evening": evening})
        while time.monotonic() < deadline and not _all_played(sinks, expected):
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert up.stop() == 0
    log = up.log.read_text(encoding="utf-8")
    assert "Đã dừng các dịch vụ của huyện." in log

    for commune_id, wanted in expected.items():
        plays = sink_plays(sinks, commune_id)
        assert sorted(play["item_id"] for play in plays) == sorted(wanted), commune_id
        for play in plays:
            late = datetime.fromisoformat(play["started"]) - datetime.fromisoformat(
                play["scheduled"]
            )
            assert play["outcome"] == "played" and abs(late.total_seconds()) <= 1.0, play
        firsts = [play for play in plays if play["item_id"].endswith("-vi")]
        assert {datetime.fromisoformat(play["scheduled"]) for play in firsts} <= {morning, evening}

    listed = json.loads(
        run_loa("schedule", "list", "--json", env=cli_env(settings, tmp_path)).stdout
    )
    statuses = {record["slot"]: record["status"] for record in listed["recent"]}
    assert statuses == {"morning": "published", "evening": "published"}


def _expectedsink_plays(settings: Settings, starts: dict[str, datetime]) -> dict[str, list[str]]:
    """Every commune: the morning bulletin in Vietnamese, and in Thái where it speaks it;
    the evening one in Vietnamese where it was booked."""
    languages = {"morning": ["vi", "blt"], "evening": ["vi"]}
    booked = {"morning": None, "evening": EVENING_COMMUNES}
    expected: dict[str, list[str]] = {}
    for commune in settings.organisation.communes:
        expected[commune.id] = [
            f"{slot}-{start.astimezone(ZONE).date().isoformat()}-{code}"
            for slot, start in starts.items()
            if booked[slot] is None or commune.id in (booked[slot] or [])
            for code in languages[slot]
            if code in commune.languages
        ]
    return expected


def _all_played(sinks: Path, expected: dict[str, list[str]]) -> bool:
    return all(
        len(sink_plays(sinks, commune_id)) >= len(wanted) for commune_id, wanted in expected.items()
    )


def _build_status(settings: Settings, slot: str) -> tuple[str, int] | None:
    database = settings.data_dir / "loa.db"
    with sqlite3.connect(database, timeout=30) as connection:
        try:
            row = connection.execute(
                "SELECT status, attempts FROM loa_slot_builds WHERE slot = ?", (slot,)
            ).fetchone()
        except sqlite3.OperationalError:  # `loa up` has not created its tables yet
            return None
    return None if row is None else (str(row[0]), int(row[1]))


def _wait_build(
    settings: Settings, slot: str, wanted: set[str], timeout_s: float
) -> tuple[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _build_status(settings, slot)
        if found is not None and found[0] in wanted:
            return found
        time.sleep(0.05)
    raise AssertionError(f"build of {slot} never reached {wanted}: {_build_status(settings, slot)}")


def _manifest_items(settings: Settings, commune_id: str) -> list[str]:
    store = S3ObjectStore.from_settings(settings)
    data = store.get_bytes(manifest_key(commune_id), max_bytes=1 << 20)
    keys = [DistrictKeys(settings.key_dir).private_key().public_key()]
    manifest = verify(data, keys, source=commune_id, now=datetime.now(UTC))
    return [entry.id for entry in manifest.items]


def test_the_scheduler_killed_during_a_build_finishes_it_after_a_restart(
    seaweed_settings: Settings, tmp_path: Path, ups: list[_Up]
) -> None:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    # Due at once: the scheduler starts the build as soon as it starts.
    settings = _district(seaweed_settings, {"morning": _slot_phrase(starts, 15 * 60)})
    day = starts.astimezone(ZONE).date()
    store = content_store(settings)
    for number in range(3):
        item_id = _approved(settings, f"Tin {number}", f"{TEXT_MORNING} Tin số {number}.")
        store.book(item_id, "morning", communes=None, first_day=day, actor="biên tập")
    env = cli_env(settings, tmp_path)

    first = _Up(env, tmp_path / "up-1.log")
    ups.append(first)
    assert _wait_build(settings, "morning", {"building"}, 60) == ("building", 1)
    first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL

    second = _Up(env, tmp_path / "up-2.log")
    ups.append(second)
    assert _wait_build(settings, "morning", {"published", "failed"}, 120) == ("published", 2)
    assert second.stop() == 0
    item = f"morning-{day.isoformat()}-vi"
    for commune_id in settings.organisation.commune_ids():
        assert _manifest_items(settings, commune_id).count(item) == 1, commune_id


def test_a_second_scheduler_on_the_same_database_exits_naming_the_first(
    seaweed_settings: Settings, tmp_path: Path, ups: list[_Up]
) -> None:
    later = datetime.now(UTC) + timedelta(hours=3)
    settings = _district(seaweed_settings, {"morning": _slot_phrase(later, 60)})
    env = cli_env(settings, tmp_path)
    first = _Up(env, tmp_path / "up.log")
    ups.append(first)
    first.wait_for("Bộ lập lịch đang chạy", 60)
    refused = run_loa("up", env=env, timeout=60)
    assert refused.returncode == 1
    assert f"process {first.process.pid}" in one_line_error(refused)
    assert first.stop() == 0


def test_schedule_add_with_repeats_prints_the_item_ids(
    seaweed_settings: Settings, tmp_path: Path
) -> None:
    settings = _district(seaweed_settings, {})
    env = cli_env(settings, tmp_path)
    item_id = _approved(settings, "Họp dân", TEXT_EVENING)
    at = datetime.now(ZONE).replace(microsecond=0) + timedelta(hours=1)
    until = at + timedelta(hours=6)
    added = run_loa(
        "schedule", "add", "--content", str(item_id), "--communes", "pa-u,ka-lang",
        "--at", at.isoformat(), "--repeat-every", "7200", "--until", until.isoformat(),
    env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.split() == [f"bulletin-{item_id}-vi"]
    store = S3ObjectStore.from_settings(settings)
    data = store.get_bytes(manifest_key("pa-u"), max_bytes=1 << 20)
    keys = [DistrictKeys(settings.key_dir).private_key().public_key()]
    (entry,) = verify(data, keys, source="pa-u", now=datetime.now(UTC)).items
    assert entry.repeat is not None and entry.repeat.every_s == 7200
    assert entry.repeat.until == until
    assert [moment for moment in entry.occurrences()] == [
        at + timedelta(hours=h) for h in (0, 2, 4, 6)
    ]

    lone = run_loa(
        "schedule", "add", "--content", str(item_id), "--communes", "pa-u",
        "--at", at.isoformat(), "--repeat-every", "7200", env=env,
    )  # fmt: skip
    assert lone.returncode == 2
    assert "--repeat-every and --until go together" in one_line_error(lone)
