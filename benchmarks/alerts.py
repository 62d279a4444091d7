"""Issue 7's emergency-alert targets, measured on the embedded SeaweedFS in one run.

Each row builds its own district (a config file, a district key and an embedded
SeaweedFS on free loopback ports, in a temporary folder) whose communes speak only
Vietnamese, with the Vietnamese chain ``[edge, espeak]`` and edge-tts pointed at a closed
loopback port: the internet is down, edge fails and espeak-ng speaks. Every commune
already holds a manifest with a tone an hour ahead, as on an ordinary day.

* Latency: ``--agents`` real ``CommuneAgent``s in this process (threads, each with its
  own ``file:`` sink; emergency poll 2 s, sync 5 s, heartbeat 30 s), settled, then the
  real ``loa alert send --communes all --json``. Printed: per agent ``started − send
  returned`` from its ``plays.jsonl`` (n, min, p50, p95, max, missing); targets
  p50 ≤ 3 s, max ≤ 5 s. Every agent must have played the audio the manifest names.
* Fan-out: ``loa alert send`` to ``--communes`` communes, timed from its start to its
  exit (it prints once every manifest is published); target ≤ 5 s. Run with ``-v``: its
  log's timestamps split the time. Afterwards every manifest must hold the alert.
* Poll cost: ``--poll-agents`` simulated idle agents (``distribution.py``'s), each its own
  S3 client, asking for their unchanged manifest with ``If-None-Match`` every 2 s (the
  emergency poll), then every 5 s (the ordinary sync), for ``--poll-seconds`` each:
  304s per second and the SeaweedFS process's CPU, and both per 1,000 agents.

    .venv/bin/python benchmarks/alerts.py [--only latency|fanout|poll] [--agents 100]
        [--communes 1000] [--poll-agents 1000] [--poll-seconds 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import yaml

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app._alerts import alert_store  # noqa: E402
from benchmarks._speech import SHARED_SAMPLES  # noqa: E402
from benchmarks.agent import (  # noqa: E402
    PROCESSES,
    Bench,
    Row,
    agent_store,
    fleet_row,
    percentile,
    print_table,
    publish,
    read_plays,
    scrub_environment,
    tone_item,
    upload_tones,
    wait_for,
    write_config,
)
from benchmarks.distribution import Store, poll  # noqa: E402
from config import load_settings  # noqa: E402
from playout import (  # noqa: E402
    CommuneAgent,
    DistrictKeys,
    EmbeddedSeaweed,
    FileSink,
    ObjectNotFound,
    manifest_key,
    storage_credentials,
    verify,
)
from tests.conftest import free_port_block  # noqa: E402

EMERGENCY_POLL_S = 2.0
POLL_INTERVAL_S = 5.0
HEARTBEAT_S = 30.0
SETTLE_S = 10.0
SETTLE_MAX_S = 60.0
PLAY_WAIT_S = 30.0
SEND_TIMEOUT_S = 300.0
TARGET_P50_S = 3.0
TARGET_MAX_S = 5.0
TARGET_FANOUT_S = 5.0
LATENCY_GOAL = f"p50 ≤ {TARGET_P50_S:g} s, max ≤ {TARGET_MAX_S:g} s"
OFFLINE_ENGINE = "espeak"
SECOND_LANGUAGE = "hni"  # every other latency commune speaks Hà Nhì too (a recording)
READERS = 8  # threads that read the manifests back
ALERT_SAMPLE = SHARED_SAMPLES / "alert-flashflood-vi.txt"
ALERT_FALLBACK = "Cảnh báo lũ quét, sạt lở đất. Rủi ro thiên tai cấp độ 3."
SEND_OPTIONS = ("--level", "3", "--hazard", "flash-flood", "--communes", "all",
                "--expires", "+6h", "--json")  # fmt: skip
LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"  # the CLI's log format: asctime, local time
Figures = dict[str, object]


@dataclass(frozen=True)
class Sent:
    """One run of ``loa alert send``: what it printed, when, and its log."""

    alert_id: int
    communes: list[str]
    started: datetime  # UTC, just before the process was started
    returned: datetime  # UTC, as soon as it had exited
    seconds: float  # start to exit, on the monotonic clock
    log: str

    @property
    def item_id(self) -> str:
        return f"alert-{self.alert_id}-vi"


@dataclass(frozen=True)
class Voice:
    """The alert's Vietnamese clip as the district stored it."""

    engine: str
    sha256: str
    duration_ms: int


# -- a district of N Vietnamese-speaking communes ------------------------------------------


def write_district(work: Path, communes: int, second: str | None = None) -> Path:
    """``agent.py``'s config file (data under ``work``, free ports), with ``communes``
    generated communes that speak Vietnamese (every other one also ``second``, from a
    recording), edge-tts pointed at a closed loopback port (the internet is down) and the
    agent's emergency poll."""
    path = write_config(work)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    organisation = data["organisation"]
    organisation["district"]["languages"] = ["vi", *([second] if second else [])]
    organisation["communes"] = [
        {
            "id": commune_id(number),
            "name": f"Xã số {number + 1}",
            "languages": ["vi", second] if second and number % 2 == 0 else ["vi"],
        }
        for number in range(communes)
    ]
    data["tts"]["chains"] = {"vi": ["edge", OFFLINE_ENGINE]}
    if second:
        data["tts"]["chains"][second] = ["recorded"]
    closed = f"ws://127.0.0.1:{free_port_block(1)}/edge/v1"  # nothing listens there
    data["tts"]["edge"] = {**data["tts"].get("edge", {}), "service_url": closed}
    data["agent"] = {
        "poll_interval_s": POLL_INTERVAL_S,
        "emergency_poll_s": EMERGENCY_POLL_S,
        "heartbeat_interval_s": HEARTBEAT_S,
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def commune_id(number: int) -> str:
    return f"xa-{number:05d}"


@contextmanager
def district(label: str, communes: int, second: str | None = None) -> Iterator[Bench]:
    """A fresh district with its own embedded SeaweedFS, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"loa-bench-alerts-{label}-") as temporary:
        work = Path(temporary)
        config = write_district(work, communes, second)
        settings = load_settings(config)
        keys = DistrictKeys(settings.key_dir)
        keys.init()
        print(f"{label}: starting the embedded SeaweedFS…", file=sys.stderr)
        with EmbeddedSeaweed(settings, stop_grace_s=1.0) as seaweed:
            access_key, secret_key = storage_credentials(settings)
            store = Store(seaweed.endpoint, settings.storage.bucket, access_key, secret_key)
            yield Bench(work, config, settings, store, keys, seaweed.status().pid or 0)


def ordinary_day(bench: Bench, communes: Sequence[str]) -> None:
    """As on a server in use: the district's database exists (its schema is migrated
    now, not by the first ``loa`` command), and every commune's manifest holds one tone
    an hour ahead, which its agent idles on."""
    alert_store(bench.settings)
    print(f"publishing an ordinary manifest to {len(communes)} communes…", file=sys.stderr)
    ref = upload_tones(bench, 1)[0]
    item = tone_item(ref, "thu-loa", datetime.now(UTC) + timedelta(hours=1))
    publish(bench, {commune: [item] for commune in communes})


# -- loa alert send ------------------------------------------------------------------------


def alert_text(work: Path) -> Path:
    """The first paragraph of the shared flash-flood warning (or the same words)."""
    text = ALERT_FALLBACK
    if ALERT_SAMPLE.is_file():
        paragraphs = ALERT_SAMPLE.read_text(encoding="utf-8").split("\n\n")
        text = next((part.strip() for part in paragraphs if part.strip()), text)
    path = work / "canh-bao-lu-quet.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def native_recording(work: Path) -> Path:
    """A stand-in for a native speaker's recording of the warning: espeak-ng, as a WAV."""
    path = work / f"canh-bao-{SECOND_LANGUAGE}.wav"
    words = "Chú ý! Chú ý! Lũ quét. Bà con di chuyển ngay đến nơi an toàn."
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


def send_alert(
    bench: Bench, text: Path, *, verbose: bool = False, extra: Sequence[str] = ()
) -> Sent:
    """Run the real ``loa alert send`` to every commune; stop the benchmark if it fails."""
    loa = Path(sys.executable).with_name("loa")
    options = ["-v"] if verbose else []
    command = [str(loa), "--config", str(bench.config), *options, "alert", "send", str(text)]
    started, clock = datetime.now(UTC), time.monotonic()
    result = subprocess.run(
        [*command, *SEND_OPTIONS, *extra],
        capture_output=True,
        text=True,
        timeout=SEND_TIMEOUT_S,
        check=False,
    )
    seconds, returned = time.monotonic() - clock, datetime.now(UTC)
    if result.returncode != 0:
        raise SystemExit(f"loa alert send failed ({result.returncode}):\n{result.stderr[-3000:]}")
    printed = json.loads(result.stdout)
    return Sent(printed["id"], printed["communes"], started, returned, seconds, result.stderr)


def stored_voice(bench: Bench, alert_id: int) -> Voice:
    """The engine and audio the district recorded for the alert's Vietnamese clip."""
    clip = alert_store(bench.settings).alert(alert_id).latest_clips()[("vi", None)]
    return Voice(clip.engine, clip.sha256, clip.duration_ms)


def manifest_audio(bench: Bench, communes: Sequence[str], item_id: str) -> dict[str, str | None]:
    """Per commune, the SHA-256 of ``item_id``'s audio in its verified manifest, if any."""
    store = bench.store.open(max_connections=READERS)
    trusted = bench.keys.public_keys()

    def read(commune: str) -> str | None:
        try:
            data = store.get_bytes(manifest_key(commune), max_bytes=1 << 22)
        except ObjectNotFound:
            return None
        manifest = verify(data, trusted, source=commune, now=datetime.now(UTC))
        found = [item.audio.sha256 for item in manifest.items if item.id == item_id]
        return found[0] if found else None

    with ThreadPoolExecutor(READERS) as pool:
        return dict(zip(communes, pool.map(read, communes), strict=True))


def voice_row(voice: Voice) -> Row:
    measured = f"{voice.engine}, {voice.duration_ms / 1000:.1f} s clip"
    return Row("  alert voice (edge-tts down)", measured, "espeak", voice.engine == OFFLINE_ENGINE)


# -- latency: 100 agents -------------------------------------------------------------------


@dataclass
class Fleet:
    """``CommuneAgent``s running in threads of this process until ``stop``, started one
    after another over one emergency poll interval (agents started at unrelated times
    poll at unrelated phases; ±10 % jitter alone would take minutes to spread them)."""

    agents: dict[str, CommuneAgent]
    sinks: dict[str, FileSink]
    stop: threading.Event
    threads: list[threading.Thread]

    @classmethod
    def start(cls, bench: Bench, communes: Sequence[str]) -> Fleet:
        zone = bench.settings.organisation.district.zone
        sinks = {c: FileSink(bench.work / "plays" / c, zone=zone) for c in communes}
        agents = {
            c: CommuneAgent(bench.settings, c, agent_store(bench.settings), sinks[c])
            for c in communes
        }
        stop = threading.Event()
        threads = [
            threading.Thread(target=agent.run, kwargs={"stop_event": stop}, name=f"agent-{c}")
            for c, agent in agents.items()
        ]
        for thread in threads:  # their polls spread over the interval, as in a real fleet
            thread.start()
            time.sleep(EMERGENCY_POLL_S / len(threads))
        return cls(agents, sinks, stop, threads)

    def settled(self) -> list[str]:
        """The communes whose agent has reported a manifest in force."""
        return [c for c, agent in self.agents.items() if _in_force(agent.status_path)]

    def plays(self) -> dict[str, list[dict[str, str]]]:
        return {c: read_plays(sink.plays_path) for c, sink in self.sinks.items()}

    def played(self, item_id: str) -> dict[str, dict[str, str]]:
        """Per commune, its first playback of ``item_id``."""
        found = {}
        for commune, plays in self.plays().items():
            first = next((play for play in plays if play["item_id"] == item_id), None)
            if first is not None:
                found[commune] = first
        return found

    def shut_down(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def _in_force(status_path: Path) -> bool:
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    manifest = status.get("manifest") or {}
    return bool(manifest.get("in_force")) and bool(status.get("online"))


def measure_latency(bench: Bench) -> tuple[list[Row], Figures]:
    communes = bench.settings.organisation.commune_ids()
    ordinary_day(bench, communes)
    text = alert_text(bench.work)
    recording = native_recording(bench.work)
    bilingual = [
        c.id for c in bench.settings.organisation.communes if SECOND_LANGUAGE in c.languages
    ]
    print(f"latency: starting {len(communes)} agents…", file=sys.stderr)
    fleet = Fleet.start(bench, communes)
    try:
        settle(fleet, len(communes))
        print("latency: loa alert send --communes all…", file=sys.stderr)
        sent = send_alert(bench, text, extra=("--recording", f"{SECOND_LANGUAGE}={recording}"))
        second_item = f"alert-{sent.alert_id}-{SECOND_LANGUAGE}"
        deadline = sent.returned + timedelta(seconds=PLAY_WAIT_S)
        wait_for(
            lambda: (
                len(fleet.played(sent.item_id)) == len(communes)
                and len(fleet.played(second_item)) == len(bilingual)
            ),
            deadline,
        )
        played = fleet.played(sent.item_id)
        second = fleet.played(second_item)
        others = sum(len(plays) for plays in fleet.plays().values()) - len(played) - len(second)
    finally:
        fleet.shut_down()
    voice = stored_voice(bench, sent.alert_id)
    named = manifest_audio(bench, communes, sent.item_id)
    rows, figures = latency_rows(sent, voice, named, played, others)
    rows.append(second_language_row(sent, bilingual, second, figures))
    return rows, figures


def second_language_row(
    sent: Sent, bilingual: Sequence[str], played: Mapping[str, dict[str, str]], figures: Figures
) -> Row:
    """Every commune that also speaks ``SECOND_LANGUAGE`` played it, after Vietnamese."""
    ok = [c for c in bilingual if c in played and played[c]["outcome"] == "played"]
    delays = sorted(
        (datetime.fromisoformat(played[c]["started"]) - sent.returned).total_seconds() for c in ok
    )
    shown = f", started − send returned max {delays[-1]:.2f} s" if delays else ""
    figures.update(second_language=SECOND_LANGUAGE, second_played=len(ok),
                   second_needed=len(bilingual))  # fmt: skip
    measured = f"{len(ok)}/{len(bilingual)} communes played {SECOND_LANGUAGE} too{shown}"
    return Row(f"  every language ({SECOND_LANGUAGE} from a recording)", measured, "all",
               len(ok) == len(bilingual))  # fmt: skip


def settle(fleet: Fleet, count: int) -> None:
    """Until every agent has its manifest in force, and at least ``SETTLE_S``."""
    started = time.monotonic()
    deadline = datetime.now(UTC) + timedelta(seconds=SETTLE_MAX_S)
    if not wait_for(lambda: len(fleet.settled()) == count, deadline):
        raise SystemExit(f"latency: {len(fleet.settled())} of {count} agents synced "
                         f"in {SETTLE_MAX_S:g} s")  # fmt: skip
    time.sleep(max(SETTLE_S - (time.monotonic() - started), 0.0))


def latency_rows(
    sent: Sent,
    voice: Voice,
    named: Mapping[str, str | None],
    played: Mapping[str, dict[str, str]],
    others: int,
) -> tuple[list[Row], Figures]:
    count = len(named)
    delays = sorted(
        (datetime.fromisoformat(play["started"]) - sent.returned).total_seconds()
        for play in played.values()
    )
    right = sum(1 for c, play in played.items() if _played_right(play, named[c], voice))
    send = f"{sent.seconds:.2f} s for {len(sent.communes)} communes (start to exit)"
    check = f"{right}/{count} played the manifest's clip ({voice.sha256[:12]}…)"
    if others:
        check += f"; {others} other playbacks"
    delay_row, figures = latency_row(delays, count)
    rows = [
        Row(f"alert send with {count} agents running", send),
        voice_row(voice),
        delay_row,
        Row("  played audio = manifest's", check, "all", right == count and not others),
    ]
    figures.update(send_seconds=round(sent.seconds, 2), engine=voice.engine,
                   played_right_audio=right, other_playbacks=others)  # fmt: skip
    return rows, figures


def latency_row(delays: list[float], count: int) -> tuple[Row, Figures]:
    """n, min, p50, p95 and max (nearest rank) of the sorted ``delays``, against targets."""
    target, goal = "alert started − send returned", LATENCY_GOAL
    missing = count - len(delays)
    figures: Figures = {"agents": count, "n": len(delays), "missing": missing}
    if not delays:
        measured = f"nothing played by {count} agents in {PLAY_WAIT_S:g} s"
        return Row(target, measured, goal, False), figures
    spread = {"min": delays[0], "p50": percentile(delays, 50), "p95": percentile(delays, 95),
              "max": delays[-1]}  # fmt: skip
    figures.update({f"{name}_s": round(value, 3) for name, value in spread.items()})
    shown = ", ".join(f"{name} {value:.2f}" for name, value in spread.items())
    measured = f"n {len(delays)}/{count}, {shown} s; {missing} missing"
    ok = spread["p50"] <= TARGET_P50_S and spread["max"] <= TARGET_MAX_S and not missing
    return Row(target, measured, goal, ok), figures


def _played_right(play: Mapping[str, str], named: str | None, voice: Voice) -> bool:
    return play["outcome"] == "played" and play["audio_sha256"] == named == voice.sha256


# -- fan-out: 1,000 communes ---------------------------------------------------------------


def measure_fanout(bench: Bench) -> tuple[list[Row], Figures]:
    communes = bench.settings.organisation.commune_ids()
    ordinary_day(bench, communes)
    text = alert_text(bench.work)
    print(f"fanout: loa -v alert send to {len(communes)} communes…", file=sys.stderr)
    sent = send_alert(bench, text, verbose=True)
    voice = stored_voice(bench, sent.alert_id)
    print(f"fanout: reading back {len(communes)} manifests…", file=sys.stderr)
    named = manifest_audio(bench, communes, sent.item_id)
    listed = count_manifests(bench)
    return fanout_rows(sent, voice, named, listed, bench.settings.alerts.neural_wait_s)


def edge_waits(log: str) -> int:
    """How often the render waited out ``alerts.neural_wait_s`` for edge-tts to answer."""
    return sum(1 for line in log.splitlines() if "edge-tts did not answer within" in line)


def count_manifests(bench: Bench) -> int:
    listing = bench.open().list("communes/")
    return sum(1 for info in listing if info.key.endswith("/manifest.json"))


def phases(sent: Sent) -> dict[str, float]:
    """Seconds of the send's parts, from the instants its ``-v`` log gives (to the ms)."""
    rendered = _logged_at(sent.log, "alert voice vi/")
    published = _logged_at(sent.log, "published communes/", last=False)
    last = _logged_at(sent.log, "published communes/", last=True)
    marks = [sent.started, rendered, published, last, sent.returned]
    if any(mark is None for mark in marks):
        return {}
    names = ("start-up + render", "store + upload", "manifests", "record + exit")
    return {
        name: round((end - begin).total_seconds(), 2)  # type: ignore[operator]
        for name, (begin, end) in zip(names, pairwise(marks), strict=True)
    }


def _logged_at(log: str, message: str, *, last: bool = False) -> datetime | None:
    lines = [line for line in log.splitlines() if message in line]
    if not lines:
        return None
    stamp = " ".join((lines[-1] if last else lines[0]).split()[:2])
    return datetime.strptime(stamp, LOG_TIME).astimezone()  # the CLI logs local time


def fanout_rows(
    sent: Sent, voice: Voice, named: Mapping[str, str | None], listed: int, wait_s: float
) -> tuple[list[Row], Figures]:
    count = len(named)
    parts, waits = phases(sent), edge_waits(sent.log)
    holding = sum(1 for sha256 in named.values() if sha256 == voice.sha256)
    split = ", ".join(f"{name} {seconds:.2f}" for name, seconds in parts.items())
    measured = f"{sent.seconds:.2f} s" + (f" ({split})" if split else "")
    if waits:
        measured += f"; it waited for edge-tts {waits}× (≤ {wait_s:g} s each)"
    check = f"{holding}/{count} manifests hold {sent.item_id} ({voice.sha256[:12]}…); "
    check += f"{listed} manifest keys listed"
    rows = [
        Row(f"alert send to {count} communes", measured, f"≤ {TARGET_FANOUT_S:g} s",
            sent.seconds <= TARGET_FANOUT_S),
        voice_row(voice),
        Row("  manifests hold the alert", check, "all", holding == count == listed),
    ]  # fmt: skip
    figures: Figures = {
        "communes": count,
        "seconds": round(sent.seconds, 2),
        "phases_s": parts,
        "edge_waits": waits,
        "engine": voice.engine,
        "manifests_holding_alert": holding,
        "manifests_listed": listed,
    }
    return rows, figures


# -- poll cost: 1,000 idle agents ----------------------------------------------------------


def measure_poll(bench: Bench, agents: int, seconds: float) -> tuple[list[Row], Figures]:
    communes = bench.settings.organisation.commune_ids()
    ordinary_day(bench, communes)
    reader = bench.open()
    etags = {commune: reader.head(manifest_key(commune)).etag for commune in communes}  # type: ignore[union-attr]
    results = []
    for interval_s in (EMERGENCY_POLL_S, POLL_INTERVAL_S):
        print(f"poll: {agents} agents every {interval_s:g} s for {seconds:g} s…", file=sys.stderr)
        results.append(poll(bench.store, etags, PROCESSES, seconds, interval_s, bench.weed_pid))
    rows = [poll_row(result, agents) for result in results]
    emergency, ordinary = results
    rows.append(ratio_row(emergency, ordinary))
    return rows, {"agents": agents, "seconds": seconds, "cadences": results}


def poll_row(result: Mapping[str, float], agents: int) -> Row:
    interval_s = result["interval_s"]
    name = "emergency poll" if interval_s == EMERGENCY_POLL_S else "ordinary sync"
    expected = f"≈ {agents / interval_s:g} 304/s expected"
    row = fleet_row(dict(result), f"{agents} idle agents every {interval_s:g} s ({name})", expected)
    scale = 1000 / agents
    requests = result["not_modified_per_s"] * scale
    cpu = result["storage_cpu_percent_of_one_core"] * scale
    per_thousand = f"; per 1,000 agents {requests:.1f} req/s, SeaweedFS {cpu:.1f} %"
    return replace(row, measured=row.measured + per_thousand)


def ratio_row(emergency: Mapping[str, float], ordinary: Mapping[str, float]) -> Row:
    requests = _ratio(emergency["not_modified_per_s"], ordinary["not_modified_per_s"])
    cpu = _ratio(emergency["storage_cpu_percent_of_one_core"],
                 ordinary["storage_cpu_percent_of_one_core"])  # fmt: skip
    measured = f"{requests} the requests, {cpu} the SeaweedFS CPU"
    return Row("  2 s poll against the 5 s sync", measured, "≈ 2.5× expected")


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator else "n/a"


# -- main ----------------------------------------------------------------------------------


STAGES = ("latency", "fanout", "poll")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=STAGES, help="run one measurement")
    parser.add_argument("--agents", type=int, default=100, help="commune agents for latency")
    parser.add_argument("--communes", type=int, default=1000, help="communes for fan-out")
    parser.add_argument("--poll-agents", type=int, default=1000, help="simulated idle agents")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="each polling window")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    stages = [args.only] if args.only else list(STAGES)
    scrub_environment()
    rows, figures = run_stages(stages, args)
    if args.json:
        table = [{**asdict(row), "verdict": row.verdict} for row in rows]
        report = {**figures, "rows": table, "load_average": os.getloadavg()}
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_table(rows)
    return 0 if all(row.ok is not False for row in rows) else 1


def run_stages(stages: list[str], args: argparse.Namespace) -> tuple[list[Row], Figures]:
    rows: list[Row] = []
    figures: Figures = {}
    if "latency" in stages:
        with district("latency", args.agents, SECOND_LANGUAGE) as bench:
            more, figures["latency"] = measure_latency(bench)
        rows += more
    if "fanout" in stages:
        with district("fanout", args.communes) as bench:
            more, figures["fanout"] = measure_fanout(bench)
        rows += more
    if "poll" in stages:
        with district("poll", args.poll_agents) as bench:
            more, figures["poll"] = measure_poll(bench, args.poll_agents, args.poll_seconds)
        rows += more
    return rows, figures


if __name__ == "__main__":
    sys.exit(main())
