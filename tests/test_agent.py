"""The commune agent against a real SeaweedFS, with real MP3s and real signatures."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config import Settings, UserInputError
from playout import (
    DistrictKeys,
    ManifestError,
    ObjectInfo,
    ObjectStore,
    Priority,
    encode_public_key,
)
from playout._objectstore import DateSample
from playout.agent import (
    AudioSink,
    CommuneAgent,
    FileSink,
    Occurrence,
    Outcome,
    SyncStatus,
    parse_sink,
)
from playout.agent._schedule import decide
from tests.conftest import agent_settings
from tests.manifests import COMMUNE, Bucket, audio_ref, item, make_tone, manifest, tamper

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PLAYS_KEYS = {
    "commune", "item_id", "kind", "priority", "audio_sha256",
    "scheduled", "started", "ended", "outcome", "file",
}  # fmt: skip
LEAD = timedelta(seconds=1.5)
SHORT = timedelta(seconds=0.3)  # where only the outcome matters, not the timing
EMERGENCY = Priority.EMERGENCY
HEARTBEAT = f"communes/{COMMUNE}/status/heartbeat.json"

AgentFactory = Callable[..., CommuneAgent]


class SwitchableStore(ObjectStore):
    """Delegates to ``current``: lets a test cut and restore a running agent's link."""

    def __init__(self, current: ObjectStore) -> None:
        self.current = current

    def take_date_samples(self) -> list[DateSample]:
        return self.current.take_date_samples()

    def ensure_bucket(self) -> None:
        self.current.ensure_bucket()

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str:
        return self.current.put_bytes(key, data, content_type)

    def put_file_if_absent(
        self, key: str, path: Path, content_type: str, *, part_bytes: int
    ) -> bool:
        return self.current.put_file_if_absent(key, path, content_type, part_bytes=part_bytes)

    def get_bytes(self, key: str, *, max_bytes: int) -> bytes:
        return self.current.get_bytes(key, max_bytes=max_bytes)

    def get_if_changed(
        self, key: str, etag: str | None, *, max_bytes: int
    ) -> tuple[bytes, str] | None:
        return self.current.get_if_changed(key, etag, max_bytes=max_bytes)

    def head(self, key: str) -> ObjectInfo | None:
        return self.current.head(key)

    def download_to(self, key: str, path: Path, *, max_bytes: int) -> int:
        return self.current.download_to(key, path, max_bytes=max_bytes)

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        return self.current.list(prefix, page_size=page_size)

    def delete(self, key: str) -> None:
        self.current.delete(key)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    directory = tmp_path_factory.mktemp("tones")
    return make_tone(directory / "a.mp3", 440), make_tone(directory / "b.mp3", 660)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], district_keys: DistrictKeys) -> Settings:
    timing = {"once_max_wait_s": 3.0, "poll_interval_s": 0.2, "heartbeat_interval_s": 1.0}
    return agent_settings(make_settings, district_keys, timing)


@pytest.fixture
def make_agent(settings: Settings, object_store: ObjectStore, sink_dir: Path) -> AgentFactory:
    def build(store: ObjectStore | None = None) -> CommuneAgent:
        sink = FileSink(sink_dir, zone=ZONE)
        return CommuneAgent(settings, COMMUNE, store or object_store, sink)

    return build


def plays(sink_dir: Path) -> list[dict[str, Any]]:
    log = sink_dir / "plays.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def soon(lead: timedelta = LEAD) -> datetime:
    return datetime.now(UTC) + lead


def receipt_key(started_iso: str, item_id: str) -> str:
    started = datetime.fromisoformat(started_iso)
    day = started.astimezone(ZONE).date().isoformat()
    return f"communes/{COMMUNE}/asrun/{day}/{int(started.timestamp() * 1000)}-{item_id}.json"


# -- (a) the happy path -------------------------------------------------------------


def test_scheduled_item_plays_once_on_time_and_is_reported(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon())], sequence=7))

    summary = make_agent().run(once=True)

    [play] = plays(sink_dir)
    assert set(play) == PLAYS_KEYS
    assert play["outcome"] == "played" and play["commune"] == COMMUNE
    assert hashlib.sha256(Path(play["file"]).read_bytes()).hexdigest() == ref.sha256
    assert play["audio_sha256"] == ref.sha256
    delay = datetime.fromisoformat(play["started"]) - datetime.fromisoformat(play["scheduled"])
    assert timedelta(0) <= delay < timedelta(seconds=1)
    assert play["scheduled"].endswith("+07:00") and len(play["started"]) == 29  # ms precision
    assert [r.outcome for r in summary.receipts] == [Outcome.PLAYED] and not summary.refused

    receipt = bucket.read_json(receipt_key(play["started"], "bulletin-1"))
    assert receipt["outcome"] == "played" and receipt["manifest_sequence"] == 7
    assert receipt["audio_key"] == ref.key and receipt["clusters"] == ["*"]
    assert set(PLAYS_KEYS - {"file"}) <= set(receipt)
    heartbeat = bucket.read_json(HEARTBEAT)
    assert heartbeat["commune"] == COMMUNE and heartbeat["online"] is True
    assert heartbeat["manifest"]["sequence"] == 7 and heartbeat["agent_version"]
    assert heartbeat["cache"]["objects"] == 1 and heartbeat["cache"]["bytes"] == len(tones[0])
    assert heartbeat["cache"]["free_bytes"] > 0 and heartbeat["cache"]["last_error"] is None
    assert heartbeat["last_play"]["outcome"] == "played" and heartbeat["problems"] == []
    assert heartbeat["now_playing"] is None and heartbeat["outbox_pending"] == 0
    assert heartbeat["clock"]["using"] == "local" and abs(heartbeat["clock"]["offset_s"]) < 1.5
    assert heartbeat["refused_manifests"] == [] and heartbeat["last_error"] is None
    assert json.loads((make_agent().status_path).read_bytes()) == heartbeat
    assert datetime.fromisoformat(heartbeat["at"]).utcoffset() == timedelta(0)


# -- (b, c, e, f) manifests that are refused ------------------------------------------


def test_tampered_manifest_fails_once_and_plays_nothing(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    signed = bucket.publish(manifest([item(ref, soon())]))
    bucket.put_manifest_bytes(tamper(signed, title="Tin giả"))

    with pytest.raises(ManifestError, match=f"communes/{COMMUNE}/manifest.json"):
        make_agent().run(once=True)

    assert plays(sink_dir) == []
    heartbeat = bucket.read_json(HEARTBEAT)
    assert "signature" in heartbeat["problems"][0]["message"]


def test_manifest_signed_by_another_key_is_refused(
    bucket: Bucket, make_agent: AgentFactory, tmp_path: Path, tones: tuple[bytes, bytes]
) -> None:
    impostor = DistrictKeys(tmp_path / "impostor")
    impostor.init()
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon())]), key=impostor.private_key())

    agent = make_agent()
    result = agent.sync()

    assert result.status is SyncStatus.REFUSED
    assert "does not verify" in str(result.error)
    with pytest.raises(ManifestError, match="pinned district key"):
        agent.run(once=True)


def test_older_sequence_is_refused_as_a_replay(
    bucket: Bucket, make_agent: AgentFactory, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    later = soon(timedelta(minutes=10))
    old = bucket.publish(manifest([item(ref, later, title="cũ")], sequence=4))
    bucket.publish(manifest([item(ref, later)], sequence=5))
    agent = make_agent()
    assert agent.sync().status is SyncStatus.ACCEPTED

    bucket.put_manifest_bytes(old)
    result = agent.sync()

    assert result.status is SyncStatus.REFUSED and result.sequence == 5
    assert "replayed" in str(result.error)
    with pytest.raises(ManifestError, match="older than 5"):
        make_agent().run(once=True)  # a restart remembers the sequence too


def test_same_sequence_with_other_content_is_refused(
    bucket: Bucket, make_agent: AgentFactory, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    later = soon(timedelta(minutes=10))
    first = bucket.publish(manifest([item(ref, later)], sequence=9))
    agent = make_agent()
    assert agent.sync().status is SyncStatus.ACCEPTED

    bucket.publish(manifest([item(ref, later, title="khác")], sequence=9))
    assert agent.sync().status is SyncStatus.REFUSED

    bucket.put_manifest_bytes(first)
    assert agent.sync().status is SyncStatus.UNCHANGED


def test_expired_manifest_is_refused(
    bucket: Bucket, make_agent: AgentFactory, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    expired = datetime.now(UTC) - timedelta(seconds=1)
    bucket.publish(manifest([item(ref, soon())], valid_until=expired))

    with pytest.raises(ManifestError, match="expired"):
        make_agent().run(once=True)


def test_manifest_for_another_commune_is_refused(
    bucket: Bucket, make_agent: AgentFactory, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon())], commune="pa-u"))

    with pytest.raises(ManifestError, match="addressed to commune 'pa-u'"):
        make_agent().run(once=True)


# -- (d, j) audio that is refused -----------------------------------------------------


def test_tampered_audio_is_not_played_and_is_reported(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    genuine = tones[0]
    forged = bytes([genuine[0]]) + bytes(len(genuine) - 1)  # same size, other content
    ref = audio_ref(genuine)
    bucket.store.put_bytes(ref.key, forged, "audio/mpeg")
    bucket.publish(manifest([item(ref, soon(SHORT))]))
    agent = make_agent()

    summary = agent.run(once=True)

    assert plays(sink_dir) == []
    assert summary.refused and "SHA-256" in summary.refused[0]
    [receipt] = summary.receipts
    assert receipt.outcome is Outcome.FAILED and receipt.reason is not None
    assert receipt.reason.startswith("audio refused: ") and "SHA-256" in receipt.reason
    assert list((agent.directory / "cache").iterdir()) == []
    heartbeat = bucket.read_json(HEARTBEAT)
    assert any(ref.key in problem["message"] for problem in heartbeat["problems"])


def test_audio_larger_than_declared_is_refused_before_download(
    bucket: Bucket, make_agent: AgentFactory, tones: tuple[bytes, bytes]
) -> None:
    ref = audio_ref(tones[0])
    bucket.store.put_bytes(ref.key, tones[0] + bytes(1 << 20), "audio/mpeg")
    bucket.publish(manifest([item(ref, soon(timedelta(minutes=10)))]))
    agent = make_agent()

    result = agent.sync()

    assert result.status is SyncStatus.ACCEPTED
    assert result.audio_refused and "manifest declares" in result.audio_refused[0]
    assert list((agent.directory / "cache").iterdir()) == []


def test_audio_over_the_agents_limit_is_refused_before_any_download(
    bucket: Bucket,
    settings: Settings,
    object_store: ObjectStore,
    sink_dir: Path,
    tones: tuple[bytes, bytes],
) -> None:
    big = tones[0] + bytes(2 << 20)  # validly signed, honestly declared, but over 1 MB
    ref = bucket.put_audio(big)
    bucket.publish(manifest([item(ref, soon())]))
    limited = settings.model_copy(
        update={"agent": settings.agent.model_copy(update={"max_audio_mb": 1})}
    )
    agent = CommuneAgent(limited, COMMUNE, object_store, FileSink(sink_dir, zone=ZONE))

    result = agent.sync()
    summary = agent.run(once=True)

    assert result.audio_refused and "agent.max_audio_mb" in result.audio_refused[0]
    assert list((agent.directory / "cache").iterdir()) == []
    assert plays(sink_dir) == [] and summary.receipts[0].outcome is Outcome.FAILED
    assert "audio refused: " in (summary.receipts[0].reason or "")


def test_an_oversized_manifest_is_refused_unread_and_reported(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path
) -> None:
    bucket.put_manifest_bytes(b"{" + b" " * (5 << 20) + b"}")  # 5 MB: over the 4 MB limit

    agent = make_agent()
    result = agent.sync()

    assert result.status is SyncStatus.REFUSED
    assert "over the 4194304-byte limit: not downloaded" in str(result.error)
    with pytest.raises(ManifestError, match="4194304-byte limit"):
        agent.run(once=True)
    assert "over the 4194304-byte limit" in bucket.read_json(HEARTBEAT)["problems"][0]["message"]


def test_an_agent_pinning_both_keys_follows_a_rotation(
    bucket: Bucket,
    make_settings: Callable[..., Settings],
    district_keys: DistrictKeys,
    object_store: ObjectStore,
    sink_dir: Path,
    tones: tuple[bytes, bytes],
) -> None:
    ref = bucket.put_audio(tones[0])
    district_keys.prepare_rotation()
    both = [encode_public_key(key) for key in district_keys.public_keys()]
    old_only = both[:1]
    bucket.publish(manifest([item(ref, soon())], sequence=1))
    district_keys.activate_rotation()

    def agent(pinned: list[str], name: str) -> CommuneAgent:
        pinned_settings = make_settings(
            data_dir=sink_dir.parent / name, keys={"trusted_public_keys": pinned}
        )
        return CommuneAgent(pinned_settings, COMMUNE, object_store, FileSink(sink_dir, zone=ZONE))

    following, stuck = agent(both, "both"), agent(old_only, "old")
    assert following.sync().status is SyncStatus.ACCEPTED
    assert stuck.sync().status is SyncStatus.ACCEPTED
    bucket.publish(manifest([item(ref, soon())], sequence=2), key=district_keys.private_key())

    assert following.sync().status is SyncStatus.ACCEPTED
    refused = stuck.sync()
    assert refused.status is SyncStatus.REFUSED and "does not verify" in str(refused.error)
    assert stuck.sync().sequence == 1  # it keeps the schedule it had


def test_damaged_cache_file_is_fetched_again_before_playing(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon(SHORT))]))
    agent = make_agent()
    agent.sync()
    cached = agent.directory / "cache" / f"{ref.sha256}.mp3"
    cached.write_bytes(b"half written")  # a power cut, say

    agent.run(once=True)

    [play] = plays(sink_dir)
    assert hashlib.sha256(Path(play["file"]).read_bytes()).hexdigest() == ref.sha256


# -- (g, h, i) restarts, outages, lateness ---------------------------------------------


def test_restart_does_not_replay_a_played_occurrence(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon(timedelta(seconds=0.3)))]))
    make_agent().run(once=True)

    summary = make_agent().run(once=True)

    assert len(plays(sink_dir)) == 1 and summary.receipts == []


def test_offline_agent_plays_from_cache_on_time(
    bucket: Bucket,
    make_agent: AgentFactory,
    dead_store: ObjectStore,
    sink_dir: Path,
    tones: tuple[bytes, bytes],
) -> None:
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon(timedelta(seconds=2)))], sequence=3))
    assert make_agent().sync().audio_refused == []

    offline = make_agent(dead_store)
    summary = offline.run(once=True)

    [play] = plays(sink_dir)
    delay = datetime.fromisoformat(play["started"]) - datetime.fromisoformat(play["scheduled"])
    assert timedelta(0) <= delay < timedelta(seconds=1)
    assert summary.online is False and summary.sequence == 3
    assert len(list((offline.directory / "outbox").iterdir())) == 1

    make_agent().sync()  # the link is back: the queued receipt goes out
    assert list((offline.directory / "outbox").iterdir()) == []
    assert bucket.read_json(receipt_key(play["started"], "bulletin-1"))["outcome"] == "played"


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_running_agent_plays_on_time_through_a_link_outage(
    bucket: Bucket,
    make_agent: AgentFactory,
    object_store: ObjectStore,
    dead_store: ObjectStore,
    sink_dir: Path,
    tones: tuple[bytes, bytes],
) -> None:
    link = SwitchableStore(object_store)
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon(timedelta(seconds=1.5)))]))
    agent = make_agent(link)
    assert agent.sync().status is SyncStatus.ACCEPTED
    link.current = dead_store
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, kwargs={"stop_event": stop})
    runner.start()
    try:
        assert wait_for(lambda: bool(plays(sink_dir)))
        [play] = plays(sink_dir)
        delay = datetime.fromisoformat(play["started"]) - datetime.fromisoformat(play["scheduled"])
        assert timedelta(0) <= delay < timedelta(seconds=1)
        outbox = agent.directory / "outbox"
        assert len(list(outbox.iterdir())) == 1

        link.current = object_store  # the link is back: the queued receipt goes out
        assert wait_for(lambda: not list(outbox.iterdir()))
        assert wait_for(lambda: object_store.head(HEARTBEAT) is not None)
    finally:
        stop.set()
        runner.join(timeout=5)
    assert bucket.read_json(receipt_key(play["started"], "bulletin-1"))["outcome"] == "played"
    heartbeat = bucket.read_json(HEARTBEAT)
    assert heartbeat["online"] is True and heartbeat["last_play"]["item_id"] == "bulletin-1"
    assert any("storage unreachable" in problem["message"] for problem in heartbeat["problems"])


def test_occurrence_past_not_after_is_missed_not_played(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    ref = bucket.put_audio(tones[0])
    start = datetime.now(UTC) - timedelta(minutes=10)
    bucket.publish(manifest([item(ref, start, window=timedelta(minutes=5))]))

    summary = make_agent().run(once=True)

    assert plays(sink_dir) == []
    [receipt] = summary.receipts
    assert receipt.outcome is Outcome.SKIPPED and receipt.started is None
    key = receipt.key(ZONE)
    assert key.endswith(f"{int(start.timestamp() * 1000)}-bulletin-1.json")
    uploaded = bucket.read_json(key)
    assert uploaded["outcome"] == "skipped" and "not_after" in uploaded["reason"]


def test_run_forever_picks_up_a_new_manifest_and_stops_on_request(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    agent = make_agent()
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, kwargs={"stop_event": stop})
    runner.start()
    try:
        ref = bucket.put_audio(tones[1])
        bucket.publish(manifest([item(ref, soon(timedelta(seconds=1)))]))
        assert wait_for(lambda: bool(plays(sink_dir)))
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
    [play] = plays(sink_dir)
    assert play["audio_sha256"] == audio_ref(tones[1]).sha256


# -- play order, construction checks, sinks (no storage needed) -------------------------


def test_decide_plays_emergency_then_priority_then_normal(tones: tuple[bytes, bytes]) -> None:
    now = datetime.now(UTC)
    ref = audio_ref(tones[0])
    plan = manifest(
        [
            item(ref, now - timedelta(seconds=9), item_id="normal"),
            item(ref, now - timedelta(seconds=5), item_id="priority", priority=Priority.PRIORITY),
            item(ref, now - timedelta(seconds=8), item_id="old-alert", priority=Priority.EMERGENCY),
            item(ref, now - timedelta(seconds=2), item_id="new-alert", priority=Priority.EMERGENCY),
            item(ref, now + timedelta(seconds=30), item_id="later"),
        ]
    )
    pending = [Occurrence(COMMUNE, 1, entry, entry.start) for entry in plan.items]
    order = []
    while (decision := decide(pending, now)).play is not None:
        order.append(decision.play.item.id)
        pending.remove(decision.play)
    assert order == ["new-alert", "old-alert", "priority", "normal"]
    assert decision.wake_at == plan.items[-1].start


def test_due_emergency_plays_before_the_normal_item(
    bucket: Bucket, make_agent: AgentFactory, sink_dir: Path, tones: tuple[bytes, bytes]
) -> None:
    bulletin, alert = bucket.put_audio(tones[0]), bucket.put_audio(tones[1])
    now = datetime.now(UTC)
    bucket.publish(
        manifest(
            [
                item(bulletin, now - timedelta(seconds=3), item_id="bulletin"),
                item(
                    alert, now - timedelta(seconds=1), item_id="flood", priority=Priority.EMERGENCY
                ),
            ]
        )
    )
    agent = make_agent()
    agent.sync()
    assert [o.item.id for o in agent.due_occurrences()] == ["flood", "bulletin"]

    agent.run(once=True)

    assert [play["item_id"] for play in plays(sink_dir)] == ["flood", "bulletin"]
    assert plays(sink_dir)[0]["priority"] == "emergency"


def test_unknown_commune_is_refused_at_construction(
    settings: Settings, object_store: ObjectStore, sink_dir: Path
) -> None:
    with pytest.raises(UserInputError, match="unknown commune 'atlantis'"):
        CommuneAgent(settings, "atlantis", object_store, FileSink(sink_dir))


def test_no_pinned_key_anywhere_names_both_places(
    make_settings: Callable[..., Settings], object_store: ObjectStore, tmp_path: Path
) -> None:
    settings = make_settings(keys={"dir": tmp_path / "no-keys"})
    with pytest.raises(UserInputError, match=r"trusted_public_keys.*no-keys/district\.pub"):
        CommuneAgent(settings, COMMUNE, object_store, FileSink(tmp_path / "played"))


def test_local_district_key_is_trusted_when_none_is_pinned(
    make_settings: Callable[..., Settings],
    district_keys: DistrictKeys,
    bucket: Bucket,
    sink_dir: Path,
    tones: tuple[bytes, bytes],
) -> None:
    settings = make_settings(keys={"dir": district_keys.key_dir})
    ref = bucket.put_audio(tones[0])
    bucket.publish(manifest([item(ref, soon(timedelta(minutes=10)))]))
    agent = CommuneAgent(settings, COMMUNE, bucket.store, FileSink(sink_dir))
    assert agent.sync().status is SyncStatus.ACCEPTED


def test_parse_sink(settings: Settings, tmp_path: Path) -> None:
    sink = parse_sink(f"file:{tmp_path / 'out'}", settings)
    assert isinstance(sink, FileSink) and sink.directory == tmp_path / "out"
    for wrong in ("file:", "speaker", "files:/tmp"):
        with pytest.raises(UserInputError, match="expected 'file:DIR' or 'audio'"):
            parse_sink(wrong, settings)


def _occurrence(tones: tuple[bytes, bytes]) -> Occurrence:
    entry = item(audio_ref(tones[0]), datetime.now(UTC))
    return Occurrence(COMMUNE, 1, entry, entry.start)


def test_audio_sink_reports_a_player_that_fails(tmp_path: Path, tones: tuple[bytes, bytes]) -> None:
    script = "import sys; sys.stderr.write('no sound card\\n'); sys.exit(3)"
    sink = AudioSink([sys.executable, "-c", script])
    result = sink.play(tmp_path / "x.mp3", _occurrence(tones), threading.Event())
    assert result.outcome is Outcome.FAILED
    assert result.reason is not None and "status 3: no sound card" in result.reason


def test_audio_sink_kills_a_player_that_hangs(tmp_path: Path, tones: tuple[bytes, bytes]) -> None:
    sink = AudioSink([sys.executable, "-c", "import time; time.sleep(60)"], margin_s=0.3)
    began = time.monotonic()
    result = sink.play(tmp_path / "x.mp3", _occurrence(tones), threading.Event())
    assert result.outcome is Outcome.FAILED and "killed" in (result.reason or "")
    assert time.monotonic() - began < 5


def test_audio_sink_plays_through_ffplay(
    settings: Settings, tmp_path: Path, tones: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")  # this host has no sound card
    path = tmp_path / "a.mp3"
    path.write_bytes(tones[0])
    sink = parse_sink("audio", settings)
    result = sink.play(path, _occurrence(tones), threading.Event())
    assert result.outcome is Outcome.PLAYED, result.reason
    assert result.ended - result.started >= timedelta(seconds=0.9)  # it really played 1 s


def test_audio_sink_needs_a_player_on_path() -> None:
    with pytest.raises(UserInputError, match="'no-such-player' not found"):
        AudioSink(["no-such-player"])
