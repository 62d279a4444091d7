"""Synthesis time per minute of speech, for each TTS engine, measured side by side.

Each engine speaks through ``pipeline.tts.TextToSpeech`` with an empty cache, on the
Vietnamese sample texts (repeated to ``--kb`` kilobytes), ``--repeats`` times in rotating
order; the median wall time is divided by the minutes of speech produced (ffprobe):

* ``espeak``        espeak-ng, one run per sentence (cues for the transcript), two at a time;
* ``espeak-1-run``  the same text in one espeak-ng run, no cues: the floor for that engine;
* ``edge``          the real edge-tts client against tests/edge_service.py on loopback, in
                    tone mode (the server answers at once), so the figure is Loa's and
                    edge-tts's own cost: the real service's speed cannot be measured here;
* ``phrasebank``    a level-4 flash-flood alert assembled from the demo bank's stand-ins;
* ``cache hit``     the espeak request again, with the cache full;
* normalisation of the text on its own.

    .venv/bin/python benchmarks/tts.py [--kb 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _speech import REPO, SHARED_SAMPLES

from config import EdgeSettings, TTSSettings
from pipeline._media import probe_audio
from pipeline.tts import (
    EngineDirs,
    SpeechRequest,
    SynthesisCache,
    TextToSpeech,
    Utterance,
    build_demo_phrasebank,
)
from pipeline.tts._espeak import synthesize_espeak
from tests.edge_service import EdgeService

ALERT = Utterance(
    "alert",
    {"hazard": "flash-flood", "level": "4", "place": "ta-tong", "time": "19:00",
     "time.until": "07:00"},
)  # fmt: skip


def sample_text(kilobytes: int) -> str:
    shared = sorted(SHARED_SAMPLES.glob("*-vi.txt")) if SHARED_SAMPLES.is_dir() else []
    files = shared or [REPO / "app" / "samples" / "bulletin-demo-vi.txt"]
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in files)
    repeated = text
    while len(repeated.encode()) < kilobytes * 1000:
        repeated += "\n\n" + text
    return repeated


def speaker(work: Path, bank: Path, **tts: object) -> TextToSpeech:
    settings = TTSSettings(**{"chains": {"vi": ["espeak"], "hni": ["phrasebank"]}, **tts})
    cache = SynthesisCache(Path(tempfile.mkdtemp(dir=work)), 10**10)
    return TextToSpeech(settings, cache=cache, dirs=EngineDirs(bank), languages=["vi", "hni"])


def timed(action: Callable[[], Path]) -> tuple[float, float]:
    """Wall seconds of ``action`` and the minutes of speech in the file it returns."""
    started = time.perf_counter()
    path = action()
    wall = time.perf_counter() - started
    return wall, (probe_audio(path).duration_s or 0.0) / 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=int, default=8, help="kilobytes of Vietnamese text")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    text = sample_text(args.kb)
    with tempfile.TemporaryDirectory(prefix="loa-tts-bench-") as folder, EdgeService() as edge:
        work = Path(folder)
        edge.tone_s_per_char = 0.065  # about Vietnamese speaking speed
        bank = work / "bank"
        build_demo_phrasebank(bank, ["hni"])
        normaliser = speaker(work, bank)
        spoken = normaliser.normalize(text, "vi")
        edge_settings = EdgeSettings(service_url=edge.url)
        cases: dict[str, Callable[[], Path]] = {
            "espeak": lambda: speaker(work, bank).speak(SpeechRequest("vi", text)).speech.path,
            "espeak-1-run": lambda: one_run(spoken, work),
            "edge": lambda: (
                speaker(work, bank, chains={"vi": ["edge"]}, edge=edge_settings)
                .speak(SpeechRequest("vi", text))
                .speech.path
            ),
            "phrasebank": lambda: (
                speaker(work, bank).speak(SpeechRequest("hni", utterance=ALERT)).speech.path
            ),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for repeat in range(args.repeats):
            names = list(cases)
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                results[name].append(timed(cases[name]))
        warm = speaker(work, bank)
        warm.speak(SpeechRequest("vi", text))
        hit = timed(lambda: warm.speak(SpeechRequest("vi", text)).speech.path)
        normalising = min(
            timed_only(lambda: normaliser.normalize(text, "vi")) for _ in range(args.repeats)
        )
    report(text, results, hit, normalising, edge.requests)
    return 0


def one_run(spoken: str, work: Path) -> Path:
    out = Path(tempfile.mkdtemp(dir=work)) / "speech.wav"
    return synthesize_espeak(spoken, "vi", ["-s", "150"], out)


def timed_only(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def report(
    text: str,
    results: dict[str, list[tuple[float, float]]],
    hit: tuple[float, float],
    normalising: float,
    edge_requests: list[object],
) -> None:
    print(f"text: {len(text.encode()) / 1000:.1f} KB of Vietnamese, {len(text.split())} words")
    columns = ("speech min", "wall s (median)", "s per min", "× real time")
    print(f"{'engine':14} {columns[0]:>10} {columns[1]:>16} {columns[2]:>10} {columns[3]:>12}")
    for name, runs in [*results.items(), ("cache hit", [hit])]:
        wall = statistics.median(run[0] for run in runs)
        minutes = runs[0][1]
        per_minute = wall / minutes if minutes else float("nan")
        print(f"{name:14} {minutes:10.2f} {wall:16.3f} {per_minute:10.3f} {60 / per_minute:12.0f}")
    espeak = statistics.median(run[0] for run in results["espeak"])
    floor = statistics.median(run[0] for run in results["espeak-1-run"])
    print(f"espeak per-sentence / one run: {espeak / floor:.2f}")
    per_kb_ms = normalising / (len(text.encode()) / 1000) * 1000
    print(f"normalising the text: {normalising * 1000:.0f} ms ({per_kb_ms:.1f} ms per KB)")
    print(f"edge requests to the loopback service: {len(edge_requests)}")


if __name__ == "__main__":
    sys.exit(main())
