"""Text-to-speech down a language's chain: real espeak-ng, the real edge-tts client against
the loopback service, the phrase bank and recordings, the cache, and bad input."""

from __future__ import annotations

import itertools
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, TTSSettings, UserInputError
from pipeline import TTSInputError
from pipeline._media import probe_audio
from pipeline.tts import (
    EngineDirs,
    NoEngineSpoke,
    SpeechOptions,
    SpeechRequest,
    SynthesisCache,
    TextToSpeech,
    Utterance,
    build_demo_phrasebank,
)
from tests.edge_service import EdgeService

BULLETIN = "Sáng nay, UBND huyện họp lúc 7h30. Có 12/22 xã đạt chuẩn; hộ nghèo còn 8,5%."
FAST_EDGE: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2}
DISTRICT = ("vi", "hni", "lhu")


@pytest.fixture(scope="module")
def bank_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phrasebank")
    build_demo_phrasebank(root, ["hni"])
    return root


def speaker(tmp_path: Path, bank_root: Path | None = None, **tts: Any) -> TextToSpeech:
    settings = TTSSettings(**{"chains": {"vi": ["espeak"]}, **tts})
    return TextToSpeech(
        settings,
        cache=SynthesisCache(tmp_path / "cache", 10**9),
        dirs=EngineDirs(phrasebank=bank_root or tmp_path / "no-bank"),
        languages=DISTRICT,
    )


def seconds_of(path: Path) -> float:
    duration = probe_audio(path).duration_s
    assert duration is not None
    return duration


# --- Vietnamese, offline ------------------------------------------------------------------


def test_espeak_speaks_normalised_vietnamese_offline(tmp_path: Path) -> None:
    synthesis = speaker(tmp_path).speak(SpeechRequest("vi", BULLETIN))
    assert (synthesis.engine, synthesis.voice, synthesis.cached) == ("espeak", "vi", False)
    assert synthesis.fallbacks == ()
    assert not re.search(r"\d|UBND", synthesis.text)
    assert "ủy ban nhân dân" in synthesis.text and "mười hai trên hai mươi hai" in synthesis.text
    duration = seconds_of(synthesis.speech.path)
    assert duration > 5.0
    cues = synthesis.speech.cues  # one per sentence, from each sentence's own run
    assert [cue.text.split()[0] for cue in cues] == ["Sáng", "Có", "hộ"]
    assert cues[0].start_s == 0.0 and cues[-1].end_s == pytest.approx(duration, abs=0.01)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(cues))


def test_a_second_request_is_a_cache_hit(tmp_path: Path) -> None:
    tts = speaker(tmp_path)
    first = tts.speak(SpeechRequest("vi", BULLETIN))
    again = tts.speak(SpeechRequest("vi", BULLETIN))
    assert again.cached and not first.cached
    assert again.speech.path == first.speech.path
    assert again.seconds < first.seconds


def test_options_and_voice_are_part_of_the_key(tmp_path: Path) -> None:
    tts = speaker(tmp_path)
    plain = tts.speak(SpeechRequest("vi", BULLETIN))
    faster = tts.speak(SpeechRequest("vi", BULLETIN, options=SpeechOptions(rate_percent=30)))
    southern = tts.speak(SpeechRequest("vi", BULLETIN, voice="vi-vn-x-south"))
    assert not faster.cached and not southern.cached
    assert southern.voice == "vi-vn-x-south"
    assert seconds_of(faster.speech.path) < seconds_of(plain.speech.path) * 0.9
    paths = {plain.speech.path, faster.speech.path, southern.speech.path}
    assert len(paths) == 3


def test_a_text_spelled_the_same_after_normalising_is_one_entry(tmp_path: Path) -> None:
    tts = speaker(tmp_path)
    first = tts.speak(SpeechRequest("vi", "Họp lúc 7h30."))
    again = tts.speak(SpeechRequest("vi", "Họp lúc 07:30."))
    assert again.cached and again.speech.path == first.speech.path


def test_the_cache_keeps_to_its_size(tmp_path: Path) -> None:
    cache = SynthesisCache(tmp_path / "cache", 400_000)
    tts = TextToSpeech(
        TTSSettings(chains={"vi": ["espeak"]}),
        cache=cache,
        dirs=EngineDirs(tmp_path / "no-bank"),
        languages=["vi"],
    )
    for number in range(8):
        tts.speak(SpeechRequest("vi", f"Thông báo số {number} của xã về lịch họp thôn bản."))
    total = sum(path.stat().st_size for path in (tmp_path / "cache").rglob("*") if path.is_file())
    assert total <= 400_000
    newest = tts.speak(SpeechRequest("vi", "Thông báo số 7 của xã về lịch họp thôn bản."))
    assert newest.cached  # the most recent entries are the ones kept


def test_mixed_vietnamese_and_english_is_spoken(tmp_path: Path) -> None:
    synthesis = speaker(tmp_path).speak(SpeechRequest("vi", "Hội nghị về Smart City và COVID-19."))
    assert "Smart City" in synthesis.text
    assert seconds_of(synthesis.speech.path) > 1.0


@pytest.mark.slow
def test_200_kb_of_text_is_spoken(tmp_path: Path) -> None:
    paragraph = "Bà con chú ý theo dõi thông tin mưa lũ trên hệ thống loa truyền thanh của xã. "
    text = paragraph * (200_000 // len(paragraph.encode()))
    synthesis = speaker(tmp_path).speak(SpeechRequest("vi", text))
    assert seconds_of(synthesis.speech.path) > 3600


# --- the edge engine in the chain ---------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{probe.getsockname()[1]}/edge/v1"


def test_unreachable_edge_falls_back_to_espeak_within_15_s(tmp_path: Path) -> None:
    tts = speaker(
        tmp_path, chains={"vi": ["edge", "espeak"]}, edge={"service_url": closed_port_url()}
    )
    started = time.monotonic()
    synthesis = tts.speak(SpeechRequest("vi", BULLETIN))
    assert time.monotonic() - started < 15.0
    assert synthesis.engine == "espeak"
    (fallback,) = synthesis.fallbacks
    assert fallback.engine == "edge" and "cannot connect" in fallback.reason
    assert synthesis.to_dict()["fallbacks"] == [{"engine": "edge", "reason": fallback.reason}]


def test_edge_speaks_when_the_service_answers(tmp_path: Path) -> None:
    with EdgeService() as service:
        tts = speaker(tmp_path, chains={"vi": ["edge", "espeak"]},
                      edge={"service_url": service.url, **FAST_EDGE})  # fmt: skip
        synthesis = tts.speak(SpeechRequest("vi", BULLETIN))
        assert (synthesis.engine, synthesis.voice) == ("edge", "vi-VN-HoaiMyNeural")
        assert synthesis.speech.cues and synthesis.fallbacks == ()
        male = tts.speak(SpeechRequest("vi", BULLETIN, voice="vi-VN-NamMinhNeural"))
        assert male.voice == "vi-VN-NamMinhNeural"
        assert service.requests[-1].voice == "vi-VN-NamMinhNeural"
        # espeak-ng lacks the neural voice, so it would speak with its own
        assert service.requests[0].text.startswith("Sáng nay, ủy ban nhân dân huyện")
    offline = tts.speak(SpeechRequest("vi", BULLETIN))  # the service is gone now
    assert offline.cached and offline.engine == "edge"


def test_a_black_holed_service_falls_back_at_the_first_audio_timeout(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}/edge/v1"
    tts = speaker(tmp_path, chains={"vi": ["edge", "espeak"]},
                  edge={"service_url": url, "first_audio_timeout_s": 2.0})  # fmt: skip
    started = time.monotonic()
    synthesis = tts.speak(SpeechRequest("vi", BULLETIN))
    listener.close()
    assert time.monotonic() - started < 4.0
    assert synthesis.engine == "espeak"
    assert "no audio within 2 s" in synthesis.fallbacks[0].reason


# --- ethnic languages: recordings and the phrase bank -------------------------------------


def recording(tmp_path: Path) -> Path:
    path = tmp_path / "native.m4a"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=220:duration=3", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_a_native_recording_is_the_speech(tmp_path: Path, bank_root: Path) -> None:
    chains = {"vi": ["espeak"], "hni": ["recorded", "phrasebank"]}
    source = recording(tmp_path)
    synthesis = speaker(tmp_path, bank_root, chains=chains).speak(
        SpeechRequest("hni", "Nyuq", recording=source)
    )
    assert synthesis.engine == "recorded" and synthesis.speech.path == source
    assert not synthesis.cached


def test_without_a_recording_the_phrase_bank_speaks(tmp_path: Path, bank_root: Path) -> None:
    chains = {"vi": ["espeak"], "hni": ["recorded", "phrasebank"]}
    slots = {"hazard": "flash-flood", "level": "3", "place": "ta-tong", "time": "19:00",
             "time.until": "07:00"}  # fmt: skip
    synthesis = speaker(tmp_path, bank_root, chains=chains).speak(
        SpeechRequest("hni", utterance=Utterance("alert", slots))
    )
    assert synthesis.engine == "phrasebank"
    assert [fallback.engine for fallback in synthesis.fallbacks] == ["recorded"]
    assert "no recording" in synthesis.fallbacks[0].reason
    assert any("lũ quét" in cue.text for cue in synthesis.speech.cues)


def test_missing_phrases_are_named_and_blame_the_input(tmp_path: Path, bank_root: Path) -> None:
    chains = {"vi": ["espeak"], "hni": ["recorded", "phrasebank"]}
    slots = {"hazard": "meteor", "level": "3", "place": "atlantis", "time": "19:00",
             "time.until": "07:00"}  # fmt: skip
    with pytest.raises(NoEngineSpoke, match=r"hazard\.meteor.*place\.atlantis") as raised:
        speaker(tmp_path, bank_root, chains=chains).speak(
            SpeechRequest("hni", utterance=Utterance("alert", slots))
        )
    assert raised.value.exit_code == 2


# --- bad input: refused before any engine runs ---------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SpeechRequest("vi", ""), "empty"),
        (SpeechRequest("vi", "  ...!?  "), "no letters or digits"),
        (SpeechRequest("fr", "Bonjour"), "unknown language 'fr'"),
        (SpeechRequest("VI!", "Xin chào"), "not a language code"),
        (SpeechRequest("lhu", "Xin chào"), "no TTS engine is configured for language 'lhu'"),
        (SpeechRequest("vi", "Xin chào", voice="vi-VN-Nobody"), "has voice 'vi-VN-Nobody'"),
    ],
)
def test_bad_requests_are_the_users_error(
    request_: SpeechRequest, message: str, tmp_path: Path
) -> None:
    with pytest.raises(TTSInputError, match=re.escape(message)) as raised:
        speaker(tmp_path).speak(request_)
    assert isinstance(raised.value, UserInputError) and raised.value.exit_code == 2
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_an_engine_that_does_not_speak_the_language_is_refused(tmp_path: Path) -> None:
    tts = speaker(tmp_path, chains={"vi": ["espeak"], "km": ["edge"]})
    with pytest.raises(TTSInputError, match="engine 'espeak' does not speak 'km'"):
        tts.speak(SpeechRequest("km", "សួស្តី"), engine="espeak")
    with pytest.raises(TTSInputError, match="unknown TTS engine 'piper'"):
        tts.speak(SpeechRequest("vi", "Xin chào"), engine="piper")


def test_out_of_range_options_are_refused() -> None:
    with pytest.raises(TTSInputError, match="rate"):
        SpeechOptions(rate_percent=500)


def test_a_chain_naming_an_unknown_engine_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tts\.chains\.vi: unknown engine 'edg'"):
        speaker(tmp_path, chains={"vi": ["edg", "espeak"]})
