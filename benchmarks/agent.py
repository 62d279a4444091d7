"""The playout targets of issue 6, measured on the embedded SeaweedFS in one run.

* Start accuracy: ``--items`` short tones (1–2 s, real MP3s from ffmpeg) in one signed
  manifest, starts 2.5 s apart, played by a real ``CommuneAgent`` (run until stopped, in
  a thread) through the ``file:`` sink. Printed: |started − scheduled| from
  ``plays.jsonl`` (n, mean, p50, p95, p99, max); target p99 ≤ 1000 ms.
* Idle cost: a real ``loa agent run --sink file:DIR`` process (manifest checked every
  2 s, full sync every 5 s, heartbeat every 30 s) whose manifest holds only items hours
  ahead. After a warm-up, over
  ``--idle-seconds``: its CPU (utime + stime from /proc, children included) as a share of
  one core, and its memory (VmRSS, peak VmHWM). Targets ≤ 2 % of one core, ≤ 80 MB.
* 200 agents: ``benchmarks/distribution.py``'s simulated agents asking for their
  unchanged manifest with ``If-None-Match``, back to back and every 5 s: 304s per second
  and the SeaweedFS process's CPU.

    .venv/bin/python benchmarks/agent.py [--only accuracy|idle|fleet] [--items 50]
        [--idle-seconds 120] [--agents 200] [--fleet-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.distribution import Store, poll  # noqa: E402
from config import EXAMPLE_CONFIG, Settings, load_settings  # noqa: E402
from playout import (  # noqa: E402
    AudioRef,
    CommuneAgent,
    DistrictKeys,
    EmbeddedSeaweed,
    FileSink,
    ManifestItem,
    Publisher,
    PublishReport,
    S3ObjectStore,
    manifest_key,
    storage_credentials,
)
from tests.conftest import free_port_block  # noqa: E402
from tests.manifests import audio_ref, make_tone  # noqa: E402

ACCURACY_COMMUNE = "bum-nua"
IDLE_COMMUNE = "thu-lum"
LEAD_S = 10.0  # before the first start: the agent's first sync fetches every clip
SPACING_S = 2.5
TARGET_P99_MS = 1000.0
TARGET_CPU_PERCENT = 2.0
TARGET_RSS_MB = 80.0  # 10^6 bytes, as in memory.py
WARMUP_S = 15.0
HEARTBEAT_WAIT_S = 60.0
BURST_S = 10.0
PROCESSES = 4
_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Bench:
    """One SeaweedFS, the district key, and the config file the agents read."""

    work: Path
    config: Path
    settings: Settings
    store: Store
    keys: DistrictKeys
    weed_pid: int

    def open(self) -> S3ObjectStore:
        return self.store.open()


@dataclass(frozen=True)
class Row:
    target: str
    measured: str
    goal: str = ""
    ok: bool | None = None  # None: shown for information

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


# -- set-up ----------------------------------------------------------------------------


def write_config(work: Path) -> Path:
    """The example district with its data under ``work``, on free ports, read by this
    process and by the agent it starts."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["data_dir"] = str(work / "var")
    data["storage"]["embedded"]["port"] = free_port_block(8)
    data["tts"]["lexicon"] = str(EXAMPLE_CONFIG.parent / data["tts"]["lexicon"])
    data["agent"] = {"poll_interval_s": 5, "emergency_poll_s": 2, "heartbeat_interval_s": 30}
    path = work / "loa.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def scrub_environment() -> None:
    """The benchmark's config file alone decides, here and in the agent it starts."""
    for name in list(os.environ):
        if name.startswith("LOA_") and name != "LOA_WEED_PATH":
            del os.environ[name]


def upload_tones(bench: Bench, count: int) -> list[AudioRef]:
    """``count`` distinct tones of 1, 1.5 or 2 s in the pipeline's MP3 format."""
    folder = bench.work / "tones"
    folder.mkdir(exist_ok=True)
    store = bench.open()
    refs = []
    for number in range(count):
        seconds = 1.0 + (number % 3) / 2
        data = make_tone(folder / f"tone-{number:03d}.mp3", 300 + 7 * number, seconds=seconds)
        ref = audio_ref(data, duration_ms=int(seconds * 1000))
        store.put_bytes(ref.key, data, "audio/mpeg")
        refs.append(ref)
    return refs


def tone_item(ref: AudioRef, item_id: str, start: datetime) -> ManifestItem:
    return ManifestItem.model_validate(
        {
            "id": item_id,
            "title": "Thử loa",
            "kind": "test",
            "priority": "normal",
            "language": "vi",
            "start": start,
            "not_after": start + timedelta(minutes=1),
            "audio": ref,
        }
    )


def publish(bench: Bench, items: Mapping[str, Sequence[ManifestItem]]) -> None:
    settings = bench.settings
    publisher = Publisher(
        bench.open(),
        bench.keys,
        settings.organisation.district.id,
        validity=timedelta(hours=settings.publish.manifest_validity_hours),
        parallel=settings.publish.parallel_requests,
    )
    publisher.publish(items, PublishReport())


# -- start accuracy --------------------------------------------------------------------


def measure_accuracy(bench: Bench, count: int) -> list[Row]:
    print(f"accuracy: making and uploading {count} tones…", file=sys.stderr)
    refs = upload_tones(bench, count)
    first = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    starts = [first + timedelta(seconds=SPACING_S * number) for number in range(count)]
    items = [
        tone_item(ref, f"tone-{number:03d}", start)
        for number, (ref, start) in enumerate(zip(refs, starts, strict=True))
    ]
    publish(bench, {ACCURACY_COMMUNE: items})
    sink = FileSink(bench.work / "plays", zone=bench.settings.organisation.district.zone)
    agent = CommuneAgent(bench.settings, ACCURACY_COMMUNE, agent_store(bench.settings), sink)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, kwargs={"stop_event": stop}, name="agent")
    print(f"accuracy: agent playing {count} items, {SPACING_S:g} s apart…", file=sys.stderr)
    runner.start()
    try:
        deadline = starts[-1] + timedelta(seconds=30)
        wait_for(lambda: len(read_plays(sink.plays_path)) >= count, deadline)
    finally:
        stop.set()
        runner.join(timeout=30)
    return accuracy_rows(read_plays(sink.plays_path), count)


def agent_store(settings: Settings) -> S3ObjectStore:
    """As ``loa agent run`` opens it: few, short retries."""
    return S3ObjectStore.from_settings(settings, max_attempts=3, connect_timeout_s=3.0)


def wait_for(condition: Callable[[], bool], deadline: datetime) -> bool:
    while datetime.now(UTC) < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def read_plays(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def accuracy_rows(plays: list[dict[str, str]], count: int) -> list[Row]:
    played = [play for play in plays if play["outcome"] == "played"]
    errors = sorted(start_error_ms(play) for play in played)
    if not errors:
        return [Row("start accuracy", f"nothing played of {count}", "p99 ≤ 1000 ms", False)]
    p99 = percentile(errors, 99)
    measured = (
        f"n {len(errors)}/{count}, mean {statistics.fmean(errors):.0f}, "
        f"p50 {percentile(errors, 50):.0f}, p95 {percentile(errors, 95):.0f}, "
        f"p99 {p99:.0f}, max {errors[-1]:.0f} ms"
    )
    ok = p99 <= TARGET_P99_MS and len(errors) == count
    return [Row("start accuracy |started − scheduled|", measured, "p99 ≤ 1000 ms", ok)]


def start_error_ms(play: dict[str, str]) -> float:
    started = datetime.fromisoformat(play["started"])
    scheduled = datetime.fromisoformat(play["scheduled"])
    return abs((started - scheduled).total_seconds()) * 1000


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: with 50 values, p99 is the largest."""
    rank = max(math.ceil(share / 100 * len(ordered)), 1)
    return ordered[rank - 1]


# -- one agent's idle cost -------------------------------------------------------------


@dataclass(frozen=True)
class IdleFigures:
    cpu_percent: float  # of one core
    rss_mb: float
    hwm_mb: float
    processes: int
    problems: list[str]  # from its last heartbeat
    played: bool


def measure_idle(bench: Bench, seconds: float) -> list[Row]:
    ref = upload_tones(bench, 1)[0]
    later = datetime.now(UTC) + timedelta(hours=1)
    items = [tone_item(ref, f"later-{hour}", later + timedelta(hours=hour)) for hour in range(3)]
    publish(bench, {IDLE_COMMUNE: items})
    print("idle: starting `loa agent run`…", file=sys.stderr)
    log_path = bench.work / "agent.log"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(agent_command(bench), stdout=log, stderr=subprocess.STDOUT)
        try:
            figures = watch_idle(bench, agent.pid, seconds)
        finally:
            stop_process(agent)
    if figures is None:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"idle: no heartbeat from the agent in {HEARTBEAT_WAIT_S:g} s\n{tail}")
    return idle_rows(figures, seconds)


def agent_command(bench: Bench) -> list[str]:
    loa = Path(sys.executable).with_name("loa")
    sink = f"file:{bench.work / 'idle-plays'}"
    arguments = ["agent", "run", "--commune", IDLE_COMMUNE, "--sink", sink]
    return [str(loa), "--config", str(bench.config), *arguments]


def watch_idle(bench: Bench, pid: int, seconds: float) -> IdleFigures | None:
    """Wait for the first heartbeat (the manifest and audio are in), warm up, then measure."""
    key = f"communes/{IDLE_COMMUNE}/status/heartbeat.json"
    store = bench.open()
    deadline = datetime.now(UTC) + timedelta(seconds=HEARTBEAT_WAIT_S)
    if not wait_for(lambda: store.head(key) is not None, deadline):
        return None
    print(f"idle: warming up {WARMUP_S:g} s, then measuring {seconds:g} s…", file=sys.stderr)
    time.sleep(WARMUP_S)
    ticks_before, wall_before = tree_ticks(pid), time.monotonic()
    time.sleep(seconds)
    ticks, wall = tree_ticks(pid) - ticks_before, time.monotonic() - wall_before
    tree = process_tree(pid)
    heartbeat = json.loads(store.get_bytes(key, max_bytes=1 << 20))
    return IdleFigures(
        cpu_percent=100 * ticks / _HZ / wall,
        rss_mb=sum(status_kib(each, "VmRSS") for each in tree) * 1024 / 1e6,
        hwm_mb=sum(status_kib(each, "VmHWM") for each in tree) * 1024 / 1e6,
        processes=len(tree),
        problems=[str(problem) for problem in heartbeat.get("problems") or []],
        played=heartbeat.get("last_play") is not None,
    )


def idle_rows(figures: IdleFigures, seconds: float) -> list[Row]:
    tree = "1 process" if figures.processes == 1 else f"{figures.processes} processes"
    cpu = f"{figures.cpu_percent:.2f} % of one core over {seconds:g} s ({tree})"
    memory = f"VmRSS {figures.rss_mb:.1f} MB, peak VmHWM {figures.hwm_mb:.1f} MB"
    rows = [
        Row("idle agent CPU", cpu, f"≤ {TARGET_CPU_PERCENT:g} % of one core",
            figures.cpu_percent <= TARGET_CPU_PERCENT),
        Row("idle agent memory", memory, f"peak ≤ {TARGET_RSS_MB:g} MB",
            figures.hwm_mb <= TARGET_RSS_MB),
    ]  # fmt: skip
    if figures.problems or figures.played:
        state = f"played: {figures.played}; heartbeat problems: {figures.problems}"
        rows.append(Row("idle agent state", state, "idle, no problems", False))
    return rows


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(stat_fields(int(entry.name))[1])
            except OSError:
                continue  # gone since the listing
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def tree_ticks(pid: int) -> int:
    """utime + stime of the live tree, plus the children that ``pid`` has reaped."""
    total = 0
    for each in process_tree(pid):
        fields = stat_fields(each)
        total += int(fields[11]) + int(fields[12])
    root = stat_fields(pid)
    return total + int(root[13]) + int(root[14])


def stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: state, ppid, …, utime is [11]."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0  # a kernel thread or a zombie


# -- 200 agents ------------------------------------------------------------------------


def measure_fleet(bench: Bench, agents: int, seconds: float) -> list[Row]:
    communes = [f"xa-{number:05d}" for number in range(agents)]
    ref = upload_tones(bench, 1)[0]
    item = tone_item(ref, "bulletin", datetime.now(UTC) + timedelta(hours=1))
    print(f"fleet: publishing to {agents} communes…", file=sys.stderr)
    publish(bench, {commune: [item] for commune in communes})
    reader = bench.open()
    etags = {commune: reader.head(manifest_key(commune)).etag for commune in communes}  # type: ignore[union-attr]
    print(f"fleet: {agents} agents polling every 5 s for {seconds:g} s…", file=sys.stderr)
    cadence = poll(bench.store, etags, PROCESSES, seconds, 5.0, bench.weed_pid)
    print(f"fleet: {agents} agents polling back to back for {BURST_S:g} s…", file=sys.stderr)
    burst = poll(bench.store, etags, PROCESSES, BURST_S, 0.0, bench.weed_pid)
    expected = f"≈ {agents / 5:g} 304/s expected"
    return [
        fleet_row(cadence, f"{agents} agents every 5 s", expected),
        fleet_row(burst, f"{agents} agents back to back", ""),
    ]


def fleet_row(result: dict[str, float], target: str, goal: str) -> Row:
    measured = (
        f"{result['not_modified_per_s']} 304/s, {result['changed']} changed, "
        f"{result['errors']} errors; SeaweedFS {result['storage_cpu_percent_of_one_core']} % "
        "of one core"
    )
    ok = None if not result["changed"] and not result["errors"] else False
    return Row(target, measured, goal, ok)


# -- main ------------------------------------------------------------------------------


STAGES = ("accuracy", "idle", "fleet")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=STAGES, help="run one measurement")
    parser.add_argument("--items", type=int, default=50, help="items played for accuracy")
    parser.add_argument("--idle-seconds", type=float, default=120.0, help="idle agent window")
    parser.add_argument("--agents", type=int, default=200, help="simulated agents for fleet")
    parser.add_argument("--fleet-seconds", type=float, default=30.0, help="the 5 s cadence window")
    args = parser.parse_args()
    stages = [args.only] if args.only else list(STAGES)
    scrub_environment()

    with tempfile.TemporaryDirectory(prefix="loa-bench-playout-") as temporary:
        work = Path(temporary)
        config = write_config(work)
        settings = load_settings(config)
        keys = DistrictKeys(settings.key_dir)
        keys.init()
        print("starting the embedded SeaweedFS…", file=sys.stderr)
        with EmbeddedSeaweed(settings, stop_grace_s=1.0) as seaweed:
            access_key, secret_key = storage_credentials(settings)
            store = Store(seaweed.endpoint, settings.storage.bucket, access_key, secret_key)
            bench = Bench(work, config, settings, store, keys, seaweed.status().pid or 0)
            rows = run_stages(bench, stages, args)
    print_table(rows)
    return 0 if all(row.ok is not False for row in rows) else 1


def run_stages(bench: Bench, stages: list[str], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    if "accuracy" in stages:
        rows += measure_accuracy(bench, args.items)
    if "idle" in stages:
        rows += measure_idle(bench, args.idle_seconds)
    if "fleet" in stages:
        rows += measure_fleet(bench, args.agents, args.fleet_seconds)
    return rows


def print_table(rows: list[Row]) -> None:
    table = [(row.target, row.measured, row.goal, row.verdict) for row in rows]
    table.insert(0, ("target", "measured", "goal", "verdict"))
    widths = [max(len(cells[column]) for cells in table) for column in range(4)]
    for cells in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        print(line.rstrip())
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
