"""Text-to-speech for a district: the engines, each language's fallback chain, the
normaliser and the cache (DESIGN.md §7).

A request in language L is tried on L's chain in order (e.g. ``vi: [edge, espeak]``).
An engine that cannot speak it now (:class:`EngineUnavailable`: the service is down,
nothing is recorded) or fails is skipped, and the result says which engine and voice
spoke and why each one before it was skipped. Input no engine could speak (empty text,
an unknown language or voice) is refused at once, before any engine is tried.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from config import ConfigError, LoaError, TTSSettings, UserInputError
from pipeline._errors import TTSError, TTSInputError
from pipeline.text import Lexicon, normalize_text
from pipeline.tts._base import (
    EngineUnavailable,
    Speech,
    SpeechRequest,
    Synthesizer,
    require_speakable,
)
from pipeline.tts._cache import SynthesisCache
from pipeline.tts._espeak import EspeakEngine
from pipeline.tts._phrasebank import PhrasebankEngine
from pipeline.tts._recorded import RecordedEngine

log = logging.getLogger(__name__)

_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


@dataclass(frozen=True)
class EngineDirs:
    """Where the engines that need files keep them."""

    phrasebank: Path
    state: Path | None = None  # what engines remember between processes (an outage)


EngineFactory = Callable[[TTSSettings, EngineDirs], Synthesizer]


def _edge(tts: TTSSettings, dirs: EngineDirs) -> Synthesizer:
    # edge-tts brings aiohttp: a fifth of a second that only commands speaking pay.
    from pipeline.tts._edge import EdgeEngine

    return EdgeEngine(tts.edge, state_dir=dirs.state)


ENGINES: Mapping[str, EngineFactory] = {
    "edge": _edge,
    "espeak": lambda tts, _: EspeakEngine(tts.espeak),
    "recorded": lambda _, __: RecordedEngine(),
    "phrasebank": lambda _, dirs: PhrasebankEngine(dirs.phrasebank),
}


@dataclass(frozen=True)
class Fallback:
    """An engine that did not speak, and why."""

    engine: str
    reason: str
    exit_code: int = 1  # 2: the input was at fault (a phrase not recorded), not the engine

    def to_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "reason": self.reason}


@dataclass(frozen=True)
class Synthesis:
    """The speech for one request and how it came about."""

    speech: Speech
    language: str
    text: str  # as the engine was given it: normalised
    fallbacks: tuple[Fallback, ...]
    cached: bool
    seconds: float

    @property
    def engine(self) -> str:
        return self.speech.engine

    @property
    def voice(self) -> str:
        return self.speech.voice

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "voice": self.voice,
            "language": self.language,
            "fallbacks": [fallback.to_dict() for fallback in self.fallbacks],
            "cached": self.cached,
        }


class NoEngineSpoke(TTSError):  # noqa: N818 - what happened, as the message says
    """Every engine of the chain was skipped or failed."""

    def __init__(self, language: str, fallbacks: Sequence[Fallback]) -> None:
        reasons = "; ".join(f"{item.engine}: {item.reason}" for item in fallbacks)
        super().__init__(f"no engine could speak {language!r}: {reasons}")
        self.fallbacks = tuple(fallbacks)
        if fallbacks and all(item.exit_code == 2 for item in fallbacks):
            self.exit_code = 2


class TextToSpeech:
    """Speaks requests on the configured chains; engines are built when first needed."""

    def __init__(
        self,
        settings: TTSSettings,
        *,
        cache: SynthesisCache,
        dirs: EngineDirs,
        languages: Collection[str] = (),
        lexicon: Lexicon | None = None,
        engines: Mapping[str, EngineFactory] = ENGINES,
    ) -> None:
        _check_chains(settings.chains, engines)
        self._settings = settings
        self._cache = cache
        self._dirs = dirs
        self._district_languages = frozenset(languages)
        self._factories = engines
        self._engines: dict[str, Synthesizer] = {}
        self.lexicon = lexicon if lexicon is not None else _load_lexicon(settings.lexicon)

    @property
    def engine_names(self) -> list[str]:
        return list(self._factories)

    @property
    def languages(self) -> list[str]:
        return sorted(self._district_languages | set(self._settings.chains))

    def chain(self, language: str) -> list[str]:
        """The engines that speak ``language``, in order; ``TTSInputError`` if none."""
        self.check_language(language)
        chain = self._settings.chains.get(language)
        if chain is None:
            raise TTSInputError(
                f"no TTS engine is configured for language {language!r}: add tts.chains."
                f"{language} to the configuration (e.g. [recorded, phrasebank])"
            )
        return list(chain)

    def normalize(self, text: str, language: str) -> str:
        """``text`` as the engines get it: written forms spelled out for Vietnamese, the
        district lexicon applied for every language."""
        return normalize_text(text, language, self.lexicon)

    def engine(self, name: str) -> Synthesizer:
        if name not in self._factories:
            raise TTSInputError(f"unknown TTS engine {name!r}: choose one of {self.engine_names}")
        if name not in self._engines:
            self._engines[name] = self._factories[name](self._settings, self._dirs)
        return self._engines[name]

    def speak(self, request: SpeechRequest, *, engine: str | None = None) -> Synthesis:
        """Speak ``request`` with ``engine``, or down its language's chain."""
        started = time.monotonic()
        if engine is None:
            names = self.chain(request.language)
        else:
            self.check_language(request.language)
            names = [engine]
        request = self._prepared(request)
        engines, fallbacks = self._built(names)
        voices = self._voices(engines, request)
        for name, synthesizer in engines.items():
            outcome = self._attempt(synthesizer, request, voices[name])
            if isinstance(outcome, Fallback):
                fallbacks.append(outcome)
                continue
            speech, cached = outcome
            seconds = time.monotonic() - started
            return Synthesis(
                speech, request.language, request.text, tuple(fallbacks), cached, seconds
            )
        raise NoEngineSpoke(request.language, fallbacks)

    def _attempt(
        self, engine: Synthesizer, request: SpeechRequest, voice: str | None
    ) -> tuple[Speech, bool] | Fallback:
        """The speech (and whether it came from the cache), or why the engine did not
        speak. A user's error is raised: no other engine would do better."""
        if voice is None:  # the chain names an engine without the language: config to fix
            return Fallback(engine.name, f"does not speak {request.language!r}", exit_code=2)
        try:
            return self._speak_with(engine, request, voice)
        except UserInputError:
            raise
        except LoaError as failure:
            if not isinstance(failure, EngineUnavailable):
                log.warning("%s failed for %s: %s", engine.name, request.language, failure)
            return Fallback(engine.name, str(failure), failure.exit_code)

    def _built(self, names: Sequence[str]) -> tuple[dict[str, Synthesizer], list[Fallback]]:
        """The engines that could be built; the others as fallbacks (a tool missing)."""
        engines: dict[str, Synthesizer] = {}
        fallbacks: list[Fallback] = []
        for name in names:
            try:
                engines[name] = self.engine(name)
            except UserInputError:
                raise
            except LoaError as failure:
                fallbacks.append(Fallback(name, str(failure), failure.exit_code))
        return engines, fallbacks

    def _voices(
        self, engines: Mapping[str, Synthesizer], request: SpeechRequest
    ) -> dict[str, str | None]:
        """Per engine, the voice it speaks with: the one asked for if it has it, else its
        default; ``None`` if it does not speak the language."""
        offered = {name: list(engine.voices(request.language)) for name, engine in engines.items()}
        wanted = request.voice
        if wanted is not None and not any(wanted in voices for voices in offered.values()):
            raise TTSInputError(
                f"no engine for {request.language!r} has voice {wanted!r}; they have {offered}"
            )
        if len(offered) == 1 and not next(iter(offered.values())):
            raise TTSInputError(
                f"engine {next(iter(offered))!r} does not speak {request.language!r}"
            )
        return {
            name: (wanted if wanted in voices else voices[0]) if voices else None
            for name, voices in offered.items()
        }

    def _speak_with(
        self, engine: Synthesizer, request: SpeechRequest, voice: str
    ) -> tuple[Speech, bool]:
        if not engine.cacheable:
            with self._cache.scratch() as scratch:
                return engine.synthesize(request, voice, scratch), False
        key = self._cache.key(engine.identity(request, voice))
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        with self._cache.scratch() as scratch:
            return self._cache.put(key, engine.synthesize(request, voice, scratch)), False

    def _prepared(self, request: SpeechRequest) -> SpeechRequest:
        if request.recording is not None or request.utterance is not None:
            text = self.normalize(request.text, request.language) if request.text.strip() else ""
            return replace(request, text=text)
        text = self.normalize(require_speakable(request.text), request.language)
        return replace(request, text=require_speakable(text))

    def chain_or_empty(self, language: str) -> list[str]:
        return list(self._settings.chains.get(language, []))

    def check_language(self, language: str) -> None:
        """``TTSInputError`` unless ``language`` is spoken in the district or configured."""
        if not _LANGUAGE_TAG.match(language):
            raise TTSInputError(
                f"{language!r} is not a language code (ISO 639-1 or 639-3, e.g. vi, km, hni)"
            )
        if language not in self._district_languages and language not in self._settings.chains:
            raise TTSInputError(
                f"unknown language {language!r}: the district speaks "
                f"{sorted(self._district_languages)} and TTS is configured for "
                f"{sorted(self._settings.chains)}"
            )


def _check_chains(chains: Mapping[str, Sequence[str]], engines: Mapping[str, Any]) -> None:
    for language, chain in chains.items():
        unknown = [name for name in chain if name not in engines]
        if unknown:
            raise ConfigError(
                f"tts.chains.{language}: unknown engine {unknown[0]!r}: "
                f"choose from {sorted(engines)}"
            )


def _load_lexicon(path: Path | None) -> Lexicon:
    return Lexicon.empty() if path is None else Lexicon.load(path)
