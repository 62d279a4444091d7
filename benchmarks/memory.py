"""Peak memory of `loa audio process` on a long (60-minute) speech file.

Runs ``/usr/bin/time -v -o REPORT .venv/bin/loa audio process IN OUT.mp3`` on the speech
WAV of ``_speech.py`` and reports two figures against the 300 MB target (MB = 10^6 bytes):

* GNU time's "Maximum resident set size": the peak RSS of the largest *single* process in
  the tree (Linux's ru_maxrss is a maximum over loa and its waited-for children, not a sum);
* the peak of the *summed PSS* of the whole process tree under /usr/bin/time (loa and its
  ffmpeg children), sampled from /proc every 50 ms: each shared page (ffmpeg's libraries,
  ~40 MB in every ffmpeg) is divided among the processes that map it, so the sum is what
  the tree really holds. Short-lived children can fall between samples. The peak of the
  summed RSS, which counts every shared library once per process, is shown for
  information.

If /usr/bin/time is missing, the sampled figure is still reported (Debian: apt-get install
time). Exit status 1 if a figure misses the target or loa fails, 0 otherwise.

    .venv/bin/python benchmarks/memory.py [--minutes 60] [--work DIR] [--interval 0.05] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _speech import REPO, default_work_dir, measure_ebur128, speech_wav

LOA = REPO / ".venv" / "bin" / "loa"
GNU_TIME = Path("/usr/bin/time")
LIMIT_BYTES = 300 * 10**6


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str
    rss_bytes: int
    anon_bytes: int  # RssAnon: heap and stacks, no mapped files or shared libraries


@dataclass
class TreePeak:
    """The sampled peak of the tree's summed RSS and what made it up."""

    rss_bytes: int = 0
    anon_bytes: int = 0
    pss_bytes: int | None = None
    pss_missing: int = 0  # processes that exited before their PSS was read
    at_s: float = 0.0
    processes: list[Proc] = field(default_factory=list)
    peak_pss_bytes: int = 0  # the largest summed PSS seen in any sample
    peak_pss_at_s: float = 0.0
    samples: int = 0
    largest_single: Proc | None = None
    largest_single_at_s: float = 0.0
    seen: dict[int, str] = field(default_factory=dict)


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _descendants(root: int) -> list[int]:
    children = _children_map()
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += children.get(pid, [])
    return found


def _status(pid: int) -> Proc | None:
    """Name and resident memory of a live process, None if it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as status:
            text = status.read()
    except OSError:
        return None
    name = re.search(r"^Name:\s*(.*)$", text, re.MULTILINE)
    rss = re.search(r"^VmRSS:\s*(\d+) kB", text, re.MULTILINE)
    anon = re.search(r"^RssAnon:\s*(\d+) kB", text, re.MULTILINE)
    if name is None or rss is None or anon is None:  # a zombie has no VmRSS
        return None
    return Proc(pid, name.group(1), int(rss.group(1)) * 1024, int(anon.group(1)) * 1024)


def _pss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            found = re.search(r"^Pss:\s*(\d+) kB", rollup.read(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def sample_tree(
    process: subprocess.Popen[bytes], *, include_root: bool, interval: float
) -> TreePeak:
    """Sample the summed RSS of ``process``'s descendants (and of ``process`` itself if
    ``include_root``; not when it is the /usr/bin/time wrapper) until it exits."""
    peak = TreePeak()
    root = process.pid
    started = time.monotonic()
    next_at = started
    while process.poll() is None:
        pids = ([root] if include_root else []) + _descendants(root)
        live = [proc for pid in pids if (proc := _status(pid)) is not None]
        total = sum(proc.rss_bytes for proc in live)
        now = time.monotonic() - started
        peak.samples += 1
        for proc in live:
            peak.seen.setdefault(proc.pid, proc.name)
            if peak.largest_single is None or proc.rss_bytes > peak.largest_single.rss_bytes:
                peak.largest_single, peak.largest_single_at_s = proc, now
        pss = [_pss(proc.pid) for proc in live]
        summed_pss = sum(p for p in pss if p is not None)
        if summed_pss > peak.peak_pss_bytes:
            peak.peak_pss_bytes, peak.peak_pss_at_s = summed_pss, now
        if total > peak.rss_bytes:
            peak.rss_bytes = total
            peak.anon_bytes = sum(proc.anon_bytes for proc in live)
            peak.pss_bytes = summed_pss
            peak.pss_missing = pss.count(None)
            peak.at_s = now
            peak.processes = live
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return peak


def parse_gnu_time(report: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in report.splitlines():
        key, sep, value = line.strip().rpartition(": ")
        if sep:
            fields[key] = value
    return fields


def mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 10**6:.1f} MB"


def verdict(value: int | None) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value < LIMIT_BYTES else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=60, help="speech input length")
    parser.add_argument("--work", type=Path, default=default_work_dir(), help="cache/outputs")
    parser.add_argument("--interval", type=float, default=0.05, help="sampling period, s")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    speech = speech_wav(args.minutes, args.work, log=not args.json)
    output = args.work / "memory-out" / "loa.mp3"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    time_report = args.work / "memory-out" / "time-v.txt"
    time_report.unlink(missing_ok=True)

    loa_argv = [str(LOA), "audio", "process", str(speech.path), str(output)]
    have_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    argv = [str(GNU_TIME), "-v", "-o", str(time_report), *loa_argv] if have_time else loa_argv
    if not args.json:
        print(f"$ {' '.join(argv)}", file=sys.stderr)
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = sample_tree(process, include_root=not have_time, interval=args.interval)
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - started

    loa_exit = process.returncode
    gnu: dict[str, str] = {}
    if have_time and time_report.is_file():
        gnu = parse_gnu_time(time_report.read_text(errors="replace"))
        status = gnu.get("Exit status")
        loa_exit = int(status) if status and status.lstrip("-").isdigit() else loa_exit
    max_rss_kib = gnu.get("Maximum resident set size (kbytes)")
    time_bytes = int(max_rss_kib) * 1024 if max_rss_kib and max_rss_kib.isdigit() else None

    loudness: dict[str, Any] | None = None
    if loa_exit == 0 and output.is_file():
        try:
            loudness = asdict(measure_ebur128(output))
        except RuntimeError as error:
            loudness = {"error": str(error)}
    loa_error = (
        None
        if loa_exit == 0
        else f"exit {loa_exit}: "
        + "\n".join(stderr.decode(errors="replace").strip().splitlines()[-8:])
    )
    failed = (
        loa_error is not None
        or peak.samples == 0
        or verdict(peak.peak_pss_bytes) != "PASS"
        or (have_time and verdict(time_bytes) != "PASS")
    )

    if args.json:
        print(
            json.dumps(
                {
                    "input": {"path": str(speech.path), "minutes": speech.minutes},
                    "command": argv,
                    "loa_exit": loa_exit,
                    "loa_error": loa_error,
                    "elapsed_s": elapsed,
                    "gnu_time_available": have_time,
                    "gnu_time_max_rss_bytes": time_bytes,
                    "tree_peak_pss_bytes_max": peak.peak_pss_bytes,
                    "tree_peak_pss_at_s_max": peak.peak_pss_at_s,
                    "tree_peak_rss_bytes": peak.rss_bytes,
                    "tree_peak_anon_bytes": peak.anon_bytes,
                    "tree_peak_pss_bytes": peak.pss_bytes,
                    "tree_peak_pss_missing_processes": peak.pss_missing,
                    "tree_peak_at_s": peak.at_s,
                    "tree_peak_processes": [asdict(proc) for proc in peak.processes],
                    "largest_single_sampled": peak.largest_single and asdict(peak.largest_single),
                    "largest_single_sampled_at_s": peak.largest_single_at_s,
                    "samples": peak.samples,
                    "processes_seen": sorted(set(peak.seen.values())),
                    "limit_bytes": LIMIT_BYTES,
                    "output_loudness": loudness,
                    "loa_stdout": stdout.decode(errors="replace")[:2000],
                    "pass": not failed,
                },
                indent=2,
            )
        )
        return 1 if failed else 0

    print(f"Input: {speech.path} ({speech.minutes} min speech, 44.1 kHz stereo 16-bit WAV)")
    print(f"loa audio process: exit {loa_exit}, {elapsed:.1f} s wall")
    if loa_error:
        print(f"  error: {loa_error}")
    print(f"Target: under {LIMIT_BYTES / 10**6:.0f} MB (MB = 10^6 bytes)")
    print()
    if have_time:
        print(
            f"/usr/bin/time -v maximum resident set size (largest single process): "
            f"{mb(time_bytes)}  ({max_rss_kib} KiB)  {verdict(time_bytes)}"
        )
    else:
        print(
            "/usr/bin/time -v: not available (/usr/bin/time is missing; on Debian: "
            "apt-get install time). Only the sampled figure below is reported."
        )
    print(
        f"Sampled peak of the whole tree's summed PSS (every {args.interval * 1000:.0f} ms, "
        f"{peak.samples} samples): {mb(peak.peak_pss_bytes)} at {peak.peak_pss_at_s:.1f} s  "
        f"{verdict(peak.peak_pss_bytes)}"
    )
    print(
        f"Sampled peak of the tree's summed RSS (shared libraries counted per process; "
        f"for information): {mb(peak.rss_bytes)}"
    )
    if peak.processes:
        parts = ", ".join(f"{proc.name} {mb(proc.rss_bytes)}" for proc in peak.processes)
        print(f"  at {peak.at_s:.1f} s: {parts}")
        print(
            f"  (at that instant: summed PSS {mb(peak.pss_bytes)}"
            + (f" without {peak.pss_missing} exited" if peak.pss_missing else "")
            + f", summed RssAnon {mb(peak.anon_bytes)})"
        )
    if peak.largest_single is not None:
        single = peak.largest_single
        print(
            f"  largest single process sampled: {single.name} {mb(single.rss_bytes)} "
            f"(RssAnon {mb(single.anon_bytes)}) at {peak.largest_single_at_s:.1f} s"
        )
    print(f"  processes seen: {', '.join(sorted(set(peak.seen.values()))) or 'none'}")
    if loudness is not None:
        print(f"Output {output}: {loudness} (ffmpeg ebur128, for information)")
    print()
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
