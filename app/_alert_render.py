"""Composition: an alert's words → one framed clip per language (and per commune where the
phrase bank says the place), every language the target communes need.

Vietnamese is spoken by the offline engine at once; edge-tts is asked at the same time
and used only if it answers within ``alerts.neural_wait_s`` (an alert never waits for the
internet longer than that, and not at all when the link is down: the connection fails at
once). Every voice ends with the issue time, so each replay restates it (Decision
18/2021); a test or an exercise starts with a Vietnamese notice that it is not real.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app._alert_words import ISSUE_TIME_VI, TEST_NOTICE_VI, commune_label, language_label
from app._speech import text_to_speech
from config import Commune, Settings, UserInputError
from content import AlertStatus
from pipeline import Clip, render_alert
from pipeline.tts import PhrasebankEngine, SpeechRequest, Synthesis, Utterance

log = logging.getLogger(__name__)

RENDER_WORKERS = 2  # the reference machine has two cores; ffmpeg and espeak-ng are processes
PHRASEBANK_MINUTE_STEP = 5  # the demo bank says minutes in steps of 5


@dataclass(frozen=True)
class AlertScript:
    """What the alert says, whatever speaks it."""

    hazard: str
    level: int
    status: AlertStatus
    issued_at: datetime  # local time of the district
    expires_at: datetime
    texts: Mapping[str, str]
    recordings: Mapping[str, Path]
    phrasebank_languages: tuple[str, ...]

    @property
    def is_testing(self) -> bool:
        return self.status in (AlertStatus.TEST, AlertStatus.EXERCISE)

    def source(self, language: str) -> str | None:
        if language in self.texts:
            return "text"
        if language in self.recordings:
            return "recording"
        if language in self.phrasebank_languages:
            return "phrasebank"
        return None


@dataclass(frozen=True)
class AlertVoice:
    """One clip to make: a language, and the commune whose name it says (phrase bank)."""

    language: str
    source: str  # text, recording or phrasebank
    commune: str | None = None  # None: the same clip for every commune


@dataclass(frozen=True)
class RenderedVoice:
    voice: AlertVoice
    clip: Clip


Progress = Callable[[int, int], None]


def plan_voices(
    script: AlertScript, targets: Sequence[Commune], *, every_language: bool = True
) -> list[AlertVoice]:
    """The clips the targets need. ``UserInputError`` naming the commune and language when
    the alert has nothing to say in a language a target commune needs (with
    ``every_language`` off, only when it has nothing to say in any of them)."""
    voices: dict[AlertVoice, None] = {}
    missing: list[str] = []
    for commune in targets:
        said = [language for language in commune.languages if script.source(language)]
        for language in commune.languages:
            source = script.source(language)
            if source is None:
                if every_language or not said:
                    missing.append(f"{commune_label(commune)} cần {language_label(language)}")
                continue
            per_commune = commune.id if source == "phrasebank" else None
            voices[AlertVoice(language, source, per_commune)] = None
    if missing:
        raise UserInputError(
            "cảnh báo chưa có văn bản, bản ghi âm hay kho câu mẫu cho: "
            + "; ".join(missing)
            + " (thêm --text LANG=TỆP, --recording LANG=TỆP hoặc --phrasebank LANG)"
        )
    return list(voices)


def render_voices(
    settings: Settings,
    script: AlertScript,
    voices: Sequence[AlertVoice],
    *,
    progress: Progress | None = None,
) -> dict[AlertVoice, RenderedVoice]:
    """Every voice framed and processed, ``RENDER_WORKERS`` at a time; the first failure
    is raised (nothing is published with a language missing)."""
    renderer = _Renderer(settings, script)
    done: dict[AlertVoice, RenderedVoice] = {}
    try:
        with ThreadPoolExecutor(RENDER_WORKERS, thread_name_prefix="alert-render") as pool:
            futures = {voice: pool.submit(renderer.render, voice) for voice in voices}
            for voice, future in futures.items():
                done[voice] = RenderedVoice(voice, future.result())
                if progress is not None:
                    progress(len(done), len(voices))
    finally:
        renderer.close()
    return done


class _Renderer:
    def __init__(self, settings: Settings, script: AlertScript) -> None:
        self._settings = settings
        self._script = script
        self._tts = text_to_speech(_single_attempt(settings))
        self._neural = ThreadPoolExecutor(2, thread_name_prefix="alert-edge")
        # Once edge-tts has failed or been too slow, the alert's other texts skip it.
        self._neural_usable = threading.Event()
        self._neural_usable.set()

    def close(self) -> None:
        # A late edge-tts answer is not waited for: its own timeout ends it.
        self._neural.shutdown(wait=False, cancel_futures=True)

    def render(self, voice: AlertVoice) -> Clip:
        alerts = self._settings.alerts
        if voice.language == "vi" and voice.source == "text":
            # One request: one wait for edge-tts at most, and one voice throughout.
            message = self._vietnamese(self._vietnamese_script())
            parts = [message.speech.path]
        else:
            parts = [self._vietnamese(self._notice()).speech.path] if self._notice() else []
            message = self._message(voice)
            parts += [message.speech.path, self._issue_time(voice.language)]
        clip = render_alert(
            parts,
            profile=self._settings.audio.profile(),
            out_dir=self._settings.data_dir / "clips",
            work_dir=self._settings.data_dir / "tones",
            engine=message.engine,
            voice_name=message.voice,
            repeats=alerts.voice_repeats,
            gap_s=alerts.voice_gap_s,
            profile_name=self._settings.audio.default_profile,
        )
        log.info("alert voice %s/%s: %s", voice.language, voice.commune or "*", clip.sha256[:12])
        return clip

    def _notice(self) -> str:
        return TEST_NOTICE_VI.get(self._script.status, "") if self._script.is_testing else ""

    def _issue_sentence(self) -> str:
        issued = self._script.issued_at
        return ISSUE_TIME_VI.format(time=f"{issued:%H:%M}", date=f"{issued:%d/%m/%Y}")

    def _vietnamese_script(self) -> str:
        parts = [self._notice(), self._script.texts["vi"], self._issue_sentence()]
        return "\n\n".join(part for part in parts if part)

    def _message(self, voice: AlertVoice) -> Synthesis:
        language = voice.language
        if voice.source == "recording":
            recording = self._script.recordings[language]
            return self._tts.speak(SpeechRequest(language, recording=recording), engine="recorded")
        if voice.source == "phrasebank" and voice.commune is not None:
            return self._phrasebank(language, self._alert_utterance(voice.commune))
        text = self._script.texts[language]
        if language == "vi":
            return self._vietnamese(text)
        return self._tts.speak(SpeechRequest(language, text))

    def _vietnamese(self, text: str) -> Synthesis:
        """The offline engine's speech, unless edge-tts answers within the wait."""
        chain = self._tts.chain("vi")
        offline = next((name for name in chain if name != "edge"), "espeak")
        wait_s = self._settings.alerts.neural_wait_s
        started = time.monotonic()
        neural: Future[Synthesis] | None = None
        if "edge" in chain and wait_s > 0 and self._neural_usable.is_set():
            neural = self._neural.submit(self._tts.speak, SpeechRequest("vi", text), engine="edge")
        fallback = self._tts.speak(SpeechRequest("vi", text), engine=offline)
        if neural is None:
            return fallback
        remaining = max(wait_s - (time.monotonic() - started), 0.0)
        try:
            return neural.result(timeout=remaining)
        except TimeoutError:
            log.info("edge-tts did not answer within %.1f s: %s is used", wait_s, offline)
        except Exception as failure:  # offline, refused: the offline voice is the answer
            log.info("edge-tts failed (%s): %s is used", failure, offline)
        self._neural_usable.clear()
        return fallback

    def _phrasebank(self, language: str, utterance: Utterance) -> Synthesis:
        request = SpeechRequest(language, utterance=utterance)
        return self._tts.speak(request, engine="phrasebank")

    def _alert_utterance(self, commune_id: str) -> Utterance:
        script = self._script
        issued, expires = _bank_time(script.issued_at), _bank_time(script.expires_at)
        slots = {
            "hazard": script.hazard,
            "level": str(script.level),
            "place": commune_id,
            "time": f"{issued:%H:%M}",
            "time.until": f"{expires:%H:%M}",
        }
        if issued.date() == expires.date():
            return Utterance("alert", slots)
        dated = {
            **slots,
            "date": issued.date().isoformat(),
            "date.until": expires.date().isoformat(),
        }
        return Utterance("alert-dated", dated)

    def _issue_time(self, language: str) -> Path:
        """The issue time, in the language where its phrase bank can say it, else in
        Vietnamese (every commune's second language is the national one)."""
        issued = self._script.issued_at
        if language != "vi" and self._has_bank(language):
            moment = _bank_time(issued)
            slots = {"time": f"{moment:%H:%M}", "date": moment.date().isoformat()}
            return self._phrasebank(language, Utterance("issued", slots)).speech.path
        return self._vietnamese(self._issue_sentence()).speech.path

    def _has_bank(self, language: str) -> bool:
        engine = self._tts.engine("phrasebank")
        return isinstance(engine, PhrasebankEngine) and language in engine.languages()


def _single_attempt(settings: Settings) -> Settings:
    """``settings`` with edge-tts asked once per text: a refused or unresolvable service
    then fails at once instead of after backoff, and the offline voice goes out."""
    edge = settings.tts.edge.model_copy(update={"max_attempts": 1})
    tts = settings.tts.model_copy(update={"edge": edge})
    return settings.model_copy(update={"tts": tts})


def _bank_time(moment: datetime) -> datetime:
    """``moment`` down to the minutes a phrase bank says (a stand-in bank has 0, 5 … 55)."""
    minute = moment.minute - moment.minute % PHRASEBANK_MINUTE_STEP
    return moment.replace(minute=minute, second=0, microsecond=0)
