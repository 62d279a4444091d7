"""A loopback stand-in for Microsoft's edge-tts websocket service, for the real client.

The real service is out of reach from CI, so this server speaks its protocol on
127.0.0.1 and the real ``edge_tts`` client is pointed at it (``tts.edge.service_url``).
In: a ``speech.config`` message, then an ``ssml`` message. Out: ``turn.start``, binary
audio frames (2-byte header length, headers, 48 kbps mono MP3), one ``audio.metadata``
message per sentence (SentenceBoundary, offsets in 100 ns ticks), ``turn.end``.

The speech is real: espeak-ng reads each sentence and ffmpeg encodes the MP3. Each new
connection takes the next behaviour from :meth:`EdgeService.script` (default ``ok``):

* ``ok`` — speak normally;
* ``http-403`` / ``http-429`` / ``http-503`` — refuse the websocket handshake with that
  status (429 and 503 carry ``Retry-After: 1``);
* ``no-audio`` — ``turn.start`` then ``turn.end`` with no audio (``NoAudioReceived``);
* ``drop`` — send part of the audio, then close the connection mid-turn;
* ``stall`` — accept and never answer;
* ``stall-after-audio`` — send part of the audio, then nothing more.

With ``tone_s_per_char`` set, the "speech" is a tone of that many seconds per character
(one ffmpeg run, for tests that need many requests fast).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

from aiohttp import WSMsgType, web

PATH = "/consumer/speech/synthesize/readaloud/edge/v1"
VOICES = {
    "vi-VN-HoaiMyNeural": "vi+f3",
    "vi-VN-NamMinhNeural": "vi",
    "km-KH-SreymomNeural": "vi+f2",  # espeak-ng has no Khmer; the protocol is what matters
    "km-KH-PisethNeural": "vi",
}
REQUIRED_QUERY = ("TrustedClientToken", "ConnectionId", "Sec-MS-GEC", "Sec-MS-GEC-Version")
TICKS_PER_SECOND = 10_000_000
SAMPLE_RATE = 24000
FRAME_BYTES = 4096
_SENTENCE = re.compile(r"(?<=[.!?…;:])\s+")
# edge-tts sends the long form of a voice's name, e.g. "Microsoft Server Speech Text to
# Speech Voice (vi-VN, HoaiMyNeural)" for vi-VN-HoaiMyNeural.
_VOICE = re.compile(
    r"<voice name='Microsoft Server Speech Text to Speech Voice \(([^,]+), ([^)]+)\)'>"
)
_PROSODY = re.compile(
    r"<prosody pitch='([^']*)' rate='([^']*)' volume='([^']*)'>(.*)</prosody>", re.S
)


@dataclass(frozen=True)
class SpokenRequest:
    """One ssml request the server answered (or refused to)."""

    voice: str
    pitch: str
    rate: str
    volume: str
    text: str
    behaviour: str


@dataclass
class EdgeService:
    """The server, running on its own thread and event loop; use as a context manager."""

    behaviours: deque[str] = field(default_factory=deque)
    requests: list[SpokenRequest] = field(default_factory=list)
    handshakes: int = 0
    open_connections: int = 0
    peak_connections: int = 0
    port: int = 0
    tone_s_per_char: float | None = None
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"

    def script(self, behaviours: Iterable[str]) -> None:
        """The behaviours of the next connections, in order; then ``ok`` again."""
        with self._lock:
            self.behaviours.extend(behaviours)

    def __enter__(self) -> EdgeService:
        thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        stalled = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)

    def _next_behaviour(self) -> str:
        with self._lock:
            self.handshakes += 1
            return self.behaviours.popleft() if self.behaviours else "ok"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = self._next_behaviour()
        if any(name not in request.query for name in REQUIRED_QUERY):
            return web.Response(status=403, text="missing token")
        if behaviour.startswith("http-"):
            status = int(behaviour.removeprefix("http-"))
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
            return web.Response(status=status, headers=headers, text=behaviour)
        socket = web.WebSocketResponse(compress=True)
        await socket.prepare(request)
        self._count(+1)
        try:
            await self._converse(socket, behaviour)
        finally:
            self._count(-1)
        return socket

    def _count(self, step: int) -> None:
        with self._lock:
            self.open_connections += step
            self.peak_connections = max(self.peak_connections, self.open_connections)

    async def _converse(self, socket: web.WebSocketResponse, behaviour: str) -> None:
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            headers, _, body = message.data.partition("\r\n\r\n")
            if "Path:ssml" not in headers:
                continue  # speech.config: nothing to answer
            spoken = _parse_ssml(body, behaviour)
            self.requests.append(spoken)
            if behaviour == "stall":
                await asyncio.sleep(3600)
            await self._answer(socket, spoken, behaviour)
            if behaviour == "drop":
                return
        return

    async def _answer(
        self, socket: web.WebSocketResponse, spoken: SpokenRequest, behaviour: str
    ) -> None:
        request_id = uuid.uuid4().hex
        await socket.send_str(_text_message(request_id, "turn.start", "{}"))
        if behaviour == "no-audio" or spoken.voice not in VOICES:
            await socket.send_str(_text_message(request_id, "turn.end", "{}"))
            return
        sentences = [part.strip() for part in _SENTENCE.split(spoken.text) if part.strip()]
        if self.tone_s_per_char is None:
            audio, boundaries = await asyncio.to_thread(_speak, sentences, VOICES[spoken.voice])
        else:
            audio, boundaries = await asyncio.to_thread(_tone, sentences, self.tone_s_per_char)
        for text, offset, duration in boundaries:
            await socket.send_str(
                _text_message(request_id, "audio.metadata", _metadata(text, offset, duration))
            )
        frames = [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
        if behaviour in ("drop", "stall-after-audio"):
            frames = frames[: max(len(frames) // 2, 1)]
        for frame in frames:
            await socket.send_bytes(_audio_message(request_id, frame))
        if behaviour == "stall-after-audio":
            await asyncio.sleep(3600)
        if behaviour == "drop":
            await socket.close()
            return
        await socket.send_bytes(_audio_message(request_id, b"", content_type=None))
        await socket.send_str(_text_message(request_id, "turn.end", "{}"))


def _parse_ssml(ssml: str, behaviour: str) -> SpokenRequest:
    voice = _VOICE.search(ssml)
    prosody = _PROSODY.search(ssml)
    assert voice and prosody, f"not the SSML edge-tts sends: {ssml[:200]}"
    pitch, rate, volume, text = prosody.groups()
    short_name = f"{voice.group(1)}-{voice.group(2)}"
    return SpokenRequest(short_name, pitch, rate, volume, unescape(text), behaviour)


def _speak(sentences: list[str], espeak_voice: str) -> tuple[bytes, list[tuple[str, int, int]]]:
    """MP3 of the sentences read one after another, and each one's (text, offset, duration)."""
    pcm = bytearray()
    boundaries = []
    for sentence in sentences:
        wav = subprocess.run(
            ["espeak-ng", "-b", "1", "-v", espeak_voice, "--stdout", sentence],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        samples = _resampled(wav)
        offset = len(pcm) // 2 * TICKS_PER_SECOND // SAMPLE_RATE
        boundaries.append((sentence, offset, len(samples) // 2 * TICKS_PER_SECOND // SAMPLE_RATE))
        pcm += samples
    mp3 = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(SAMPLE_RATE),
         "-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", "48k", "-write_xing", "0",
         "-f", "mp3", "pipe:1"],
        input=bytes(pcm), capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return mp3, boundaries


def _tone(sentences: list[str], s_per_char: float) -> tuple[bytes, list[tuple[str, int, int]]]:
    boundaries = []
    offset = 0
    for sentence in sentences:
        duration = round(len(sentence) * s_per_char * TICKS_PER_SECOND)
        boundaries.append((sentence, offset, duration))
        offset += duration
    seconds = max(offset / TICKS_PER_SECOND, 0.1)
    mp3 = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", f"sine=frequency=440:sample_rate={SAMPLE_RATE}:duration={seconds:.3f}",
         "-ac", "1", "-c:a", "libmp3lame", "-b:a", "48k", "-write_xing", "0",
         "-f", "mp3", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return mp3, boundaries


def _resampled(wav: bytes) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-ar", str(SAMPLE_RATE),
         "-ac", "1", "-f", "s16le", "pipe:1"],
        input=wav, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def _text_message(request_id: str, path: str, body: str) -> str:
    return (
        f"X-RequestId:{request_id}\r\nContent-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{body}"
    )


def _metadata(text: str, offset: int, duration: int) -> str:
    words = {"Text": text, "Length": len(text), "BoundaryType": "SentenceBoundary"}
    data = {"Offset": offset, "Duration": duration, "text": words}
    return json.dumps({"Metadata": [{"Type": "SentenceBoundary", "Data": data}]})


def _audio_message(request_id: str, audio: bytes, content_type: str | None = "audio/mpeg") -> bytes:
    # edge-tts reads the headers as data[:length] after the 2 length bytes and the audio
    # from data[length + 2:], so the headers end with the CRLF those 2 bytes cut off.
    lines = [f"X-RequestId:{request_id}"]
    if content_type:
        lines.append(f"Content-Type:{content_type}")
    lines.append("Path:audio")
    header = ("\r\n".join(lines) + "\r\n").encode()
    return len(header).to_bytes(2, "big") + header + audio
