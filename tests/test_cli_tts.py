"""``loa tts``: the real command in a subprocess, with espeak-ng, ffmpeg and the phrase bank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from config import EXAMPLE_CONFIG
from tests.cli import one_line_error, run_loa
from tests.meter import decode, integrated_lufs

BULLETIN = "Sáng nay, UBND huyện họp lúc 7h30 về 12/22 xã đạt chuẩn nông thôn mới."
ESPEAK_ONLY = '{"vi": ["espeak"], "hni": ["recorded", "phrasebank"]}'


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The example district, with chains for vi and hni only (lhu and blt have none)."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["tts"]["chains"] = json.loads(ESPEAK_ONLY)
    config["tts"].pop("lexicon")
    path = tmp_path / "loa.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return {"LOA_CONFIG": str(path), "LOA_DATA_DIR": str(tmp_path / "var")}


def synth_json(env: dict[str, str], *args: str) -> dict[str, object]:
    result = run_loa("tts", "synth", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_synth_speaks_and_reports_as_json(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "ban-tin.mp3"
    data = synth_json(env, "--language", "vi", "--text", BULLETIN, "--out", str(out))
    assert set(data) == {
        "engine", "voice", "language", "fallbacks", "cached", "duration_s", "transcript",
        "synthesis_s",
    }  # fmt: skip
    assert (data["engine"], data["voice"], data["language"]) == ("espeak", "vi", "vi")
    assert data["fallbacks"] == [] and data["cached"] is False
    assert data["transcript"] == str(out.with_suffix(".vtt"))
    vtt = out.with_suffix(".vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "ủy ban nhân dân huyện" in vtt
    assert "ủy ban nhân dân huyện" in out.with_suffix(".srt").read_text(encoding="utf-8")
    assert abs(integrated_lufs(decode(out)) - -16.0) <= 0.5  # an independent meter
    assert data["duration_s"] == pytest.approx(len(decode(out).samples) / 48000, abs=0.1)
    again = synth_json(env, "--language", "vi", "--text", BULLETIN, "--out", str(out))
    assert again["cached"] is True


def test_the_default_chain_falls_back_to_espeak_offline(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "LOA_TTS__EDGE__SERVICE_URL": "ws://127.0.0.1:9/edge/v1"}  # discard port
    env.pop("LOA_CONFIG")  # the example district: vi is [edge, espeak]
    data = synth_json(env, "-l", "vi", "-t", "Xin chào bà con.", "-o", str(tmp_path / "a.mp3"))
    assert data["engine"] == "espeak"
    (fallback,) = data["fallbacks"]  # type: ignore[misc]
    assert fallback["engine"] == "edge" and "cannot connect" in fallback["reason"]


def test_raw_keeps_the_engines_own_audio(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    synth_json(env, "-l", "vi", "-t", "Xin chào.", "-o", str(out), "--raw")
    assert out.read_bytes()[:4] == b"RIFF"  # espeak-ng's WAV, not processed to MP3


def test_normalize_text_reads_stdin(env: dict[str, str]) -> None:
    result = run_loa("tts", "normalize-text", "--language", "vi", env=env, stdin=BULLETIN + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Sáng nay, ủy ban nhân dân huyện họp lúc bảy giờ ba mươi phút về mười hai trên hai "
        "mươi hai xã đạt chuẩn nông thôn mới.\n"
    )


def test_the_phrase_bank_speaks_an_alert_template(env: dict[str, str], tmp_path: Path) -> None:
    built = run_loa("tts", "demo-phrasebank", env=env)
    assert built.returncode == 0, built.stderr
    out = tmp_path / "canh-bao-hni.mp3"
    data = synth_json(
        env, "-l", "hni", "--template", "alert", "--slot", "hazard=flash-flood",
        "--slot", "level=4", "--slot", "place=bum-nua", "--slot", "time=19:00",
        "--slot", "time.until=07:00", "-o", str(out),
    )  # fmt: skip
    assert (data["engine"], data["voice"]) == ("phrasebank", "demo-stand-in")
    transcript = Path(str(data["transcript"]))
    assert "lũ quét" in transcript.read_text(encoding="utf-8")
    assert transcript.with_suffix(".srt").is_file()
    missing = run_loa(
        "tts", "synth", "-l", "hni", "--template", "alert-short", "--slot", "hazard=meteor",
        "--slot", "place=atlantis", "-o", str(tmp_path / "x.mp3"), env=env,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "hazard.meteor, place.atlantis" in one_line_error(missing)
    assert not (tmp_path / "x.mp3").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "vi", "-t", ""], "empty"),
        (["-l", "vi", "-t", "?!… --"], "no letters or digits"),
        (["-l", "xx", "-t", "Xin chào"], "unknown language 'xx'"),
        (["-l", "lhu", "-t", "Xin chào"], "no TTS engine is configured for language 'lhu'"),
        (["-l", "vi", "-t", "Xin chào", "--voice", "vi-VN-Nobody"], "has voice 'vi-VN-Nobody'"),
        (["-l", "vi", "-t", "Xin chào", "--engine", "piper"], "unknown TTS engine 'piper'"),
        (["-l", "vi", "-t", "Xin chào", "--rate", "300"], "rate +300%"),
        (["-l", "vi", "--text-file", "/nonexistent/ban-tin.txt"], "/nonexistent/ban-tin.txt"),
        (["-l", "vi", "-t", "a", "--text-file", "/etc/hostname"], "not both"),
        (["-l", "hni", "--template", "alert", "--slot", "level"], "--slot 'level'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out.mp3"
    result = run_loa("tts", "synth", *args, "--out", str(out), env=env)
    assert result.returncode == 2, result.stderr
    assert message in one_line_error(result)
    assert not out.exists()


def test_an_mp3_name_is_required_unless_raw(env: dict[str, str], tmp_path: Path) -> None:
    result = run_loa(
        "tts", "synth", "-l", "vi", "-t", "Xin chào", "-o", str(tmp_path / "a.wav"), env=env
    )
    assert result.returncode == 2
    assert "give it a .mp3 name" in one_line_error(result)


def test_engines_lists_each_languages_chain(env: dict[str, str]) -> None:
    result = run_loa("tts", "engines", "--json", env=env)
    assert result.returncode == 0, result.stderr
    chains = json.loads(result.stdout)["chains"]
    assert chains["vi"] == ["espeak"] and chains["hni"] == ["recorded", "phrasebank"]
    assert chains["lhu"] == []  # spoken in the district, no chain configured
