"""Fan-out and polling on the embedded SeaweedFS, measured side by side in one run.

* Fan-out: one new 3-minute bulletin (a real clip from the audio engine) published to
  1,000 and then 10,000 communes with ``playout.Publisher`` (one GET and one PUT per
  commune, ``--parallel`` at a time). The clock stops when a listing shows every
  commune's ``manifest.json``. Printed: audio bytes uploaded against the clip's size
  (it must go up once), seconds, manifests per second, and the ratio to the floor: a
  bare boto3 loop of 1,000 small PUTs (one thread, one client), timed in the same run.
* Polling: ``--agents`` simulated agents, each with its own S3 client, ask for their
  commune's unchanged manifest with ``If-None-Match`` through the agent's own code
  (``S3ObjectStore.get_if_changed``), back to back for ``--seconds``. Printed: 304s per
  second, and the SeaweedFS process's CPU over the same window. Agents run as threads
  in ``--processes`` processes, so the client side is not held to one core by the GIL.
  Then the same agents at the real cadence (a poll every 5 s, jittered): the storage CPU
  that 200 idle agents cost.

    .venv/bin/python benchmarks/distribution.py [--communes 1000,10000] [--agents 200]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.synchronize
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config import AudioProfile, Settings, load_settings  # noqa: E402
from pipeline import Clip, process_file  # noqa: E402
from playout import (  # noqa: E402
    DistrictKeys,
    EmbeddedSeaweed,
    ManifestItem,
    Publisher,
    PublishReport,
    S3ObjectStore,
    manifest_key,
    storage_credentials,
)
from playout._objectstore import _client_config  # noqa: E402
from tests.conftest import free_port_block  # noqa: E402
from tests.manifests import make_tone  # noqa: E402

FLOOR_PUTS = 1000
MANIFEST_LIKE_BYTES = 1500
_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Store:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str

    def open(self, **options: int | float) -> S3ObjectStore:
        return S3ObjectStore(
            self.endpoint, "us-east-1", self.bucket, self.access_key, self.secret_key, **options
        )


def bulletin_clip(work: Path) -> Clip:
    source = work / "bulletin-3min.mp3"
    make_tone(source, 330, seconds=180.0)
    return process_file(source, profile=AudioProfile(), out_dir=work / "clips")


def bulletin_item(ref: object) -> ManifestItem:
    start = datetime.now(UTC) + timedelta(hours=1)
    return ManifestItem.model_validate(
        {
            "id": "bulletin-2026-11-23-morning-vi",
            "title": "Bản tin sáng 23/11",
            "kind": "bulletin",
            "priority": "normal",
            "language": "vi",
            "start": start,
            "not_after": start + timedelta(minutes=60),
            "audio": ref,
        }
    )


def floor_loop(store: Store) -> float:
    """Seconds for a bare boto3 loop of 1,000 small PUTs: one client, one thread."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=store.endpoint,
        region_name="us-east-1",
        aws_access_key_id=store.access_key,
        aws_secret_access_key=store.secret_key,
        config=_client_config(1, 5.0, 30.0, 10),
    )
    body = os.urandom(MANIFEST_LIKE_BYTES)
    started = time.perf_counter()
    for number in range(FLOOR_PUTS):
        client.put_object(Bucket=store.bucket, Key=f"floor/{number}.json", Body=body)
    return time.perf_counter() - started


def fan_out(
    store: Store, keys: DistrictKeys, clip: Clip, count: int, parallel: int
) -> dict[str, float]:
    bucket = f"{store.bucket}-{count}"
    own = Store(store.endpoint, bucket, store.access_key, store.secret_key)
    client = own.open(max_connections=parallel)
    client.ensure_bucket()
    publisher = Publisher(client, keys, "muong-te", validity=timedelta(hours=48), parallel=parallel)
    communes = [f"xa-{number:05d}" for number in range(count)]
    report = PublishReport()
    started = time.perf_counter()
    ref = publisher.upload_clips([clip], report)[clip.sha256]
    item = bulletin_item(ref)
    publisher.publish({commune: [item] for commune in communes}, report)
    published = time.perf_counter() - started
    visible = sum(1 for info in client.list("communes/") if info.key.endswith("/manifest.json"))
    seconds = time.perf_counter() - started
    if visible != count or report.failed:
        raise SystemExit(
            f"fan-out {count}: {visible} manifests visible, {len(report.failed)} failed"
        )
    return {
        "communes": count,
        "seconds": round(seconds, 2),
        "publish_seconds": round(published, 2),
        "manifests_per_s": round(count / seconds, 1),
        "audio_bytes_uploaded": report.uploaded_bytes,
        "clip_bytes": clip.bytes,
    }


# -- polling ---------------------------------------------------------------------------


def _poll_worker(
    store: Store,
    communes: list[str],
    etags: dict[str, str],
    window: tuple[float, float],
    gates: tuple[multiprocessing.synchronize.Event, multiprocessing.Queue],  # type: ignore[type-arg]
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Build every agent's client first, say so, wait for the start, then poll."""
    seconds, interval_s = window
    go, ready = gates
    clients = {commune: store.open(max_attempts=1, max_connections=1) for commune in communes}
    ready.put(len(clients))
    go.wait()
    stop_at = time.monotonic() + seconds
    counts = {"304": 0, "200": 0, "error": 0}
    lock = threading.Lock()

    def agent(commune: str) -> None:
        client, key = clients[commune], manifest_key(commune)
        mine = {"304": 0, "200": 0, "error": 0}
        next_poll = time.monotonic() + random.uniform(0, interval_s)
        while (now := time.monotonic()) < stop_at:
            if interval_s and now < next_poll:
                time.sleep(min(next_poll - now, stop_at - now))
                continue
            try:
                changed = client.get_if_changed(key, etags[commune], max_bytes=1 << 22)
                mine["304" if changed is None else "200"] += 1
            except Exception:
                mine["error"] += 1
            next_poll += interval_s * random.uniform(0.9, 1.1)
        with lock:
            for name, value in mine.items():
                counts[name] += value

    threads = [threading.Thread(target=agent, args=(commune,)) for commune in communes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(counts)


def poll(store: Store, etags: dict[str, str], processes: int, seconds: float, interval_s: float,
         weed_pid: int) -> dict[str, float]:  # fmt: skip
    communes = sorted(etags)
    shares = [communes[index::processes] for index in range(processes)]
    go = multiprocessing.Event()
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(
            target=_poll_worker,
            args=(store, share, etags, (seconds, interval_s), (go, ready), results),
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get()  # every client built before the window opens
    cpu_before, wall_before = _cpu_seconds(weed_pid), time.monotonic()
    go.set()
    totals = {"304": 0, "200": 0, "error": 0}
    for _ in workers:
        for name, value in results.get().items():
            totals[name] += value
    cpu = _cpu_seconds(weed_pid) - cpu_before
    wall = time.monotonic() - wall_before
    for worker in workers:
        worker.join()
    return {
        "agents": len(communes),
        "interval_s": interval_s,
        "not_modified_per_s": round(totals["304"] / wall, 1),
        "changed": totals["200"],
        "errors": totals["error"],
        "storage_cpu_percent_of_one_core": round(100 * cpu / wall, 1),
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _HZ


# -- main ------------------------------------------------------------------------------


def settings_for(work: Path) -> Settings:
    data = load_settings(REPO / "config" / "examples" / "muong-te.yaml").model_dump()
    data["data_dir"] = work / "var"
    data["storage"]["embedded"]["port"] = free_port_block(8)
    return Settings(**data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--communes", default="1000,10000", help="fan-out sizes, comma-separated")
    parser.add_argument("--parallel", type=int, default=16, help="publisher's requests in flight")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4, help="processes the agents run in")
    parser.add_argument("--seconds", type=float, default=10.0, help="each polling window")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="the 5 s cadence window")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.communes.split(",") if size]

    with tempfile.TemporaryDirectory(prefix="loa-bench-distribution-") as temporary:
        work = Path(temporary)
        settings = settings_for(work)
        keys = DistrictKeys(settings.key_dir)
        keys.init()
        print("rendering a 3-minute bulletin…", file=sys.stderr)
        clip = bulletin_clip(work)
        with EmbeddedSeaweed(settings, stop_grace_s=1.0) as seaweed:
            access_key, secret_key = storage_credentials(settings)
            store = Store(seaweed.endpoint, settings.storage.bucket, access_key, secret_key)
            pid = seaweed.status().pid or 0
            results = run_all(store, keys, clip, sizes, args, pid)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0 if all(row["ok"] for row in results["fan_out"]) else 1


def run_all(store: Store, keys: DistrictKeys, clip: Clip, sizes: list[int],
            args: argparse.Namespace, weed_pid: int) -> dict[str, object]:  # fmt: skip
    print("floor: bare boto3 loop of 1,000 PUTs…", file=sys.stderr)
    floor_s = floor_loop(store)
    fan_outs = []
    for size in sizes:
        print(f"fan-out to {size} communes…", file=sys.stderr)
        row = fan_out(store, keys, clip, size, args.parallel)
        row["ratio_to_floor_per_1000"] = round(row["seconds"] / (size / FLOOR_PUTS) / floor_s, 2)
        row["target_s"] = size / 100
        row["ok"] = row["seconds"] <= row["target_s"] and row["audio_bytes_uploaded"] == clip.bytes
        fan_outs.append(row)
    polled_bucket = Store(store.endpoint, f"{store.bucket}-{sizes[0]}", store.access_key,
                          store.secret_key)  # fmt: skip
    reader = polled_bucket.open()
    communes = [f"xa-{number:05d}" for number in range(args.agents)]
    etags = {commune: reader.head(manifest_key(commune)).etag for commune in communes}  # type: ignore[union-attr]
    print(f"{args.agents} agents polling back to back…", file=sys.stderr)
    saturated = poll(polled_bucket, etags, args.processes, args.seconds, 0.0, weed_pid)
    print(f"{args.agents} agents polling every 5 s…", file=sys.stderr)
    idle = poll(polled_bucket, etags, args.processes, args.idle_seconds, 5.0, weed_pid)
    return {
        "floor_1000_puts_s": round(floor_s, 2),
        "floor_puts_per_s": round(FLOOR_PUTS / floor_s, 1),
        "fan_out": fan_outs,
        "polling": [saturated, idle],
        "load_average": os.getloadavg(),
    }


def print_table(results: dict[str, object]) -> None:
    print(f"floor: bare boto3 loop, 1,000 PUTs in {results['floor_1000_puts_s']} s "
          f"({results['floor_puts_per_s']} PUT/s)")  # fmt: skip
    print("\nfan-out of one 3-minute bulletin")
    print(f"{'communes':>9} {'seconds':>8} {'target':>7} {'manifests/s':>12} "
          f"{'× floor':>8} {'audio bytes up':>15} {'clip bytes':>11}  ok")  # fmt: skip
    for row in results["fan_out"]:  # type: ignore[attr-defined]
        print(f"{row['communes']:>9} {row['seconds']:>8} {row['target_s']:>7g} "
              f"{row['manifests_per_s']:>12} {row['ratio_to_floor_per_1000']:>8} "
              f"{row['audio_bytes_uploaded']:>15} {row['clip_bytes']:>11}  "
              f"{'yes' if row['ok'] else 'NO'}")  # fmt: skip
    print("\nconditional GET of an unchanged manifest (If-None-Match → 304)")
    for row in results["polling"]:  # type: ignore[attr-defined]
        cadence = "back to back" if not row["interval_s"] else f"every {row['interval_s']:g} s"
        print(f"{row['agents']} agents {cadence}: {row['not_modified_per_s']} 304/s, "
              f"{row['changed']} changed, {row['errors']} errors, "
              f"SeaweedFS CPU {row['storage_cpu_percent_of_one_core']} % of one core")  # fmt: skip
    print(f"\nload average after: {results['load_average']}")


if __name__ == "__main__":
    sys.exit(main())
