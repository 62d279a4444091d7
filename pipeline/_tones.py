"""The tones that frame an alert (DESIGN.md §6), generated here: Loa ships no third-party audio.

Each tone is a few struck notes: a short raised-cosine attack, an exponential decay, and a
raised-cosine release to exact silence, so no note starts or stops with a click. The notes
carry their second to fourth harmonics as well as the fundamental: horn loudspeakers
reproduce little below ~300 Hz, and the harmonics are what carries across the rice fields.
Both tones are scaled to the same loudness as the voice they frame (``TONE_LOUDNESS_LUFS``)
so the final single gain of processing leaves the balance between them as it is.

The samples are computed, not recorded: the same sample rate gives the same bytes on every
run, so a tone file can be cached or hashed like any other clip.
"""

from __future__ import annotations

import os
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline._errors import AudioError
from pipeline._meter import LoudnessMeter, k_weighted

Signal = NDArray[np.float64]

# Harmonic number and amplitude relative to the fundamental: bright enough for a horn.
PARTIALS = ((1, 1.0), (2, 0.5), (3, 0.35), (4, 0.2))
ATTACK_S = 0.01  # fast enough to sound struck, slow enough not to click
RELEASE_S = 0.05  # the last of each note fades to exact zero over this long
TONE_LOUDNESS_LUFS = -16.0  # the voice of an alert is brought to the same level
MIN_SAMPLE_RATE = 8000  # the highest partial, 4 × 880 Hz, stays below Nyquist
_PCM_FULL_SCALE = 32767

# Attention signal: a descending chime A5-E5-A4, struck twice.
ATTENTION_NOTES_HZ = (880.0, 660.0, 440.0)
ATTENTION_NOTE_SPACING_S = 0.4
ATTENTION_ROUNDS = 2
ATTENTION_ROUND_SPACING_S = 1.5
ATTENTION_NOTE_S = 1.0
ATTENTION_DECAY_S = 0.35

# Closing tone: a rising E5-A5 pair with a softer attack and a longer ring.
CLOSING_NOTES_HZ = (660.0, 880.0)
CLOSING_NOTE_SPACING_S = 0.5
CLOSING_NOTE_S = 1.0
CLOSING_DECAY_S = 0.6
CLOSING_ATTACK_S = 0.03


@dataclass(frozen=True)
class _Note:
    start_s: float
    frequency_hz: float
    length_s: float
    decay_s: float
    attack_s: float = ATTACK_S


def attention_signal(path: Path, sample_rate: int) -> Path:
    """Write the attention signal to ``path`` (16-bit mono WAV) and return ``path``.

    A listener hears a bright descending three-note chime, high-middle-low (A5, E5, A4),
    struck twice, each note ringing out like a bell: about 3.3 s, unmistakably a
    "listen now" before an announcement.
    """
    notes = [
        _Note(
            start_s=round_ * ATTENTION_ROUND_SPACING_S + index * ATTENTION_NOTE_SPACING_S,
            frequency_hz=frequency,
            length_s=ATTENTION_NOTE_S,
            decay_s=ATTENTION_DECAY_S,
        )
        for round_ in range(ATTENTION_ROUNDS)
        for index, frequency in enumerate(ATTENTION_NOTES_HZ)
    ]
    return _write_wav(path, _render(notes, sample_rate), sample_rate)


def closing_tone(path: Path, sample_rate: int) -> Path:
    """Write the closing tone to ``path`` (16-bit mono WAV) and return ``path``.

    A listener hears two softer notes rising (E5 then A5) that ring for 1.5 s: the
    announcement is over. Rising where the attention signal falls, so the two are never
    confused.
    """
    notes = [
        _Note(
            start_s=index * CLOSING_NOTE_SPACING_S,
            frequency_hz=frequency,
            length_s=CLOSING_NOTE_S,
            decay_s=CLOSING_DECAY_S,
            attack_s=CLOSING_ATTACK_S,
        )
        for index, frequency in enumerate(CLOSING_NOTES_HZ)
    ]
    return _write_wav(path, _render(notes, sample_rate), sample_rate)


def _render(notes: Sequence[_Note], rate: int) -> Signal:
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(f"cannot generate tones at {rate} Hz: needs at least {MIN_SAMPLE_RATE} Hz")
    total_s = max(note.start_s + note.length_s for note in notes)
    signal = np.zeros(round(total_s * rate))
    for note in notes:
        samples = _struck_note(note, rate)
        start = round(note.start_s * rate)
        signal[start : start + len(samples)] += samples
    return _at_loudness(signal, rate, TONE_LOUDNESS_LUFS)


def _struck_note(note: _Note, rate: int) -> Signal:
    t = np.arange(round(note.length_s * rate)) / rate
    phase = 2 * np.pi * note.frequency_hz * t
    tone = sum(amplitude * np.sin(harmonic * phase) for harmonic, amplitude in PARTIALS)
    return np.asarray(tone * _envelope(t, note, rate), dtype=np.float64)


def _envelope(t: Signal, note: _Note, rate: int) -> Signal:
    """Raised-cosine attack, exponential decay, raised-cosine release to zero."""
    envelope = np.exp(-t / note.decay_s)
    attack = min(round(note.attack_s * rate), len(t))
    envelope[:attack] *= _raised_cosine(attack)
    release = min(round(RELEASE_S * rate), len(t))
    envelope[len(t) - release :] *= _raised_cosine(release)[::-1]
    return envelope


def _raised_cosine(length: int) -> Signal:
    """0 → 1 over ``length`` samples, starting at exactly 0 with zero slope."""
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length), dtype=np.float64)


def _at_loudness(signal: Signal, rate: int, lufs: float) -> Signal:
    meter = LoudnessMeter(rate, 1, true_peak=False)
    samples = signal.astype(np.float32).reshape(-1, 1)
    meter.add(samples, k_weighted(samples, rate))
    gain = 10 ** ((lufs - meter.integrated_lufs()) / 20)
    return signal * gain


def _write_wav(path: Path, signal: Signal, rate: int) -> Path:
    pcm = np.round(np.clip(signal, -1.0, 1.0) * _PCM_FULL_SCALE).astype("<i2")
    # A name of its own: two alerts rendered at once write the same tone side by side.
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    partial.replace(path)
    return path
