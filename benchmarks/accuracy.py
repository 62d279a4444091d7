"""Accuracy of Loa's loudness meter on the EBU test signals, beside ffmpeg's ``ebur128``.

Generates every case of ``tests/signals.py`` (EBU Tech 3341 cases 1-5 and 15-23, Tech
3342 cases 1-4) into a temporary directory, measures each with ``pipeline.measure`` and
with ffmpeg's ``ebur128=peak=true`` filter (an independent meter), and prints one row per
case. Exits 1 if any of Loa's readings is outside its case's tolerance; ffmpeg's readings
are shown for comparison only ("ok"/"out" against the same tolerance).

    .venv/bin/python benchmarks/accuracy.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import LoudnessReport, measure  # noqa: E402
from tests.signals import CASES, Case, ffmpeg_ebur128  # noqa: E402

UNITS = {"I": "LUFS", "TP": "dBTP", "LRA": "LU"}


def loa_reading(report: LoudnessReport, case: Case) -> float:
    return {"I": report.lufs, "TP": report.true_peak_dbtp, "LRA": report.lra}[case.metric]


def run(directory: Path) -> int:
    header = (
        f"{'case':<8} {'metric':<6} {'expected':>9} {'Loa':>8} {'ffmpeg':>8} "
        f"{'tolerance':>10}  {'Loa':<4}  {'ffmpeg':<6}  signal"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    for case in CASES:
        path = case.build(directory / case.file_name)
        ours = loa_reading(measure(path), case)
        theirs = ffmpeg_ebur128(path).reading(case.metric) + 0.0  # no "-0.0"
        passed = case.accepts(ours)
        failures += not passed
        print(
            f"{case.name:<8} {case.metric:<6} {case.expected:>9.2f} {ours:>8.2f} "
            f"{theirs:>8.1f} {case.tolerance:>10}  {'PASS' if passed else 'FAIL':<4}  "
            f"{'ok' if case.accepts(theirs) else 'out':<6}  {case.description} "
            f"[{UNITS[case.metric]}]"
        )
    print("-" * len(header))
    print(f"{len(CASES) - failures}/{len(CASES)} cases within tolerance for Loa")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the signals here and keep them")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.keep)
    with tempfile.TemporaryDirectory(prefix="loa-accuracy-") as work:
        return run(Path(work))


if __name__ == "__main__":
    sys.exit(main())
