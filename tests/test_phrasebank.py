"""The ``phrasebank`` engine with real espeak-ng and ffmpeg, on the demo bank.

The demo bank is built once per session; tests that change a bank work on a copy. The
assembled speech is judged with ffprobe (durations) and the independent loudness meter of
``tests/meter.py``; expected phrases are written out here, not taken from the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import unicodedata
import wave
from pathlib import Path

import pytest
import yaml

from config import EXAMPLE_CONFIG, load_settings
from pipeline._errors import AudioInputError, TTSInputError
from pipeline._media import probe_audio
from pipeline.tts._base import EngineUnavailable, SpeechRequest, Utterance
from pipeline.tts._demo_bank import README_FILE, build_demo_phrasebank
from pipeline.tts._phrasebank import (
    INDEX_FILE,
    MissingPhrases,
    PhraseBank,
    PhrasebankEngine,
    PhrasebankError,
)
from tests.meter import decode, ffprobe_stream, integrated_lufs

DEMO_LANGUAGES = ("hni", "lhu", "blt")
VOICE = "demo-stand-in"
DEMO_GAP_S = 0.15
DURATION_TOLERANCE_S = 0.05
QUIETEST_SPEECH_LUFS = -40.0

ALERT = Utterance(
    "alert",
    {
        "hazard": "flash-flood",
        "level": "3",
        "place": "ta-tong",
        "time": "17:30",
        "time.until": "20:00",
    },
)
# What the alert above says, phrase by phrase: 20:00 is a whole hour, said without minutes.
ALERT_PHRASES = [
    ("attention", "Chú ý! Chú ý!"),
    ("hazard.flash-flood", "lũ quét"),
    ("risk-level", "rủi ro thiên tai"),
    ("level.3", "cấp độ ba"),
    ("at", "tại"),
    ("place.ta-tong", "xã Tà Tổng"),
    ("from", "từ"),
    ("hour.17", "mười bảy giờ"),
    ("minute.30", "ba mươi phút"),
    ("until", "đến"),
    ("hour.20", "hai mươi giờ"),
    ("evacuate", "Bà con di chuyển ngay đến nơi an toàn."),
]


@pytest.fixture(scope="session")
def engine(demo_root: Path) -> PhrasebankEngine:
    return PhrasebankEngine(demo_root)


@pytest.fixture
def copied_root(demo_root: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's Hà Nhì bank, to change."""
    root = tmp_path / "banks"
    shutil.copytree(demo_root / "hni", root / "hni")
    return root


def alert_request(**slots: str) -> SpeechRequest:
    return SpeechRequest(language="hni", utterance=Utterance("alert", {**ALERT.slots, **slots}))


def write_bank(folder: Path, index: str, files: tuple[str, ...] = ()) -> Path:
    """A bank folder with ``index`` and placeholder ``files`` (loading reads no audio)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"RIFF")
    (folder / INDEX_FILE).write_text(textwrap.dedent(index), encoding="utf-8")
    return folder


# --- The demo bank --------------------------------------------------------------------


def test_every_demo_bank_says_it_is_a_stand_in(demo_root: Path, engine: PhrasebankEngine) -> None:
    for language in DEMO_LANGUAGES:
        folder = demo_root / language
        index = yaml.safe_load((folder / INDEX_FILE).read_text(encoding="utf-8"))
        readme = (folder / README_FILE).read_text(encoding="utf-8")
        assert index["stand_in"] is True
        assert "STAND-IN" in index["note"]
        assert "native" in readme and "người bản ngữ" in readme
        assert PhraseBank.load(folder).stand_in
        assert engine.voices(language) == [VOICE]
    assert engine.languages() == sorted(DEMO_LANGUAGES)


def test_demo_bank_names_every_commune_of_the_example_district(demo_root: Path) -> None:
    bank = PhraseBank.load(demo_root / "hni")
    communes = load_settings(EXAMPLE_CONFIG).organisation.commune_ids()
    assert [commune for commune in communes if f"place.{commune}" not in bank.phrases] == []


def test_demo_build_is_idempotent(demo_root: Path) -> None:
    files = sorted(path for path in demo_root.rglob("*") if path.is_file())
    before = {path: path.stat().st_mtime_ns for path in files}
    fractions: list[float] = []
    folders = build_demo_phrasebank(demo_root, progress=fractions.append)
    assert folders == [demo_root / language for language in DEMO_LANGUAGES]
    assert {path: path.stat().st_mtime_ns for path in files} == before
    assert sorted(path for path in demo_root.rglob("*") if path.is_file()) == files
    assert fractions[-1] == 1.0


def test_a_damaged_demo_bank_is_rebuilt_in_one_piece(tmp_path: Path) -> None:
    fractions: list[float] = []
    [folder] = build_demo_phrasebank(tmp_path, ["blt"], progress=fractions.append)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 2
    lost = folder / "hazard" / "landslide.wav"
    lost.unlink()
    build_demo_phrasebank(tmp_path, ["blt"])
    assert lost.is_file() and PhraseBank.load(folder).stand_in
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blt"]  # no staging left


def test_demo_build_never_replaces_a_real_bank(tmp_path: Path) -> None:
    real = write_bank(
        tmp_path / "hni",
        """\
        voice: Lò Thị Mai
        phrases:
          attention: {file: attention.wav, transcript: "Chú ý!"}
        """,
        files=("attention.wav",),
    )
    index_before = (real / INDEX_FILE).read_bytes()
    with pytest.raises(PhrasebankError, match="not Loa's demo"):
        build_demo_phrasebank(tmp_path, ["hni"])
    assert (real / INDEX_FILE).read_bytes() == index_before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hni"]


# --- Reading an index -----------------------------------------------------------------


def test_missing_recordings_are_all_named(tmp_path: Path) -> None:
    folder = write_bank(
        tmp_path / "hni",
        """\
        voice: Lò Thị Mai
        phrases:
          attention: {file: attention.wav, transcript: "Chú ý!"}
          hazard.storm: {file: hazard/storm.wav, transcript: "bão"}
          place.pa-u: {file: place/pa-u.wav, transcript: "xã Pa Ủ"}
        """,
        files=("attention.wav",),
    )
    with pytest.raises(PhrasebankError) as raised:
        PhraseBank.load(folder)
    message = str(raised.value)
    assert str(folder / INDEX_FILE) in message
    assert "phrases.hazard.storm (storm.wav)" in message
    assert "phrases.place.pa-u (pa-u.wav)" in message
    assert "attention" not in message


@pytest.mark.parametrize(
    ("phrases", "entry"),
    [
        ('x: {file: ../outside.wav, transcript: "tại"}', "phrases.x.file"),
        ('x: {file: /etc/passwd, transcript: "tại"}', "phrases.x.file"),
        ('x: {file: "", transcript: "tại"}', "phrases.x.file"),
        ("x: {file: x.wav}", "phrases.x.transcript"),
        ('x: {file: x.wav, transcipt: "tại"}', "phrases.x"),
    ],
    ids=["escaping-path", "absolute-path", "empty-file", "no-transcript", "misspelt-key"],
)
def test_a_bad_phrase_entry_is_named(tmp_path: Path, phrases: str, entry: str) -> None:
    index = f"voice: Lò Thị Mai\nphrases:\n  {phrases}\n"
    folder = write_bank(tmp_path / "hni", index, files=("x.wav",))
    with pytest.raises(PhrasebankError) as raised:
        PhraseBank.load(folder)
    assert str(raised.value).startswith(f"{folder / INDEX_FILE}: {entry}:")


def test_bad_yaml_is_named_with_its_line(tmp_path: Path) -> None:
    folder = write_bank(tmp_path / "hni", "voice: Mai\nphrases:\n  x: {file: x.wav\n")
    with pytest.raises(PhrasebankError) as raised:
        PhraseBank.load(folder)
    message = str(raised.value)
    assert message.startswith(str(folder / INDEX_FILE))
    assert "line 4" in message and "not valid YAML" in message


@pytest.mark.parametrize(
    ("extra", "entry", "problem"),
    [
        (
            'templates: {alert: [x, "{weather}"]}',
            "templates.alert[1]",
            "unknown slot kind 'weather'",
        ),
        ('templates: {alert: [x, "{time}"]}', "templates.alert[1]", "needs formats.time"),
        ('templates: {alert: ["x {place}"]}', "templates.alert[0]", "a slot is written"),
        ('formats: {time: ["hour.{hours}"]}', "formats.time[0]", "unknown field"),
        ("gap_s: 9", "gap_s", "from 0 to"),
    ],
    ids=["unknown-slot-kind", "format-missing", "slot-inside-id", "unknown-field", "long-gap"],
)
def test_bad_templates_and_settings_are_named(
    tmp_path: Path, extra: str, entry: str, problem: str
) -> None:
    index = f'voice: Mai\nphrases:\n  x: {{file: x.wav, transcript: "tại"}}\n{extra}\n'
    folder = write_bank(tmp_path / "hni", index, files=("x.wav",))
    with pytest.raises(PhrasebankError) as raised:
        PhraseBank.load(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / INDEX_FILE}: {entry}:")
    assert problem in message


def test_an_index_in_the_wrong_language_folder_is_refused(copied_root: Path) -> None:
    shutil.move(copied_root / "hni", copied_root / "lhu")
    with pytest.raises(PhrasebankError, match="the folder is 'lhu'"):
        PhrasebankEngine(copied_root).voices("lhu")


# --- Assembling an utterance ------------------------------------------------------------


def test_an_alert_is_assembled_from_its_phrases(
    engine: PhrasebankEngine, demo_root: Path, tmp_path: Path
) -> None:
    bank = PhraseBank.load(demo_root / "hni")
    speech = engine.synthesize(alert_request(), VOICE, tmp_path)

    assert (speech.engine, speech.voice) == ("phrasebank", VOICE)
    assert [cue.text for cue in speech.cues] == [text for _, text in ALERT_PHRASES]
    phrase_s = [
        probe_audio(bank.phrases[phrase].file).duration_s or 0.0 for phrase, _ in ALERT_PHRASES
    ]
    expected_s = sum(phrase_s) + bank.gap_s * (len(phrase_s) - 1)
    measured_s = probe_audio(speech.path).duration_s
    assert measured_s == pytest.approx(expected_s, abs=DURATION_TOLERANCE_S)
    for cue, seconds in zip(speech.cues, phrase_s, strict=True):
        assert cue.end_s - cue.start_s == pytest.approx(seconds, abs=0.001)
    starts = [cue.start_s for cue in speech.cues]
    assert starts == sorted(starts) and starts[0] == 0.0
    assert all(
        later.start_s - earlier.end_s == pytest.approx(bank.gap_s)
        for earlier, later in zip(speech.cues, speech.cues[1:], strict=False)
    )
    assert speech.cues[-1].end_s == pytest.approx(measured_s, abs=DURATION_TOLERANCE_S)


def test_the_assembled_alert_is_loud_enough_pcm(engine: PhrasebankEngine, tmp_path: Path) -> None:
    speech = engine.synthesize(alert_request(hazard="landslide", level="5"), VOICE, tmp_path)
    stream = ffprobe_stream(speech.path)["streams"][0]
    assert (stream["codec_name"], stream["channels"]) == ("pcm_s16le", 1)
    assert integrated_lufs(decode(speech.path)) > QUIETEST_SPEECH_LUFS
    assert [path.name for path in tmp_path.iterdir()] == [speech.path.name]  # no leftovers


def test_missing_phrases_are_all_reported_before_any_audio(
    engine: PhrasebankEngine, tmp_path: Path
) -> None:
    request = alert_request(place="khong-co-xa-nay", time="17:07", hazard="volcano")
    out_dir = tmp_path / "out"
    with pytest.raises(MissingPhrases) as raised:
        engine.synthesize(request, VOICE, out_dir)
    missing = raised.value
    assert missing.phrase_ids == ("hazard.volcano", "minute.7", "place.khong-co-xa-nay")
    assert all(phrase in str(missing) for phrase in missing.phrase_ids)
    assert isinstance(missing, EngineUnavailable) and missing.exit_code == 2
    assert not out_dir.exists() or not any(out_dir.iterdir())


@pytest.mark.parametrize(
    ("slot", "value"),
    [("level", "7"), ("level", "ba"), ("time", "25:00"), ("time", "7h30"), ("place", "Tà Tổng")],
)
def test_a_slot_value_that_does_not_parse_is_an_input_error(
    engine: PhrasebankEngine, tmp_path: Path, slot: str, value: str
) -> None:
    with pytest.raises(TTSInputError) as raised:
        engine.synthesize(alert_request(**{slot: value}), VOICE, tmp_path)
    assert f"slot {slot!r} = {value!r}" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_date_is_an_input_error(demo_root: Path) -> None:
    bank = PhraseBank.load(demo_root / "hni")
    slots = {"time": "06:00", "date": "2026-13-01"}
    with pytest.raises(TTSInputError, match=r"slot 'date' = '2026-13-01'"):
        bank.expand(Utterance("issued", slots))


def test_dates_and_whole_hours_follow_the_bank_formats(demo_root: Path) -> None:
    bank = PhraseBank.load(demo_root / "hni")
    issued = bank.expand(Utterance("issued", {"time": "06:00", "date": "2026-04-05"}))
    assert issued == ["issued-at", "hour.6", "on-date", "day.5", "month.4"]
    dated = bank.expand(
        Utterance(
            "alert-dated",
            {
                **ALERT.slots,
                "date": "2026-11-23",
                "time.until": "08:15",
                "date.until": "2026-11-24",
            },
        )
    )
    assert dated == [
        "attention", "hazard.flash-flood", "risk-level", "level.3", "at", "place.ta-tong",
        "from", "hour.17", "minute.30", "on-date", "day.23", "month.11",
        "until", "hour.8", "minute.15", "on-date", "day.24", "month.11", "evacuate",
    ]  # fmt: skip


def test_a_missing_slot_or_template_is_an_input_error(
    engine: PhrasebankEngine, tmp_path: Path
) -> None:
    without_place = {name: value for name, value in ALERT.slots.items() if name != "place"}
    request = SpeechRequest(language="hni", utterance=Utterance("alert", without_place))
    with pytest.raises(TTSInputError, match=r"needs slot\(s\) place"):
        engine.synthesize(request, VOICE, tmp_path)
    unknown = SpeechRequest(language="hni", utterance=Utterance("flood-warning", ALERT.slots))
    with pytest.raises(TTSInputError, match="alert-short"):
        engine.synthesize(unknown, VOICE, tmp_path)


def test_a_number_slot_names_its_phrase(copied_root: Path) -> None:
    index = copied_root / "hni" / INDEX_FILE
    data = yaml.safe_load(index.read_text(encoding="utf-8"))
    data["templates"]["households"] = ["{number}", "at", "{place}"]
    index.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    bank = PhraseBank.load(copied_root / "hni")
    assert bank.expand(Utterance("households", {"number": "012", "place": "pa-u"})) == [
        "number.12", "at", "place.pa-u",
    ]  # fmt: skip
    with pytest.raises(TTSInputError, match="slot 'number' = '-3'"):
        bank.expand(Utterance("households", {"number": "-3", "place": "pa-u"}))


# --- Speaking text with phrases --------------------------------------------------------


def test_text_covered_by_transcripts_is_assembled(engine: PhrasebankEngine, tmp_path: Path) -> None:
    text = "chú ý ,  CHÚ Ý!! Sạt lở đất tại xã Pa Ủ; bà con di chuyển ngay đến nơi an toàn"
    speech = engine.synthesize(SpeechRequest(language="lhu", text=text), VOICE, tmp_path)
    assert [cue.text for cue in speech.cues] == [
        "Chú ý! Chú ý!", "sạt lở đất", "tại", "xã Pa Ủ", "Bà con di chuyển ngay đến nơi an toàn.",
    ]  # fmt: skip
    assert probe_audio(speech.path).duration_s == pytest.approx(
        speech.cues[-1].end_s, abs=DURATION_TOLERANCE_S
    )


def test_text_matching_ignores_the_unicode_form(demo_root: Path) -> None:
    bank = PhraseBank.load(demo_root / "blt")
    composed = "Lũ quét tại xã Nậm Khao."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert bank.cover(decomposed) == bank.cover(composed) == [
        "hazard.flash-flood", "at", "place.nam-khao",
    ]  # fmt: skip


def test_text_not_covered_lets_the_chain_go_on(engine: PhrasebankEngine, tmp_path: Path) -> None:
    request = SpeechRequest(language="hni", text="Chú ý! Bão số năm đang đổ bộ vào đất liền.")
    with pytest.raises(EngineUnavailable) as raised:
        engine.synthesize(request, VOICE, tmp_path)
    assert not isinstance(raised.value, MissingPhrases)
    assert "'số'" in str(raised.value) and "'đang đổ bộ vào đất liền'" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_no_bank_no_language(tmp_path: Path) -> None:
    engine = PhrasebankEngine(tmp_path / "no-such-root")
    assert engine.voices("hni") == [] and engine.languages() == []
    assert engine.voices("../hni") == []
    with pytest.raises(EngineUnavailable, match="no phrase bank for language 'hni'"):
        engine.synthesize(alert_request(), VOICE, tmp_path)
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(PhrasebankError, match="not a folder"):
        PhrasebankEngine(tmp_path / "a-file")


def test_a_voice_the_bank_does_not_have_lets_the_chain_go_on(
    engine: PhrasebankEngine, tmp_path: Path
) -> None:
    with pytest.raises(EngineUnavailable, match="not 'vi-VN-HoaiMyNeural'"):
        engine.synthesize(alert_request(), "vi-VN-HoaiMyNeural", tmp_path)


# --- What the cache keys on -------------------------------------------------------------


def test_identity_changes_when_a_phrase_is_re_recorded(copied_root: Path) -> None:
    engine = PhrasebankEngine(copied_root)
    request = alert_request()
    before = engine.identity(request, VOICE)
    assert engine.identity(request, VOICE) == before
    assert engine.identity(alert_request(level="4"), VOICE) != before

    recording = copied_root / "hni" / "hazard" / "flash-flood.wav"
    stat = recording.stat()
    with recording.open("ab") as audio:
        audio.write(b"\0\0" * 100)
    os.utime(recording, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: size tells
    after = engine.identity(request, VOICE)
    assert after["bank"] != before["bank"]
    assert {key: value for key, value in after.items() if key != "bank"} == {
        key: value for key, value in before.items() if key != "bank"
    }


# --- Recordings as districts send them ---------------------------------------------------


def test_recordings_in_any_format_ffmpeg_decodes(copied_root: Path, tmp_path: Path) -> None:
    folder = copied_root / "hni"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(folder / "attention.wav"), "-c:a", "libmp3lame",
         "-b:a", "64k", str(folder / "attention.mp3")],
        check=True,
    )  # fmt: skip
    (folder / "attention.wav").unlink()
    index = folder / INDEX_FILE
    index.write_text(
        index.read_text(encoding="utf-8").replace("file: attention.wav", "file: attention.mp3"),
        encoding="utf-8",
    )
    request = SpeechRequest(
        language="hni", utterance=Utterance("alert-short", {"hazard": "hail", "place": "mu-ca"})
    )
    speech = PhrasebankEngine(copied_root).synthesize(request, VOICE, tmp_path / "out")
    parts = ["attention.mp3", "hazard/hail.wav", "at.wav", "place/mu-ca.wav", "evacuate.wav"]
    # Decoded, not probed: ffprobe's duration of an MP3 counts the encoder's padding.
    parts_s = [decode(folder / part).duration_s for part in parts]
    expected_s = sum(parts_s) + DEMO_GAP_S * (len(parts) - 1)
    assert decode(speech.path).duration_s == pytest.approx(expected_s, abs=DURATION_TOLERANCE_S)
    assert [cue.end_s - cue.start_s for cue in speech.cues] == pytest.approx(parts_s, abs=0.001)


def test_a_broken_recording_is_named(copied_root: Path, tmp_path: Path) -> None:
    broken = copied_root / "hni" / "place" / "ta-tong.wav"
    broken.write_bytes(b"not audio at all")
    with pytest.raises(AudioInputError, match=str(broken)):
        PhrasebankEngine(copied_root).synthesize(alert_request(), VOICE, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_wav_phrases_are_joined_sample_for_sample(
    engine: PhrasebankEngine, demo_root: Path, tmp_path: Path
) -> None:
    """Phrases that are all PCM WAVs of one format are joined in Python: each phrase's
    samples exactly, with exactly ``gap_s`` of digital silence between them."""
    utterance = Utterance("alert-short", {"hazard": "hail", "place": "mu-ca"})
    speech = engine.synthesize(SpeechRequest("hni", utterance=utterance), VOICE, tmp_path)
    names = ("attention.wav", "hazard/hail.wav", "at.wav", "place/mu-ca.wav", "evacuate.wav")
    files = [demo_root / "hni" / name for name in names]
    expected = b""
    for index, path in enumerate(files):
        with wave.open(str(path), "rb") as phrase:
            if index:
                expected += b"\0" * round(DEMO_GAP_S * phrase.getframerate()) * 2
            expected += phrase.readframes(phrase.getnframes())
    with wave.open(str(speech.path), "rb") as joined:
        assert joined.readframes(joined.getnframes()) == expected
