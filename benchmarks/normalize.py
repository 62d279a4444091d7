"""How long `loa audio process` takes next to a bare ffmpeg encode and ffmpeg-normalize.

On one long speech WAV (see ``_speech.py``; 12 minutes by default) three commands run side
by side in this one process, each ``--repeats`` times, in rotating order (round r starts
with command r mod 3, so each command takes each position in turn):

  bare              ffmpeg -y -i IN -ac 1 -ar 48000 -b:a 64k OUT.mp3
  loa               .venv/bin/loa audio process IN OUT.mp3 --json
  ffmpeg-normalize  .venv/bin/ffmpeg-normalize IN -o OUT.mp3 -f -nt ebu -t -16 -tp -1.5
                        -ar 48000 -c:a libmp3lame -b:a 64k

The median wall times give two ratios with targets: loa / bare <= 1.25 (levelling costs
little more than the encode it has to do anyway) and ffmpeg-normalize / loa >= 3. Each
output MP3 is then decoded and metered by ffmpeg's ``ebur128=peak=true``, a meter
independent of Loa's, against -16 +/- 0.5 LUFS and <= -1.5 dBTP.

Exit status 1 if a ratio misses its target, if loa's output misses the loudness target, or
if loa fails; 0 otherwise.

    .venv/bin/python benchmarks/normalize.py [--minutes 12] [--repeats 3] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _speech import REPO, Loudness, SpeechFile, default_work_dir, measure_ebur128, speech_wav

VENV_BIN = REPO / ".venv" / "bin"
LOA = VENV_BIN / "loa"
FFMPEG_NORMALIZE = VENV_BIN / "ffmpeg-normalize"

TARGET_LUFS, LUFS_TOLERANCE, MAX_TRUE_PEAK = -16.0, 0.5, -1.5
MAX_LOA_OVER_BARE = 1.25
MIN_NORMALIZE_OVER_LOA = 3.0


def bare_command(source: Path, output: Path) -> list[str]:
    return [
        "ffmpeg", "-y", "-i", str(source),
        "-ac", "1", "-ar", "48000", "-b:a", "64k", str(output),
    ]  # fmt: skip


def loa_command(source: Path, output: Path) -> list[str]:
    return [str(LOA), "audio", "process", str(source), str(output), "--json"]


def ffmpeg_normalize_command(source: Path, output: Path) -> list[str]:
    return [
        str(FFMPEG_NORMALIZE), str(source), "-o", str(output), "-f",
        "-nt", "ebu", "-t", "-16", "-tp", "-1.5",
        "-ar", "48000", "-c:a", "libmp3lame", "-b:a", "64k",
    ]  # fmt: skip


@dataclass
class Contender:
    name: str
    build: Callable[[Path, Path], list[str]]
    output: Path
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)  # user + system, whole tree
    error: str | None = None
    stdout: str = ""

    def command(self, source: Path) -> list[str]:
        return self.build(source, self.output)

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None

    @property
    def median_cpu(self) -> float | None:
        return statistics.median(self.cpu_times) if self.cpu_times else None


@dataclass(frozen=True)
class OutputCheck:
    loudness: Loudness | None
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    error: str | None = None

    @property
    def within_target(self) -> bool:
        return (
            self.loudness is not None
            and abs(self.loudness.lufs - TARGET_LUFS) <= LUFS_TOLERANCE
            and self.loudness.true_peak_dbtp <= MAX_TRUE_PEAK
        )


def loa_audio_available() -> str | None:
    """None if ``loa audio process`` exists, else why not."""
    if not LOA.exists():
        return f"{LOA} does not exist"
    helped = subprocess.run(
        [str(LOA), "audio", "process", "--help"], capture_output=True, text=True, check=False
    )
    if helped.returncode != 0:
        last = (helped.stderr or helped.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"`loa audio process --help` exits {helped.returncode}: {last[0]}"
    return None


def run_once(contender: Contender, source: Path) -> None:
    contender.output.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(contender.command(source), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        contender.error = f"exit {result.returncode}: {tail}"
        return
    if not contender.output.is_file():
        contender.error = f"exit 0 but {contender.output} was not written"
        return
    contender.times.append(elapsed)
    contender.cpu_times.append(cpu)
    contender.stdout = result.stdout


def probe(path: Path) -> tuple[float | None, int | None, int | None]:
    command = [
        "ffprobe", "-v", "error", "-select_streams", "a:0",
        "-show_entries", "stream=sample_rate,channels:format=duration", "-of", "json", str(path),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None, None, None
    info = json.loads(result.stdout)
    stream = (info.get("streams") or [{}])[0]
    duration = info.get("format", {}).get("duration")
    return (
        float(duration) if duration is not None else None,
        int(stream["sample_rate"]) if "sample_rate" in stream else None,
        int(stream["channels"]) if "channels" in stream else None,
    )


def check_output(contender: Contender) -> OutputCheck | None:
    if contender.error is not None or not contender.output.is_file():
        return None
    duration, rate, channels = probe(contender.output)
    try:
        loudness: Loudness | None = measure_ebur128(contender.output)
    except RuntimeError as error:
        return OutputCheck(None, duration, rate, channels, error=str(error))
    return OutputCheck(loudness, duration, rate, channels)


def loa_report(contender: Contender) -> tuple[dict[str, Any] | None, str | None]:
    """loa's own JSON (last run) and any problem with it against the CLI contract."""
    if contender.error is not None or not contender.times:
        return None, None
    try:
        report = json.loads(contender.stdout)
    except json.JSONDecodeError as error:
        return None, f"stdout is not one JSON object ({error}): {contender.stdout[:200]!r}"
    if not isinstance(report, dict):
        return None, f"stdout JSON is not an object: {contender.stdout[:200]!r}"
    keys = {"lufs", "true_peak_dbtp", "lra", "duration_s", "sample_rate", "channels"}
    problems = [
        f"{part!r} lacks {sorted(keys - set(report.get(part) or {}))}"
        for part in ("input", "output")
        if not keys <= set(report.get(part) or {})
    ]
    if "profile" not in report:
        problems.append("no 'profile'")
    return report, "; ".join(problems) or None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=12, help="speech input length")
    parser.add_argument("--repeats", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--work", type=Path, default=default_work_dir(), help="cache/outputs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    speech: SpeechFile = speech_wav(args.minutes, args.work, log=not args.json)
    outputs = args.work / "normalize-out"
    outputs.mkdir(parents=True, exist_ok=True)
    contenders = [
        Contender("bare", bare_command, outputs / "bare.mp3"),
        Contender("loa", loa_command, outputs / "loa.mp3"),
        Contender("ffmpeg-normalize", ffmpeg_normalize_command, outputs / "ffmpeg-normalize.mp3"),
    ]
    loa = contenders[1]
    loa.error = loa_audio_available()

    load_before = os.getloadavg()[0]
    for round_ in range(args.repeats):
        shift = round_ % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            if contender.error is None:
                if not args.json:
                    print(f"  round {round_ + 1}: {contender.name} ...", file=sys.stderr)
                run_once(contender, speech.path)

    load_after = os.getloadavg()[0]
    checks = {c.name: check_output(c) for c in contenders}
    report, report_problem = loa_report(loa)
    bare_s, loa_s, norm_s = (c.median for c in contenders)
    loa_over_bare = loa_s / bare_s if loa_s and bare_s else None
    norm_over_loa = norm_s / loa_s if norm_s and loa_s else None
    loa_check = checks["loa"]
    passes = {
        "loa_over_bare": loa_over_bare is not None and loa_over_bare <= MAX_LOA_OVER_BARE,
        "ffmpeg_normalize_over_loa": norm_over_loa is not None
        and norm_over_loa >= MIN_NORMALIZE_OVER_LOA,
        "loa_loudness": loa_check is not None and loa_check.within_target,
    }
    failed = not all(passes.values())

    if args.json:
        print(
            json.dumps(
                {
                    "input": {
                        "path": str(speech.path),
                        "minutes": speech.minutes,
                        "lufs": speech.loudness.lufs,
                        "true_peak_dbtp": speech.loudness.true_peak_dbtp,
                        "lra": speech.loudness.lra,
                    },
                    "repeats": args.repeats,
                    "cpus": os.cpu_count(),
                    "load_average_1min": {"before": load_before, "after": load_after},
                    "note": "ratios come from one run, commands side by side in rotating order",
                    "commands": {
                        c.name: {
                            "argv": c.command(speech.path),
                            "times_s": c.times,
                            "cpu_times_s": c.cpu_times,
                            "median_s": c.median,
                            "error": c.error,
                            "output": _check_json(checks[c.name]),
                        }
                        for c in contenders
                    },
                    "loa_report": report,
                    "loa_report_problem": report_problem,
                    "ratios": {
                        "loa_over_bare": loa_over_bare,
                        "ffmpeg_normalize_over_loa": norm_over_loa,
                    },
                    "pass": passes,
                },
                indent=2,
            )
        )
        return 1 if failed else 0

    loudness = speech.loudness
    print(
        f"Input: {speech.path} ({speech.minutes} min speech, 44.1 kHz stereo, "
        f"{loudness.lufs:.1f} LUFS, {loudness.true_peak_dbtp:.1f} dBTP, LRA {loudness.lra:.1f} LU)"
    )
    print(
        f"{args.repeats} runs per command on {os.cpu_count()} CPUs. The ratios come from this "
        "one run, the commands side by side in rotating order; absolute times vary by machine."
    )
    print(f"1-minute load average: {load_before:.2f} before the runs, {load_after:.2f} after.")
    print()
    print(f"{'command':<18} {'median s':>9} {'cpu s':>7}  wall time of each run (s)")
    for c in contenders:
        runs = " ".join(f"{t:.2f}" for t in c.times)
        print(f"{c.name:<18} {fmt(c.median):>9} {fmt(c.median_cpu):>7}  {runs}")
        print(f"{'':<28}  $ {' '.join(c.command(speech.path))}")
        if c.error is not None:
            print(f"{'':<28}  error: {c.error}")
    print("(cpu s: median user + system time of the command and its children, for information)")
    print()
    print(
        f"loa / bare              {fmt(loa_over_bare):>6}  target <= {MAX_LOA_OVER_BARE:<4}  "
        f"{verdict(passes['loa_over_bare'])}"
    )
    print(
        f"ffmpeg-normalize / loa  {fmt(norm_over_loa):>6}  target >= {MIN_NORMALIZE_OVER_LOA:<4}  "
        f"{verdict(passes['ffmpeg_normalize_over_loa'])}"
    )
    print()
    print(
        "Outputs, decoded and metered by ffmpeg ebur128=peak=true "
        f"(target {TARGET_LUFS:.0f} +/- {LUFS_TOLERANCE} LUFS, <= {MAX_TRUE_PEAK} dBTP):"
    )
    print(f"{'output':<18} {'I LUFS':>7} {'TP dBTP':>8} {'LRA':>5} {'dur s':>8} {'Hz':>6} ch  ok")
    for c in contenders:
        check = checks[c.name]
        if check is None:
            print(f"{c.name:<18} (no output)")
            continue
        lufs, peak, lra = _levels(check)
        within = "yes" if check.within_target else "no"
        if c.name == "loa":
            within += f"  {verdict(check.within_target)}"
        elif c.name == "bare":
            within += "  (reference: not normalized)"
        print(
            f"{c.name:<18} {fmt(lufs, '.1f'):>7} {fmt(peak, '.1f'):>8} {fmt(lra, '.1f'):>5} "
            f"{fmt(check.duration_s):>8} {check.sample_rate or 'n/a':>6} "
            f"{check.channels or 'n/a':>2}  {within}"
        )
        if check.error:
            print(f"{'':<18} error: {check.error}")
    if report is not None:
        out = report.get("output") or {}
        print(
            f"loa's own report on its output: {out.get('lufs')} LUFS, "
            f"{out.get('true_peak_dbtp')} dBTP, LRA {out.get('lra')}, "
            f"{out.get('duration_s')} s, {out.get('sample_rate')} Hz, "
            f"{out.get('channels')} ch (profile {report.get('profile')})"
        )
    if report_problem:
        print(f"loa's --json output breaks the CLI contract: {report_problem}")
    print()
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


def _levels(check: OutputCheck) -> tuple[float | None, float | None, float | None]:
    level = check.loudness
    if level is None:
        return None, None, None
    return level.lufs, level.true_peak_dbtp, level.lra


def _check_json(check: OutputCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    lufs, peak, lra = _levels(check)
    return {
        "lufs": lufs,
        "true_peak_dbtp": peak,
        "lra": lra,
        "duration_s": check.duration_s,
        "sample_rate": check.sample_rate,
        "channels": check.channels,
        "within_target": check.within_target,
        "error": check.error,
    }


if __name__ == "__main__":
    sys.exit(main())
