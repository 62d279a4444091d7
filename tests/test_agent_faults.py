"""The commune agent under faults, against a real SeaweedFS and real ffmpeg: storage down,
an agent killed mid-download, a wrong clock, a manifest changing under a playback, a
crashing player, a full disk. Each test says what was played, when, and what was reported."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from playout import DistrictKeys, EmbeddedSeaweed, ObjectStore, S3ObjectStore, storage_credentials
from playout.agent import AudioSink, CommuneAgent, FileSink, Sink, SyncStatus, status_path
from playout.agent._clock import Clock, utc_now
from tests.cli import LOA
from tests.conftest import (
    SeaweedSession,
    SettingsFactory,
    agent_settings,
    own_seaweed,
)
from tests.manifests import COMMUNE, Bucket, item, make_tone, manifest
from tests.test_agent import HEARTBEAT, ZONE, SwitchableStore, plays, receipt_key, wait_for

ASRUN = f"communes/{COMMUNE}/asrun/"
AGENT_TIMING = {"poll_interval_s": 0.2, "heartbeat_interval_s": 1.0, "once_max_wait_s": 3.0}
ON_TIME = timedelta(seconds=1)


# -- fixtures and helpers ------------------------------------------------------------


@dataclass(frozen=True)
class Clips:
    """Real MP3s: ``short`` (1 s), ``long`` (3 s) and ``other`` (1 s, another tone)."""

    short: bytes
    long: bytes
    other: bytes


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    directory = tmp_path_factory.mktemp("clips")
    return Clips(
        short=make_tone(directory / "short.mp3", 440),
        long=make_tone(directory / "long.mp3", 550, seconds=3.0),
        other=make_tone(directory / "other.mp3", 660),
    )


@pytest.fixture
def settings(make_settings: SettingsFactory, district_keys: DistrictKeys) -> Settings:
    return agent_settings(make_settings, district_keys, AGENT_TIMING)


class RunningAgent:
    """``CommuneAgent.run`` on a thread of its own until ``stop``."""

    def __init__(self, agent: CommuneAgent) -> None:
        self.agent = agent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=agent.run, kwargs={"stop_event": self._stop})

    def __enter__(self) -> RunningAgent:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the agent did not stop within 10 s"

    def status(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.agent.status_path.read_bytes())
        return document


def file_agent(
    settings: Settings, store: ObjectStore, sink_dir: Path, clock: Clock = utc_now
) -> CommuneAgent:
    sink = FileSink(sink_dir, zone=ZONE, clock=clock)
    return CommuneAgent(settings, COMMUNE, store, sink, clock=clock)


def at(offset_s: float) -> datetime:
    """``offset_s`` from now, to the millisecond (as manifests carry it)."""
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def delay(play: dict[str, Any], shift: timedelta = timedelta(0)) -> timedelta:
    """How late ``play`` started; ``shift`` is subtracted from a skewed sink clock."""
    started = datetime.fromisoformat(play["started"]) - shift
    return started - datetime.fromisoformat(play["scheduled"])


def receipts(store: ObjectStore) -> list[dict[str, Any]]:
    """Every as-run receipt in the bucket, oldest first."""
    found = []
    for entry in store.list(ASRUN):
        document = json.loads(store.get_bytes(entry.key, max_bytes=1 << 20))
        found.append({**document, "key": entry.key})
    return sorted(found, key=lambda receipt: receipt["key"].rsplit("/", 1)[-1])


def heartbeat(store: ObjectStore) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(store.get_bytes(HEARTBEAT, max_bytes=1 << 20))
    return document


def cached_names(agent: CommuneAgent) -> list[str]:
    return sorted(path.name for path in (agent.directory / "cache").iterdir())


def padded_clip(clips: Clips, size: int) -> bytes:
    """A real MP3 followed by incompressible bytes up to ``size`` (decoders skip them):
    a clip as large as a long programme, made in no time."""
    return clips.short + os.urandom(size - len(clips.short))


# -- (a) storage down while items are due ---------------------------------------------


@pytest.fixture
def own_storage(settings: Settings) -> Iterator[tuple[Settings, EmbeddedSeaweed]]:
    """A SeaweedFS of this test's own, which it stops and starts again."""
    with own_seaweed(settings) as own:
        yield own


@pytest.mark.parametrize(
    "outage_s",  # SeaweedFS then takes 4-7 s more to serve again
    [
        pytest.param(16.0, id="short"),
        pytest.param(600.0, id="10min", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
    ],
)
def test_storage_down_items_play_from_cache_and_reports_follow(
    own_storage: tuple[Settings, EmbeddedSeaweed],
    district_keys: DistrictKeys,
    sink_dir: Path,
    clips: Clips,
    outage_s: float,
) -> None:
    settings, seaweed = own_storage
    district = S3ObjectStore.from_settings(settings)
    commune_link = S3ObjectStore.from_settings(settings, max_attempts=1, connect_timeout_s=1.0)
    bucket = Bucket(district, district_keys.private_key())
    short, other = bucket.put_audio(clips.short), bucket.put_audio(clips.other)
    down_at = 2.0  # when storage goes, from now
    offsets = [down_at + 3, down_at + outage_s / 2, down_at + outage_s - 3]
    window = timedelta(minutes=1)
    items = [
        item(ref, at(offset), item_id=f"ban-tin-{n}", window=window)
        for n, (ref, offset) in enumerate(zip([short, other, short], offsets, strict=True))
    ]
    bucket.publish(manifest(items, sequence=5, valid_until=at(outage_s + 3600)))
    agent = file_agent(settings, commune_link, sink_dir)

    with RunningAgent(agent) as running:
        assert wait_for(lambda: len(cached_names(agent)) == 2, 5), cached_names(agent)
        time.sleep(max(0.0, (items[0].start - timedelta(seconds=3) - at(0)).total_seconds()))
        seaweed.stop()
        stopped = datetime.now(UTC)
        assert wait_for(lambda: len(plays(sink_dir)) == 3, outage_s + 5)
        assert wait_for(lambda: running.status()["outbox_pending"] == 3, 3)
        offline = running.status()
        time.sleep(max(0.0, outage_s - (datetime.now(UTC) - stopped).total_seconds()))
        restarting = datetime.now(UTC)
        seaweed.start()
        assert wait_for(lambda: len(list(district.list(ASRUN))) == 3, 15)
        assert wait_for(lambda: heartbeat(district)["outbox_pending"] == 0, 5)

    played = plays(sink_dir)
    assert [play["item_id"] for play in played] == ["ban-tin-0", "ban-tin-1", "ban-tin-2"]
    for play in played:
        assert play["outcome"] == "played" and timedelta(0) <= delay(play) < ON_TIME, play
        assert stopped < datetime.fromisoformat(play["started"]) < restarting
    assert offline["online"] is False and offline["outbox_pending"] == 3
    assert any("storage unreachable" in p["message"] for p in offline["problems"])
    uploaded = receipts(district)
    assert [receipt["key"] for receipt in uploaded] == [
        receipt_key(play["started"], play["item_id"]) for play in played
    ]  # each playback's receipt exactly once
    assert all(receipt["outcome"] == "played" for receipt in uploaded)
    assert list((agent.directory / "outbox").iterdir()) == []
    final = heartbeat(district)
    assert final["online"] is True and datetime.fromisoformat(final["at"]) > restarting
    assert final["last_play"]["item_id"] == "ban-tin-2"
    assert final["manifest"]["sequence"] == 5 and final["manifest"]["in_force"] is True


# -- (b) an agent killed with SIGKILL mid-download, then restarted ---------------------


class ThrottledLink:
    """A loopback TCP relay to the store whose answers flow at ``bytes_per_s``: the slow
    mobile link of a commune, in front of the real SeaweedFS."""

    def __init__(self, upstream: tuple[str, int], bytes_per_s: int) -> None:
        self._upstream = upstream
        self._rate = bytes_per_s
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            self._sockets += [client, upstream]
            threading.Thread(target=_relay, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=_relay, args=(upstream, client, self._rate), daemon=True
            ).start()


def _relay(source: socket.socket, target: socket.socket, bytes_per_s: int | None) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(16384):
            target.sendall(chunk)
            if bytes_per_s is not None:
                time.sleep(len(chunk) / bytes_per_s)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@pytest.fixture
def slow_link(object_store: S3ObjectStore) -> Iterator[ThrottledLink]:
    host, port = object_store.endpoint.removeprefix("http://").rsplit(":", 1)
    link = ThrottledLink((host, int(port)), bytes_per_s=3_000_000)
    yield link
    link.close()


def commune_host(
    tmp_path: Path,
    seaweed_session: SeaweedSession,
    object_store: S3ObjectStore,
    district_keys: DistrictKeys,
    endpoint: str,
) -> dict[str, str]:
    """The environment of ``loa agent run`` on a commune host: its own data dir, the
    district's store as an external endpoint reached at ``endpoint``."""
    access_key, secret_key = storage_credentials(seaweed_session.settings)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("LOA_")}
    return environment | {
        "LOA_DATA_DIR": str(tmp_path / "commune"),
        "LOA_KEYS__DIR": str(district_keys.key_dir),
        "LOA_STORAGE__ENDPOINT": endpoint,
        "LOA_STORAGE__BUCKET": object_store.bucket,
        "LOA_STORAGE__ACCESS_KEY": access_key,
        "LOA_STORAGE__SECRET_KEY": secret_key,
        "LOA_AGENT__POLL_INTERVAL_S": "0.5",
        "LOA_AGENT__HEARTBEAT_INTERVAL_S": "2",
    }


def start_agent(environment: dict[str, str], sink_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [*LOA, "agent", "run", "--commune", COMMUNE, "--sink", f"file:{sink_dir}"]
    with log.open("ab") as output:
        return subprocess.Popen(command, env=environment, stdout=output, stderr=output)


def test_agent_killed_mid_download_never_plays_a_partial_and_recovers(
    tmp_path: Path,
    seaweed_session: SeaweedSession,
    object_store: S3ObjectStore,
    district_keys: DistrictKeys,
    bucket: Bucket,
    slow_link: ThrottledLink,
    sink_dir: Path,
    clips: Clips,
) -> None:
    big = padded_clip(clips, 4_500_000)  # 1.5 s over the slow link
    ref = bucket.put_audio(big)
    start = at(9)
    bucket.publish(manifest([item(ref, start, item_id="chuong-trinh")], sequence=3))
    cache = tmp_path / "commune" / "agents" / COMMUNE / "cache"
    endpoint = f"http://127.0.0.1:{slow_link.port}"
    environment = commune_host(tmp_path, seaweed_session, object_store, district_keys, endpoint)
    log = tmp_path / "agent.log"

    first = start_agent(environment, sink_dir, log)
    try:
        assert wait_for(lambda: _partial_bytes(cache) >= 1_000_000, 10), _agent_log(tmp_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=5)
    finally:
        _end(first)
    partials = [path.name for path in cache.iterdir()]
    assert partials and all(name.endswith(".download.part") for name in partials), partials
    assert not (cache / f"{ref.sha256}.mp3").exists()  # never promoted
    assert _partial_bytes(cache) < len(big)

    second = start_agent(environment, sink_dir, log)
    try:
        assert wait_for(lambda: bool(plays(sink_dir)), 20), _agent_log(tmp_path)
        assert wait_for(lambda: len(list(object_store.list(ASRUN))) == 1, 5)
    finally:
        _end(second)
    [play] = plays(sink_dir)
    assert play["outcome"] == "played" and play["audio_sha256"] == ref.sha256
    assert hashlib.sha256(Path(play["file"]).read_bytes()).hexdigest() == ref.sha256
    assert timedelta(0) <= delay(play) < ON_TIME, play
    assert [path.name for path in cache.iterdir()] == [f"{ref.sha256}.mp3"]
    assert receipts(object_store)[0]["outcome"] == "played"


def _partial_bytes(cache: Path) -> int:
    if not cache.is_dir():
        return 0
    sizes = []
    for path in cache.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if ".download" in path.name:
                sizes.append(path.stat().st_size)
    return sum(sizes)


def _agent_log(tmp_path: Path) -> str:
    path = tmp_path / "agent.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- (c) the agent's clock five minutes wrong ------------------------------------------


@pytest.mark.parametrize("skew_s", [300.0, -300.0], ids=["ahead", "behind"])
def test_a_wrong_clock_is_corrected_by_storage_time(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    sink_dir: Path,
    clips: Clips,
    skew_s: float,
) -> None:
    skew = timedelta(seconds=skew_s)

    def wrong_clock() -> datetime:
        return datetime.now(UTC) + skew

    ref = bucket.put_audio(clips.short)
    window = timedelta(seconds=30)  # a 5-minute error would miss it or start it early
    items = [item(ref, at(1.5 + n), item_id=f"ban-tin-{n}", window=window) for n in range(2)]
    bucket.publish(manifest(items, sequence=2))
    agent = file_agent(settings, object_store, sink_dir, clock=wrong_clock)

    with RunningAgent(agent) as running:
        assert wait_for(lambda: len(plays(sink_dir)) == 2, 8)
        assert wait_for(lambda: len(list(object_store.list(ASRUN))) == 2, 5)
        assert wait_for(lambda: heartbeat(object_store)["outbox_pending"] == 0, 5)
        local = running.status()

    for play in plays(sink_dir):  # the sink reads the host's wrong clock
        # On the true time: the estimate of storage's clock may be off by a few ms either way.
        assert play["outcome"] == "played" and abs(delay(play, shift=skew)) < ON_TIME, play
    for receipt in receipts(object_store):  # receipts are on storage's time
        assert timedelta(0) <= delay(receipt) < ON_TIME, receipt
    clock = heartbeat(object_store)["clock"]
    assert clock["using"] == "storage" and abs(clock["offset_s"] + skew_s) < 1.0, clock
    assert 0 <= clock["uncertainty_s"] < 1.0
    assert local["clock"]["using"] == "storage"
    side = "ahead of" if skew_s > 0 else "behind"
    assert any(f"300 s {side} storage's" in p["message"] for p in local["problems"])


# -- (d, e) a real player in real time: manifest changes and crashes -------------------


def real_player(pid_file: Path) -> list[str]:
    """ffmpeg decoding in real time to nowhere, as a loudspeaker would take it; its pid
    goes to ``pid_file`` (the shell execs it, so the pid is ffmpeg's)."""
    player = 'exec ffmpeg -nostdin -v error -re -i "$0" -f null -'
    return ["sh", "-c", f"echo $$ > {shlex.quote(str(pid_file))}; {player}"]


def player_agent(settings: Settings, store: ObjectStore, pid_file: Path) -> CommuneAgent:
    sink: Sink = AudioSink(real_player(pid_file), margin_s=5.0)
    return CommuneAgent(settings, COMMUNE, store, sink)


def uploaded_receipts(store: ObjectStore, count: int, seconds: float) -> list[dict[str, Any]]:
    """The receipts in the bucket, once there are ``count`` of them."""
    assert wait_for(lambda: len(list(store.list(ASRUN))) >= count, seconds)
    return receipts(store)


def playing(pid_file: Path, previous: int | None = None) -> int | None:
    """The pid of the player running now, if it is a new one."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid != previous else None


@pytest.mark.parametrize("change", ["keeps", "withdraws", "replaces-audio"])
def test_a_manifest_change_during_a_playback(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    tmp_path: Path,
    clips: Clips,
    change: str,
) -> None:
    pid_file = tmp_path / "player.pid"
    long, other = bucket.put_audio(clips.long), bucket.put_audio(clips.other)
    current = item(long, at(1.0), item_id="ban-tin", window=timedelta(seconds=30))
    bucket.publish(manifest([current], sequence=10))
    agent = player_agent(settings, object_store, pid_file)

    with RunningAgent(agent):
        assert wait_for(lambda: playing(pid_file) is not None, 5)
        time.sleep(0.7)  # into the 3-second clip
        changed_at = datetime.now(UTC)
        follow = item(other, at(1.5), item_id="thong-bao")
        kept = {
            "keeps": [current, follow],
            "withdraws": [follow],
            "replaces-audio": [current.model_copy(update={"audio": other}), follow],
        }[change]
        bucket.publish(manifest(kept, sequence=11))
        done = uploaded_receipts(object_store, 3 if change == "replaces-audio" else 2, 10)

    first = done[0]
    assert first["item_id"] == "ban-tin" and first["audio_sha256"] == long.sha256
    length = datetime.fromisoformat(first["ended"]) - datetime.fromisoformat(first["started"])
    if change == "keeps":
        assert first["outcome"] == "played" and length >= timedelta(seconds=2.9), first
        assert [r["item_id"] for r in done] == ["ban-tin", "thong-bao"]
        return
    assert first["outcome"] == "interrupted", first
    assert datetime.fromisoformat(first["ended"]) - changed_at < timedelta(seconds=1.5)
    assert first["reason"] == (
        "withdrawn by manifest 11" if change == "withdraws" else "audio replaced by manifest 11"
    )
    follows = [r for r in done if r["item_id"] == "thong-bao"]
    assert follows[0]["outcome"] == "played" and timedelta(0) <= delay(follows[0]) < ON_TIME
    if change == "replaces-audio":  # the new audio plays from its beginning (DESIGN.md §5)
        [again] = [r for r in done[1:] if r["item_id"] == "ban-tin"]
        assert again["outcome"] == "played" and again["audio_sha256"] == other.sha256


def test_a_player_killed_mid_play_is_a_failed_playback_and_the_next_plays(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, tmp_path: Path, clips: Clips
) -> None:
    pid_file = tmp_path / "player.pid"
    long, short = bucket.put_audio(clips.long), bucket.put_audio(clips.short)
    first, second = at(1.0), at(3.0)
    bucket.publish(
        manifest(
            [item(long, first, item_id="ban-tin"), item(short, second, item_id="thong-bao")],
            sequence=4,
        )
    )
    agent = player_agent(settings, object_store, pid_file)

    with RunningAgent(agent):
        assert wait_for(lambda: playing(pid_file) is not None, 5)
        player = playing(pid_file)
        assert player is not None
        time.sleep(0.8)
        os.kill(player, signal.SIGKILL)
        done = uploaded_receipts(object_store, 2, 8)

    crashed, following = done
    assert crashed["item_id"] == "ban-tin" and crashed["outcome"] == "failed"
    assert "killed by SIGKILL" in crashed["reason"]
    assert datetime.fromisoformat(crashed["ended"]) < second
    assert following["item_id"] == "thong-bao" and following["outcome"] == "played"
    assert timedelta(0) <= delay(following) < ON_TIME


# -- (f) the cache disk full -------------------------------------------------------------


@pytest.fixture
def small_disk(settings: Settings) -> Iterator[Path]:
    """A 4 MiB tmpfs as the agents' directory (needs root and mount rights)."""
    directory = settings.data_dir / "agents"
    directory.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {mounted.stderr.strip() or 'not root'}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def fill(directory: Path, leave: int) -> Path:
    """A file taking all but ``leave`` bytes of the filesystem (as far as it will go)."""
    filler = directory / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while free_bytes(directory) > leave:
            handle.write(bytes(min(65536, free_bytes(directory) - leave)))
            handle.flush()
    return filler


def test_a_clip_that_does_not_fit_is_reported_and_fetched_once_there_is_room(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    small_disk: Path,
    sink_dir: Path,
    clips: Clips,
) -> None:
    small = bucket.put_audio(clips.short)
    big = bucket.put_audio(padded_clip(clips, 2_500_000))
    every = 3
    programme = item(
        big,
        at(1.8),
        item_id="chuong-trinh",
        window=timedelta(seconds=1),
        repeat={"every_s": every, "until": at(1.8 + every)},
    )
    bucket.publish(manifest([item(small, at(1.5), item_id="ban-tin"), programme], sequence=6))
    filler = fill(small_disk, leave=1_500_000)
    agent = file_agent(settings, object_store, sink_dir)
    cache = agent.directory / "cache"

    with RunningAgent(agent) as running:
        assert wait_for(lambda: len(list(object_store.list(ASRUN))) >= 2, 6)
        full = running.status()
        leftovers = [name for name in cached_names(agent) if not name.startswith(small.sha256)]
        filler.unlink()  # space is freed
        assert wait_for(lambda: (cache / f"{big.sha256}.mp3").exists(), 3)
        assert wait_for(lambda: len(list(object_store.list(ASRUN))) == 3, 8)

    assert leftovers == []  # neither the failed download nor its partial file
    shown = full["cache"]
    assert shown["last_error"] is not None and big.key in shown["last_error"]["message"]
    assert shown["free_bytes"] < big.bytes
    assert any(p["message"].startswith(f"cache: cannot store {big.key}") for p in full["problems"])
    outcomes = [(r["item_id"], r["outcome"]) for r in receipts(object_store)]
    assert outcomes == [
        ("ban-tin", "played"),
        ("chuong-trinh", "failed"),
        ("chuong-trinh", "played"),
    ]
    failed = receipts(object_store)[1]
    assert "No space left on device" in failed["reason"] and failed["started"] is None
    assert [play["outcome"] for play in plays(sink_dir)] == ["played", "played"]
    assert timedelta(0) <= delay(plays(sink_dir)[1]) < ON_TIME


def test_a_full_disk_keeps_state_and_receipts_in_memory_until_there_is_room(
    settings: Settings,
    object_store: ObjectStore,
    dead_store: ObjectStore,
    bucket: Bucket,
    small_disk: Path,
    sink_dir: Path,
    clips: Clips,
) -> None:
    ref = bucket.put_audio(clips.short)
    start = at(1.5)
    bucket.publish(manifest([item(ref, start, item_id="ban-tin")], sequence=8))
    link = SwitchableStore(object_store)
    agent = file_agent(settings, link, sink_dir)
    assert agent.sync().audio_refused == []
    link.current = dead_store  # no link either: the receipt has nowhere to go but memory
    filler = fill(small_disk, leave=0)

    with RunningAgent(agent):
        assert wait_for(lambda: bool(plays(sink_dir)), 4)
        time.sleep(0.5)
        outbox = list((agent.directory / "outbox").iterdir())
        state_before = json.loads((agent.directory / "state.json").read_bytes())
        filler.unlink()
        assert wait_for(lambda: bool(list((agent.directory / "outbox").iterdir())), 3)
        state_after = json.loads((agent.directory / "state.json").read_bytes())
        link.current = object_store
        assert wait_for(lambda: len(list(object_store.list(ASRUN))) == 1, 5)
        assert wait_for(lambda: heartbeat(object_store)["outbox_pending"] == 0, 5)

    [play] = plays(sink_dir)
    assert play["outcome"] == "played" and timedelta(0) <= delay(play) < ON_TIME
    assert outbox == [] and state_before["done"] == []  # the disk took nothing
    assert state_after["done"] == [{"item_id": "ban-tin", "scheduled": start.isoformat()}]
    assert bucket.read_json(receipt_key(play["started"], "ban-tin"))["outcome"] == "played"
    problems = [p["message"] for p in heartbeat(object_store)["problems"]]
    assert any("state.json: No space left on device; kept in memory" in m for m in problems)
    assert any("outbox: No space left on device; kept in memory" in m for m in problems)
    assert status_path(settings, COMMUNE).exists()


def test_a_manifest_the_disk_had_no_room_for_is_accepted_again_after_a_restart(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    small_disk: Path,
    sink_dir: Path,
    clips: Clips,
) -> None:
    ref = bucket.put_audio(clips.short)
    later = at(3600)
    bucket.publish(manifest([item(ref, later)], sequence=1))
    agent = file_agent(settings, object_store, sink_dir)
    assert agent.sync().status is SyncStatus.ACCEPTED
    titles = [f"Bản tin {n} " + "dài " * 200 for n in range(12)]  # a manifest of ~30 kB
    bucket.publish(
        manifest(
            [item(ref, later, item_id=f"ban-tin-{n}", title=t) for n, t in enumerate(titles)],
            sequence=2,
        )
    )
    filler = fill(small_disk, leave=8192)  # room for state.json, not for the manifest

    result = agent.sync()

    assert result.status is SyncStatus.ACCEPTED and result.sequence == 2  # in force
    saved = json.loads((agent.directory / "manifest.json").read_bytes())
    assert saved["sequence"] == 1
    assert json.loads((agent.directory / "state.json").read_bytes())["manifest"]["sequence"] == 2
    filler.unlink()

    restarted = file_agent(settings, object_store, sink_dir)  # plays sequence 1 meanwhile
    assert [o.item.id for o in restarted.due_occurrences(later)] == ["bulletin-1"]
    again = restarted.sync()

    assert again.status is SyncStatus.ACCEPTED and again.sequence == 2, again.error
    assert json.loads((restarted.directory / "manifest.json").read_bytes())["sequence"] == 2
