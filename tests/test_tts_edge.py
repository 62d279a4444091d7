"""The edge engine: the real edge-tts client against a loopback server that speaks the
service's protocol (tests/edge_service.py), including each way the service fails."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import EdgeSettings
from pipeline._media import probe_audio
from pipeline.tts import EngineUnavailable, SpeechOptions, SpeechRequest
from pipeline.tts._edge import EdgeEngine
from pipeline.tts._edge_text import MAX_CHUNK_BYTES, escaped_bytes, split_for_service
from tests.edge_service import EdgeService

VOICE = "vi-VN-HoaiMyNeural"
TEXT = "Kính thưa bà con. Hôm nay trời mưa to! Đề nghị bà con chú ý theo dõi."
FAST_RETRIES: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2}


@pytest.fixture
def service() -> Iterator[EdgeService]:
    with EdgeService() as running:
        yield running


def engine_for(url: str, **settings: Any) -> EdgeEngine:
    return EdgeEngine(EdgeSettings(service_url=url, **{**FAST_RETRIES, **settings}))


def speak(engine: EdgeEngine, tmp_path: Path, text: str = TEXT, **request: Any) -> Any:
    return engine.synthesize(SpeechRequest("vi", text, **request), VOICE, tmp_path)


# --- speaking -----------------------------------------------------------------------------


def test_speech_and_sentence_cues_come_back(service: EdgeService, tmp_path: Path) -> None:
    speech = speak(engine_for(service.url), tmp_path)
    assert speech.engine == "edge" and speech.voice == VOICE
    duration = probe_audio(speech.path).duration_s
    assert duration is not None and duration > 2.0
    assert [cue.text for cue in speech.cues] == [
        "Kính thưa bà con.", "Hôm nay trời mưa to!", "Đề nghị bà con chú ý theo dõi."
    ]  # fmt: skip
    starts = [cue.start_s for cue in speech.cues]
    assert starts == sorted(starts) and starts[0] == 0.0
    assert speech.cues[-1].end_s == pytest.approx(duration, abs=0.15)


def test_options_reach_the_service_as_prosody(service: EdgeService, tmp_path: Path) -> None:
    options = SpeechOptions(rate_percent=-10, pitch_hz=5, volume_percent=20)
    speak(engine_for(service.url), tmp_path, options=options)
    (request,) = service.requests
    assert (request.rate, request.pitch, request.volume) == ("-10%", "+5Hz", "+20%")
    assert request.voice == VOICE


def test_long_text_is_cut_between_sentences_and_joined_in_order(
    service: EdgeService, tmp_path: Path
) -> None:
    service.tone_s_per_char = 0.002
    sentences = [f"Câu số {n} nói về mưa lũ & sạt lở ở bản {n}." for n in range(400)]
    speech = speak(engine_for(service.url), tmp_path, text=" ".join(sentences))
    assert len(service.requests) >= 4
    for request in service.requests:
        assert escaped_bytes(request.text) <= MAX_CHUNK_BYTES
        assert request.text.endswith(".")  # every cut is between sentences
    first_sentence = {
        request.text.split(". ")[0] + ".": request.text for request in service.requests
    }
    in_order = [first_sentence[sentence] for sentence in sentences if sentence in first_sentence]
    assert " ".join(in_order) == " ".join(sentences)
    assert [cue.text for cue in speech.cues] == sentences
    starts = [cue.start_s for cue in speech.cues]
    assert all(later > earlier for earlier, later in itertools.pairwise(starts))
    duration = probe_audio(speech.path).duration_s
    assert duration == pytest.approx(speech.cues[-1].end_s, abs=0.3)


def test_connections_are_capped(service: EdgeService, tmp_path: Path) -> None:
    service.tone_s_per_char = 0.002
    text = " ".join(
        f"Thông báo số {n} của ủy ban nhân dân xã về lịch tiêm chủng." for n in range(600)
    )
    speak(engine_for(service.url, max_connections=3), tmp_path, text=text)
    assert len(service.requests) >= 8
    assert 1 < service.peak_connections <= 3


# --- the service's failure modes ----------------------------------------------------------


@pytest.mark.parametrize("failure", ["http-403", "http-429", "http-503", "no-audio", "drop"])
def test_a_transient_failure_is_retried(failure: str, service: EdgeService, tmp_path: Path) -> None:
    service.script([failure, failure])
    speech = speak(engine_for(service.url), tmp_path)
    assert probe_audio(speech.path).duration_s
    assert service.handshakes >= 3  # two failures, then the answer


def test_retry_after_is_honoured(service: EdgeService, tmp_path: Path) -> None:
    service.script(["http-429"])
    started = time.monotonic()
    speak(engine_for(service.url), tmp_path)
    assert time.monotonic() - started >= 1.0  # the server said Retry-After: 1


def test_persistent_failure_makes_the_engine_unavailable_and_paused(
    service: EdgeService, tmp_path: Path
) -> None:
    service.script(["http-503"] * 10)
    engine = engine_for(service.url, max_attempts=3)
    with pytest.raises(EngineUnavailable, match="HTTP 503"):
        speak(engine, tmp_path)
    assert service.handshakes == 3
    with pytest.raises(EngineUnavailable, match="not tried again"):
        speak(engine, tmp_path)
    assert service.handshakes == 3  # paused: the second request did not connect


def test_the_pause_is_shared_by_processes_and_ends_when_the_service_answers(
    service: EdgeService, tmp_path: Path
) -> None:
    service.script(["http-503"] * 3)
    settings = EdgeSettings(service_url=service.url, max_attempts=3, **FAST_RETRIES)
    with pytest.raises(EngineUnavailable, match="HTTP 503"):
        speak(EdgeEngine(settings, state_dir=tmp_path / "state"), tmp_path)
    another_process = EdgeEngine(settings, state_dir=tmp_path / "state")
    with pytest.raises(EngineUnavailable, match=r"\(HTTP 503 .*\); not tried again for 300 s"):
        speak(another_process, tmp_path)
    assert service.handshakes == 3
    (tmp_path / "state" / "edge-unreachable.json").write_text('{"until": 0, "reason": "old"}')
    assert speak(another_process, tmp_path).cues  # the pause is over: it asks again
    assert not (tmp_path / "state" / "edge-unreachable.json").exists()


def test_no_audio_for_a_voice_does_not_pause_the_engine(
    service: EdgeService, tmp_path: Path
) -> None:
    service.script(["no-audio"] * 3)
    engine = engine_for(service.url, max_attempts=3)
    with pytest.raises(EngineUnavailable, match="NoAudioReceived"):
        speak(engine, tmp_path)
    assert probe_audio(speak(engine, tmp_path).path).duration_s  # reachable: tried again


def test_a_silent_service_is_given_up_at_the_first_audio_timeout(
    service: EdgeService, tmp_path: Path
) -> None:
    service.script(["stall"] * 10)
    engine = engine_for(service.url, first_audio_timeout_s=1.5)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=r"no audio within 1\.5 s"):
        speak(engine, tmp_path)
    assert time.monotonic() - started < 3.0


def test_a_stream_that_stops_never_hangs_past_the_timeout(
    service: EdgeService, tmp_path: Path
) -> None:
    service.script(["stall-after-audio"] * 10)
    engine = engine_for(service.url, timeout_s=2.0, receive_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="not spoken within 2 s"):
        speak(engine, tmp_path)
    assert time.monotonic() - started < 3.5


def test_a_refused_connection_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = engine_for(f"ws://127.0.0.1:{port}/edge/v1")
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=f"cannot connect to 127.0.0.1:{port}"):
        speak(engine, tmp_path)
    assert time.monotonic() - started < 5.0


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port that accepts TCP connections and never says a word (a dead link's proxy)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}/edge/v1"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_black_hole_is_given_up_at_the_first_audio_timeout(
    black_hole: str, tmp_path: Path
) -> None:
    engine = engine_for(black_hole, first_audio_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="no audio within 2 s"):
        speak(engine, tmp_path)
    assert time.monotonic() - started < 3.0


# --- cutting text for the service ---------------------------------------------------------


def test_chunks_keep_sentences_whole_and_fit_the_limit() -> None:
    sentences = [f"Câu {n} có dấu & và <ký hiệu> đặc biệt." for n in range(300)]
    chunks = split_for_service(" ".join(sentences), limit=1000)
    assert len(chunks) > 5
    assert all(escaped_bytes(chunk) <= 1000 for chunk in chunks)
    assert " ".join(chunks) == " ".join(sentences)
    assert all(chunk.endswith(".") for chunk in chunks)


def test_a_sentence_over_the_limit_is_cut_between_words() -> None:
    sentence = " ".join(["mưa"] * 2000)
    chunks = split_for_service(sentence, limit=500)
    assert all(escaped_bytes(chunk) <= 500 for chunk in chunks)
    assert " ".join(chunks) == sentence


def test_a_word_over_the_limit_is_cut_between_characters() -> None:
    word = "ạ" * 3000  # three bytes each
    chunks = split_for_service(word, limit=1000)
    assert all(escaped_bytes(chunk) <= 1000 for chunk in chunks)
    assert "".join(chunks) == word


def test_the_limit_counts_escaped_bytes() -> None:
    assert escaped_bytes("a & b") == len("a &amp; b")
    chunks = split_for_service("& " * 600, limit=1000)  # 1,200 bytes, 3,599 escaped
    assert len(chunks) == 4  # 166 "&amp;" and their spaces fit in 1,000 bytes
    assert all(escaped_bytes(chunk) <= 1000 for chunk in chunks)
