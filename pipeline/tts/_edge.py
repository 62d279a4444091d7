"""The ``edge`` engine: Microsoft's neural voices through edge-tts (DESIGN.md §7).

The service is unofficial and fails in waves: 403 on the handshake when its token
changes, 429 and 503 under load, a turn that ends with no audio. Loa calls edge-tts's
async API (never its sync wrapper, which can block for ever) on one event loop thread
per process, under its own limits:

* no audio at all within ``first_audio_timeout_s``: the service is unreachable, and the
  next engine of the chain speaks (an alert never waits for the internet);
* each chunk is retried with exponential backoff and jitter on the transient failures,
  honouring ``Retry-After``;
* at most ``max_connections`` websockets at once per process;
* after an unreachable service, it is skipped for ``unreachable_pause_s`` so a batch of
  items does not pay the wait once per item.

Text is cut between sentences into chunks the service accepts
(:mod:`pipeline.tts._edge_text`), spoken side by side, and the MP3 streams are joined
in order. The service's sentence boundaries become the transcript's cues.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import logging
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiohttp
import edge_tts
import edge_tts.communicate
import edge_tts.constants
from edge_tts.exceptions import EdgeTTSException, NoAudioReceived, SkewAdjustmentError
from edge_tts.exceptions import WebSocketError as EdgeWebSocketError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from config import EdgeSettings
from pipeline._errors import TTSError
from pipeline.tts._base import Cue, EngineUnavailable, Speech, SpeechRequest, Synthesizer
from pipeline.tts._edge_text import split_for_service
from pipeline.tts._pause import ServicePause

log = logging.getLogger(__name__)

PAUSE_FILE = "edge-unreachable.json"
PROCESS_CONNECTIONS = 8  # the service's own tolerance; more gets a process throttled
TRANSIENT_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0
# edge-tts asks for 48 kbps constant-bitrate MP3, so bytes give time exactly.
_BYTES_PER_SECOND = edge_tts.constants.MP3_BITRATE_BPS / 8
_TICKS_PER_SECOND = edge_tts.constants.TICKS_PER_SECOND
_BACKSTOP_S = 5.0  # beyond our own asyncio timeout, in case the loop itself is stuck
_DEFAULT_URL = edge_tts.constants.WSS_URL
# edge-tts reads its endpoint from this module at each connection (see _use_service_url).
_COMMUNICATE: Any = edge_tts.communicate

T = TypeVar("T")


@dataclass(frozen=True)
class _ChunkSpeech:
    audio: bytes
    cues: tuple[Cue, ...]


class _NothingHeard(Exception):  # noqa: N818 - a state, not a failure of ours
    """No audio arrived within the first-audio timeout."""


class _CutOff(ConnectionError):  # noqa: N818
    """The service closed the connection in the middle of a turn."""


class _TooSlow(Exception):  # noqa: N818
    """The whole text was not spoken within the overall timeout."""


class EdgeEngine(Synthesizer):
    """edge-tts's voices under Loa's timeouts, retries and connection cap."""

    name: ClassVar[str] = "edge"
    needs_network: ClassVar[bool] = True

    def __init__(self, settings: EdgeSettings, *, state_dir: Path | None = None) -> None:
        """``state_dir``: where the pause after an outage is kept for every process."""
        self._settings = settings
        self._connections = _EdgeLoop.shared().semaphore(settings.max_connections)
        pause_file = state_dir / PAUSE_FILE if state_dir is not None else None
        self._pause = ServicePause(settings.unreachable_pause_s, pause_file)
        _use_service_url(settings.service_url)

    def voices(self, language: str) -> Sequence[str]:
        return self._settings.voices.get(language, [])

    def version(self) -> str:
        return f"edge-tts {edge_tts.__version__}"

    def synthesize(self, request: SpeechRequest, voice: str, out_dir: Path) -> Speech:
        self._refuse_while_paused()
        chunks = split_for_service(request.text)
        started = time.monotonic()
        try:
            spoken = _EdgeLoop.shared().run(
                self._speak(chunks, voice, request), self._settings.timeout_s + _BACKSTOP_S
            )
        except _NothingHeard:
            reason = f"no audio within {self._settings.first_audio_timeout_s:g} s"
            self._pause_service(reason)
            raise EngineUnavailable(f"edge-tts: service unreachable ({reason})") from None
        except _TooSlow:
            raise EngineUnavailable(
                f"edge-tts: the text was not spoken within {self._settings.timeout_s:g} s"
            ) from None
        except ValueError as error:  # edge-tts's own check of voice, rate, pitch, volume
            raise TTSError(f"edge-tts refused the request: {error}") from error
        except (EdgeTTSException, aiohttp.ClientError, OSError) as error:
            if _means_unreachable(error):
                self._pause_service(_describe(error))
            raise EngineUnavailable(f"edge-tts: {_describe(error)}") from error
        self._pause.clear()
        out = out_dir / "speech.mp3"
        out.write_bytes(b"".join(chunk.audio for chunk in spoken))
        log.info(
            "edge-tts spoke %d chunk(s) with %s in %.1f s",
            len(chunks), voice, time.monotonic() - started,
        )  # fmt: skip
        return Speech(out, self.name, voice, _joined_cues(spoken))

    def _refuse_while_paused(self) -> None:
        remaining, reason = self._pause.remaining()
        if remaining > 0:
            raise EngineUnavailable(
                f"edge-tts: service unreachable ({reason}); not tried again for {remaining:.0f} s"
            )

    def _pause_service(self, reason: str) -> None:
        self._pause.start(reason)
        log.info("edge-tts: %s; skipped for %g s", reason, self._settings.unreachable_pause_s)

    async def _speak(
        self, chunks: list[str], voice: str, request: SpeechRequest
    ) -> list[_ChunkSpeech]:
        heard = asyncio.Event()
        watchdog = asyncio.create_task(self._wait_for_audio(heard))
        speaking = asyncio.gather(
            *(self._speak_chunk(chunk, voice, request, heard) for chunk in chunks)
        )
        try:
            async with asyncio.timeout(self._settings.timeout_s) as deadline:
                both: set[asyncio.Future[Any]] = {watchdog, speaking}
                done, _ = await asyncio.wait(both, return_when=asyncio.FIRST_EXCEPTION)
                if watchdog in done and watchdog.exception() is not None:
                    raise _NothingHeard
                return await speaking
        except TimeoutError:
            if deadline.expired():
                raise _TooSlow from None
            raise
        finally:
            watchdog.cancel()
            speaking.cancel()
            with contextlib.suppress(BaseException):
                await speaking  # its sockets are closed before we return

    async def _wait_for_audio(self, heard: asyncio.Event) -> None:
        async with asyncio.timeout(self._settings.first_audio_timeout_s):
            await heard.wait()

    async def _speak_chunk(
        self, text: str, voice: str, request: SpeechRequest, heard: asyncio.Event
    ) -> _ChunkSpeech:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            wait=_Backoff(self._settings),
            stop=stop_after_attempt(self._settings.max_attempts),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with self._connections, _EdgeLoop.shared().connections:
                    return await self._stream(text, voice, request, heard)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _stream(
        self, text: str, voice: str, request: SpeechRequest, heard: asyncio.Event
    ) -> _ChunkSpeech:
        options = request.options
        communicate = edge_tts.Communicate(
            text,
            voice,
            rate=f"{options.rate_percent:+d}%",
            volume=f"{options.volume_percent:+d}%",
            pitch=f"{options.pitch_hz:+d}Hz",
            boundary="SentenceBoundary",
            connect_timeout=self._settings.connect_timeout_s,
            receive_timeout=self._settings.receive_timeout_s,
        )
        audio = bytearray()
        cues: list[Cue] = []
        async for message in communicate.stream():
            if message["type"] == "audio":
                audio += message["data"]
                heard.set()
            elif message["type"] in ("SentenceBoundary", "WordBoundary"):
                start = message["offset"] / _TICKS_PER_SECOND
                end = start + message["duration"] / _TICKS_PER_SECOND
                cues.append(Cue(start, end, message["text"]))
        # edge-tts ends the stream quietly when the connection closes mid-turn; only a
        # turn.end counts the chunk's bytes in, so fewer counted means a cut-off turn.
        if communicate.state["cumulative_audio_bytes"] != len(audio):
            raise _CutOff(f"the connection closed after {len(audio)} bytes, before turn.end")
        return _ChunkSpeech(bytes(audio), tuple(cues))


def _joined_cues(spoken: list[_ChunkSpeech]) -> tuple[Cue, ...]:
    """Every chunk's cues, moved by the length of the audio before it."""
    cues: list[Cue] = []
    offset_s = 0.0
    for chunk in spoken:
        cues += [cue.shifted(offset_s) for cue in chunk.cues]
        offset_s += len(chunk.audio) / _BYTES_PER_SECOND
    return tuple(cues)


class _Backoff:
    """Exponential backoff with jitter, or the server's ``Retry-After`` if that is longer."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._exponential = wait_exponential_jitter(
            multiplier=settings.backoff_initial_s,
            max=settings.backoff_max_s,
            jitter=settings.backoff_initial_s,
        )

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self._exponential(state))
        error = state.outcome.exception() if state.outcome else None
        return max(wait, _retry_after_s(error))


def _retry_after_s(error: BaseException | None) -> float:
    if not isinstance(error, aiohttp.ClientResponseError) or not error.headers:
        return 0.0
    value = error.headers.get("Retry-After", "")
    if value.strip().isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER_S)
    return 0.0


def _is_transient(error: BaseException) -> bool:
    """Worth another try: throttling, a token change, a dropped or silent connection."""
    if _is_lookup_failure(error):
        return False
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status in TRANSIENT_STATUSES
    return isinstance(
        error,
        NoAudioReceived
        | SkewAdjustmentError
        | EdgeWebSocketError
        | aiohttp.ClientConnectionError
        | aiohttp.ServerTimeoutError
        | TimeoutError
        | ConnectionError,
    )


def _is_lookup_failure(error: BaseException) -> bool:
    """The resolver has no address for the service: asking again at once will not help."""
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)  # aiohttp >= 3.10
    return dns_error is not None and isinstance(error, dns_error)


def _means_unreachable(error: BaseException) -> bool:
    """The service did not answer, or refused us: not worth asking again for a while.
    (No audio for a reachable service is the request's problem, not the service's.)"""
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status in TRANSIENT_STATUSES
    return isinstance(error, aiohttp.ClientConnectionError | aiohttp.ServerTimeoutError | OSError)


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status} {error.message}".strip()
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {error.host}:{error.port} ({error.strerror})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info(
        "edge-tts attempt %d failed (%s); again in %.1f s",
        state.attempt_number, _describe(error) if error else "?", wait,
    )  # fmt: skip


def _use_service_url(url: str | None) -> None:
    """Point edge-tts at ``url`` (a relay, or a test's loopback server) or its default.

    edge-tts reads the endpoint from a module constant at each connection and has no
    parameter for it; one URL per process is all Loa needs.
    """
    wanted = _DEFAULT_URL if url is None else _with_token(url)
    if wanted != _COMMUNICATE.WSS_URL:
        log.info("edge-tts service: %s", wanted.partition("?")[0])
        _COMMUNICATE.WSS_URL = wanted


def _with_token(url: str) -> str:
    if "?" in url:
        return url
    return f"{url}?TrustedClientToken={edge_tts.constants.TRUSTED_CLIENT_TOKEN}"


class _EdgeLoop:
    """One event loop thread per process that every edge-tts connection runs on, so one
    semaphore caps the connections however many threads ask for speech."""

    _instance: ClassVar[_EdgeLoop | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self.connections = asyncio.Semaphore(PROCESS_CONNECTIONS)
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        thread = threading.Thread(target=self._loop.run_forever, name="loa-edge-tts", daemon=True)
        thread.start()

    @classmethod
    def shared(cls) -> _EdgeLoop:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def semaphore(self, limit: int) -> asyncio.Semaphore:
        """A cap of ``limit`` connections, shared by every engine that asks for it."""
        with self._lock:
            return self._semaphores.setdefault(limit, asyncio.Semaphore(limit))

    def run(self, work: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None
        except BaseException:
            future.cancel()
            raise
