"""The pipeline with real espeak-ng and ffmpeg.

Loudness and true peak are checked with an independent meter: ffmpeg only decodes, then
pyloudnorm (BS.1770) and a 4x oversampled peak from scipy measure. The code under test
never checks itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from config import AudioProfile, LoaError, TTSSettings, UserInputError
from pipeline import (
    AudioError,
    AudioInputError,
    Clip,
    LoudnessReport,
    ToolNotFoundError,
    TTSError,
    TTSInputError,
    check_tools,
    measure,
    policy_problems,
    process_file,
    render_speech,
)
from pipeline._tools import run_tool
from pipeline.tts import Cue, EngineDirs, Speech, SpeechRequest, SynthesisCache, TextToSpeech
from tests.meter import Decoded, decode, ffprobe_stream, integrated_lufs, true_peak_dbtp

SENTENCE = "Kính thưa bà con nhân dân trong xã. Sáng nay, Ủy ban nhân dân huyện tổ chức hội nghị."
AUDIO = AudioProfile()
TTS = TTSSettings(chains={"vi": ["espeak"]})
TRUE_PEAK_METER_TOLERANCE_DB = 0.1  # two 4x oversampling meters differ by this much
SILENCE_DBFS = -50.0
MAX_EDGE_SILENCE_S = 0.3


# --- independent instruments: ffmpeg only decodes or generates -------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True
    )


def generate(path: Path, lavfi: str, *output_args: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", lavfi, *output_args, str(path))
    return path


def edge_silences_s(decoded: Decoded) -> tuple[float, float]:
    """Seconds below ``SILENCE_DBFS`` before the first and after the last sound."""
    loud = np.flatnonzero(np.max(np.abs(decoded.samples), axis=1) > 10 ** (SILENCE_DBFS / 20))
    frames = len(decoded.samples)
    return loud[0] / decoded.rate, (frames - 1 - loud[-1]) / decoded.rate


def assert_meets_policy_independently(clip: Clip) -> None:
    decoded = decode(clip.path)
    assert abs(integrated_lufs(decoded) - AUDIO.target_lufs) <= AUDIO.tolerance_lu
    assert true_peak_dbtp(decoded) <= AUDIO.max_true_peak_dbtp + TRUE_PEAK_METER_TOLERANCE_DB


def render_text(
    text: str, language: str, *, profile: AudioProfile, tts: TTSSettings, out_dir: Path
) -> Clip:
    """espeak-ng's speech of ``text`` processed into a clip in ``out_dir`` (the synthesis
    cache lives beside it, so the folder holds only clips)."""
    cache = SynthesisCache(out_dir.parent / f"{out_dir.name}-tts-cache", 10**9)
    speaker = TextToSpeech(tts, cache=cache, dirs=EngineDirs(out_dir / "no-bank"), languages=["vi"])
    speech = speaker.speak(SpeechRequest(language, text)).speech
    return render_speech(speech, profile=profile, out_dir=out_dir)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sentence_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    out_dir = tmp_path_factory.mktemp("clips")
    return render_text(SENTENCE, "vi", profile=AUDIO, tts=TTS, out_dir=out_dir)


@pytest.fixture(scope="module")
def sentence_decoded(sentence_clip: Clip) -> Decoded:
    return decode(sentence_clip.path)


# --- the rendered Vietnamese sentence ---------------------------------------------------


def test_rendered_sentence_is_mono_48k_64k_cbr_mp3(sentence_clip: Clip) -> None:
    probed = ffprobe_stream(sentence_clip.path)
    stream = probed["streams"][0]
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("mp3", "48000", 1)
    assert stream["bit_rate"] == "64000"
    assert probed["format"].get("tags", {}) == {}
    kbps = sentence_clip.bytes * 8 / 1000 / float(probed["format"]["duration"])
    assert kbps == pytest.approx(64, rel=0.03)


def test_rendered_sentence_meets_loudness_policy_by_independent_meter(
    sentence_decoded: Decoded,
) -> None:
    assert integrated_lufs(sentence_decoded) == pytest.approx(-16.0, abs=0.5)


def test_rendered_sentence_true_peak_by_independent_meter(sentence_decoded: Decoded) -> None:
    assert true_peak_dbtp(sentence_decoded) <= -1.5 + TRUE_PEAK_METER_TOLERANCE_DB


def test_rendered_sentence_has_at_most_300_ms_silence_at_each_end(
    sentence_decoded: Decoded,
) -> None:
    leading, trailing = edge_silences_s(sentence_decoded)
    assert leading <= MAX_EDGE_SILENCE_S
    assert trailing <= MAX_EDGE_SILENCE_S


def test_clip_describes_its_file(sentence_clip: Clip, sentence_decoded: Decoded) -> None:
    data = sentence_clip.path.read_bytes()
    assert sentence_clip.sha256 == hashlib.sha256(data).hexdigest()
    assert sentence_clip.path.name == f"{sentence_clip.sha256}.mp3"
    assert sentence_clip.bytes == len(data)
    assert sentence_clip.duration_ms == pytest.approx(sentence_decoded.duration_s * 1000, abs=30)
    assert (sentence_clip.engine, sentence_clip.voice, sentence_clip.extension) == (
        "espeak",
        "vi",
        "mp3",
    )
    assert sentence_clip.meets_policy(AUDIO)
    assert sentence_clip.output.lufs == pytest.approx(integrated_lufs(sentence_decoded), abs=0.3)


def test_clip_reports_input_and_output_as_json(sentence_clip: Clip) -> None:
    data = json.loads(json.dumps(sentence_clip.to_dict(), allow_nan=False))
    assert data["input"]["sample_rate"] == 22050  # espeak-ng's own rate
    assert data["output"]["sample_rate"] == 48000
    assert data["output"]["duration_s"] < data["input"]["duration_s"]  # silence trimmed


def test_out_dir_holds_only_the_clip_and_its_transcripts(sentence_clip: Clip) -> None:
    vtt, srt = sentence_clip.path.with_suffix(".vtt"), sentence_clip.path.with_suffix(".srt")
    assert sorted(sentence_clip.path.parent.iterdir()) == sorted([sentence_clip.path, vtt, srt])
    assert sentence_clip.transcript == vtt


def test_the_transcript_follows_the_trimmed_clip(sentence_clip: Clip) -> None:
    """One cue per sentence, moved by the silence trimmed, ending within the clip."""
    assert sentence_clip.transcript is not None
    cues = re.findall(
        r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)",
        sentence_clip.transcript.read_text(encoding="utf-8"),
    )
    assert [cue[-1] for cue in cues] == [
        "Kính thưa bà con nhân dân trong xã.",
        "Sáng nay, Ủy ban nhân dân huyện tổ chức hội nghị.",
    ]
    seconds = [
        (int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000)
        for cue in cues
        for h, m, s, ms in (cue[0:4], cue[4:8])
    ]
    assert seconds[0] == 0.0  # espeak-ng's leading silence is under the 0.3 s kept
    assert seconds == sorted(seconds)
    duration_s = sentence_clip.duration_ms / 1000
    assert duration_s - 0.5 < seconds[-1] < duration_s + 0.5


def test_same_text_and_settings_give_the_same_bytes(sentence_clip: Clip, tmp_path: Path) -> None:
    again = render_text(SENTENCE, "vi", profile=AUDIO, tts=TTS, out_dir=tmp_path)
    assert again.sha256 == sentence_clip.sha256
    assert again.path.read_bytes() == sentence_clip.path.read_bytes()


def test_cues_move_with_the_leading_silence_trimmed(tmp_path: Path) -> None:
    """Speech that starts after 2 s of silence: the clip keeps at most 0.3 s of it, and
    the transcript's cue moves by what was cut, to where the voice is in the clip."""
    voice = tmp_path / "voice.wav"
    run_tool(["espeak-ng", "-v", "vi", "-w", str(voice), "Kính thưa bà con."], timeout=30)
    late = tmp_path / "late.wav"
    ffmpeg("-i", str(voice), "-af", "adelay=2000,aresample=48000", str(late))
    speech = Speech(late, "espeak", "vi", (Cue(2.0, 3.2, "Kính thưa bà con."),))
    clip = render_speech(speech, profile=AUDIO, out_dir=tmp_path / "clips")
    assert clip.transcript is not None
    start = re.search(r"(\d\d):(\d\d)\.(\d{3}) -->", clip.transcript.read_text(encoding="utf-8"))
    assert start is not None
    cue_s = int(start[1]) * 60 + int(start[2]) + int(start[3]) / 1000
    lead_in_voice_s = edge_silences_s(decode(voice))[0]  # espeak-ng's own, before the words
    voice_in_clip_s = edge_silences_s(decode(clip.path))[0]
    assert abs(cue_s + lead_in_voice_s - voice_in_clip_s) < 0.03
    assert cue_s <= MAX_EDGE_SILENCE_S


# --- text-to-speech input ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_user_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(TTSInputError, match="empty") as raised:
        render_text(text, "vi", profile=AUDIO, tts=TTS, out_dir=tmp_path)
    assert isinstance(raised.value, UserInputError)
    assert raised.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_language_without_engine_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(TTSInputError, match="unknown language 'hni'") as raised:
        render_text("Nyuq", "hni", profile=AUDIO, tts=TTS, out_dir=tmp_path)
    assert raised.value.exit_code == 2


def test_unknown_espeak_voice_is_reported(tmp_path: Path) -> None:
    settings = TTSSettings(chains={"vi": ["espeak"]}, espeak={"voice": "xx-none"})
    with pytest.raises(TTSError, match=r"no voice 'xx-none'.*tts.espeak.voice"):
        render_text(SENTENCE, "vi", profile=AUDIO, tts=settings, out_dir=tmp_path)


# --- recordings and generated sources ---------------------------------------------------


def test_loud_stereo_44k_source_meets_the_policy(tmp_path: Path) -> None:
    source = generate(
        tmp_path / "loud.wav",
        "aevalsrc=exprs=0.95*sin(2*PI*440*t)*(0.6+0.4*sin(2*PI*3*t))|"
        "0.9*sin(2*PI*660*t):s=44100:d=4",
    )
    clip = process_file(source, profile=AUDIO, out_dir=tmp_path / "out")
    assert (clip.input.sample_rate, clip.input.channels) == (44100, 2)
    assert (clip.output.sample_rate, clip.output.channels) == (48000, 1)
    assert (clip.engine, clip.voice) == ("recorded", "")
    assert_meets_policy_independently(clip)


def test_path_with_vietnamese_letters_and_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "Bản tin xã Tân Liên"
    source = generate(folder / "ghi âm sáng 06:00.wav", "anoisesrc=c=pink:r=48000:d=3:a=0.2")
    clip = process_file(source, profile=AUDIO, out_dir=folder / "đầu ra")
    assert clip.path.parent == folder / "đầu ra"
    assert_meets_policy_independently(clip)


def test_quiet_speech_with_long_silences_is_trimmed(tmp_path: Path) -> None:
    quiet_tone = "sine=f=300:r=22050:d=2,volume=-20dB"
    source = generate(
        tmp_path / "quiet.wav",
        f"anullsrc=r=22050:cl=mono:d=1.5[a];{quiet_tone}[b];anullsrc=r=22050:cl=mono:d=2[c];"
        "[a][b][c]concat=n=3:v=0:a=1",
    )
    clip = process_file(source, profile=AUDIO, out_dir=tmp_path / "out")
    leading, trailing = edge_silences_s(decode(clip.path))
    assert leading <= MAX_EDGE_SILENCE_S
    assert trailing <= MAX_EDGE_SILENCE_S
    assert_meets_policy_independently(clip)


def test_text_file_named_mp3_is_a_user_error_naming_the_file(tmp_path: Path) -> None:
    fake = tmp_path / "bản tin.mp3"
    fake.write_text("đây không phải âm thanh\n", encoding="utf-8")
    with pytest.raises(AudioInputError, match=re.escape(str(fake))) as raised:
        process_file(fake, profile=AUDIO, out_dir=tmp_path / "out")
    assert raised.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_file_without_audio_stream_is_a_user_error(tmp_path: Path) -> None:
    image = generate(tmp_path / "hình.png", "testsrc=d=1:s=32x32", "-frames:v", "1")
    with pytest.raises(AudioInputError, match=re.escape(f"{image}: no audio stream")):
        measure(image)


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no such file"):
        process_file(tmp_path / "không có.wav", profile=AUDIO, out_dir=tmp_path)


def test_silent_recording_is_a_user_error(tmp_path: Path) -> None:
    source = generate(tmp_path / "silence.wav", "anullsrc=r=48000:cl=mono:d=2")
    with pytest.raises(AudioInputError, match="silent"):
        process_file(source, profile=AUDIO, out_dir=tmp_path / "out")


def test_clip_shorter_than_a_gating_block_is_measured_and_processed(tmp_path: Path) -> None:
    source = generate(tmp_path / "short.wav", "sine=f=1000:r=48000:d=0.2,volume=-20dB")
    report = measure(source)
    # Shorter than one 400 ms block: measured as one block, the steady level of the tone.
    steady = measure(generate(tmp_path / "steady.wav", "sine=f=1000:r=48000:d=3,volume=-20dB"))
    assert report.lufs == pytest.approx(steady.lufs, abs=0.2)
    assert report.duration_s == pytest.approx(0.2, abs=0.01)
    clip = process_file(source, profile=AUDIO, out_dir=tmp_path / "out")
    decoded = decode(clip.path)
    one_block = pyloudnorm.Meter(decoded.rate, block_size=decoded.duration_s)
    assert one_block.integrated_loudness(decoded.samples) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(decoded) <= -1.5 + TRUE_PEAK_METER_TOLERANCE_DB


# --- measure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lavfi",
    [
        "sine=f=1000:r=48000:d=5,volume=-6dB",
        "anoisesrc=c=pink:r=44100:d=5:a=0.3:seed=7,aformat=channel_layouts=stereo",
        "aevalsrc=exprs=0.5*sin(2*PI*150*t)*sin(2*PI*0.5*t):s=22050:d=6",
    ],
)
def test_measure_agrees_with_an_independent_meter(lavfi: str, tmp_path: Path) -> None:
    source = generate(tmp_path / "signal.wav", lavfi, "-c:a", "pcm_f32le")
    report = measure(source)
    decoded = decode(source)
    assert report.lufs == pytest.approx(integrated_lufs(decoded), abs=0.3)
    assert report.true_peak_dbtp == pytest.approx(true_peak_dbtp(decoded), abs=0.3)
    assert report.duration_s == pytest.approx(decoded.duration_s, abs=0.001)
    assert (report.sample_rate, report.channels) == (decoded.rate, decoded.samples.shape[1])


def test_measure_of_silence_is_finite(tmp_path: Path) -> None:
    report = measure(generate(tmp_path / "silence.wav", "anullsrc=r=48000:cl=mono:d=1"))
    assert report.is_silent
    json.dumps(report.to_dict(), allow_nan=False)


# --- policy, tools and errors -----------------------------------------------------------


def test_policy_problems_name_each_miss() -> None:
    report = LoudnessReport(
        lufs=-17.0, true_peak_dbtp=-1.0, lra=3.0, duration_s=1.0, sample_rate=44100, channels=2
    )
    problems = policy_problems(report, AUDIO)
    assert len(problems) == 4
    assert "-17.0 LUFS" in problems[0]


def test_check_tools_finds_every_tool() -> None:
    assert set(check_tools(TTS)) == {"ffmpeg", "ffprobe", "espeak-ng"}


def test_missing_ffmpeg_gives_the_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FFMPEG_PATH", "/nonexistent")
    expected = "ffmpeg not found at FFMPEG_PATH=/nonexistent: install Debian package ffmpeg"
    with pytest.raises(ToolNotFoundError, match=expected) as raised:
        check_tools()
    assert raised.value.exit_code == 1
    source = generate(tmp_path / "tone.wav", "sine=d=1")
    with pytest.raises(ToolNotFoundError, match=expected):
        process_file(source, profile=AUDIO, out_dir=tmp_path / "out")


def test_check_tools_reports_everything_missing_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFPROBE_PATH", "/nonexistent/ffprobe")
    monkeypatch.setenv("ESPEAK_PATH", "/nonexistent/espeak-ng")
    with pytest.raises(ToolNotFoundError) as raised:
        check_tools(TTS)
    message = str(raised.value)
    assert "ffprobe not found" in message
    assert "espeak-ng not found" in message
    assert "install Debian package espeak-ng" in message


def test_tool_failure_carries_its_last_stderr_lines(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"ffmpeg failed with exit code 1: .*No such file"):
        run_tool(["ffmpeg", "-i", f"file:{tmp_path / 'none.wav'}"], timeout=30)


def test_error_kinds_and_exit_codes() -> None:
    assert issubclass(AudioInputError, AudioError)
    assert issubclass(TTSInputError, TTSError)
    assert AudioError("x").exit_code == 1
    assert TTSError("x").exit_code == 1
    assert isinstance(ToolNotFoundError("x"), LoaError)
    assert not issubclass(ToolNotFoundError, AudioError)  # fatal, not one item's failure


def test_audio_shorter_than_one_hop_is_refused_as_too_short(tmp_path: Path) -> None:
    source = generate(tmp_path / "blip.wav", "sine=f=1000:r=48000:d=0.05")
    with pytest.raises(AudioInputError, match=r"0\.050 s of audio is too short") as raised:
        process_file(source, profile=AUDIO, out_dir=tmp_path / "out")
    assert raised.value.exit_code == 2
    assert list((tmp_path / "out").iterdir()) == []
