"""``loa tts``: speak a text, normalise one, list the engines (DESIGN.md §7)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app._output import console, errors, print_json, progress_bar
from config import Settings, UserInputError

if TYPE_CHECKING:
    # Imported where used: every `loa` command (the agent's too) would otherwise load
    # the speech engines, the audio engine and numpy.
    from pipeline.tts import Synthesis, Utterance

tts_app = typer.Typer(help="Chuyển văn bản thành giọng nói (edge-tts, espeak-ng, ghi âm, kho câu).",
                      no_args_is_help=True)  # fmt: skip


@tts_app.command("synth")
def synth_command(
    ctx: typer.Context,
    language: Annotated[str, typer.Option("--language", "-l", help="Mã ngôn ngữ: vi, km, hni…")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Tệp ra (MP3 đã xử lý).")],
    text: Annotated[str | None, typer.Option("--text", "-t", help="Văn bản cần đọc.")] = None,
    text_file: Annotated[
        Path | None, typer.Option("--text-file", "-f", help="Tệp văn bản UTF-8.")
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", "-e", help="Chỉ dùng bộ đọc này.")
    ] = None,
    voice: Annotated[str | None, typer.Option("--voice", help="Giọng đọc.")] = None,
    rate: Annotated[int, typer.Option(help="Tốc độ, % so với mặc định.")] = 0,
    pitch: Annotated[int, typer.Option(help="Cao độ, Hz so với mặc định.")] = 0,
    volume: Annotated[int, typer.Option(help="Âm lượng, % so với mặc định.")] = 0,
    recording: Annotated[
        Path | None, typer.Option("--recording", help="Bản ghi âm của người bản ngữ.")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Mẫu câu trong kho câu (phrasebank).")
    ] = None,
    slots: Annotated[
        list[str] | None,
        typer.Option("--slot", help="Giá trị của mẫu: hazard=flash-flood, level=3, time=19:00…"),
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Ghi âm thanh của bộ đọc, không xử lý độ to.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Đọc một văn bản bằng chuỗi bộ đọc của ngôn ngữ, xử lý theo chính sách âm thanh."""
    from app._speech import text_to_speech
    from pipeline import export_speech
    from pipeline.tts import SpeechOptions, SpeechRequest

    settings: Settings = ctx.obj.settings
    _check_out(out, raw)
    request = SpeechRequest(
        language=language,
        text=_text(text, text_file, required=recording is None and template is None),
        voice=voice,
        options=SpeechOptions(rate_percent=rate, pitch_hz=pitch, volume_percent=volume),
        recording=recording,
        utterance=_utterance(template, slots or []),
    )
    with _status("Đang đọc văn bản…", enabled=not as_json):
        synthesis = text_to_speech(settings).speak(request, engine=engine)
    profile = None if raw else settings.audio.profile()
    with progress_bar("Đang xử lý âm thanh", enabled=not as_json and not raw) as report:
        exported = export_speech(
            synthesis.speech,
            out,
            profile=profile,
            profile_name=settings.audio.default_profile,
            progress=report,
        )
    if as_json:
        print_json(
            synthesis.to_dict()
            | {
                "duration_s": round(exported.duration_s, 3),
                "transcript": str(exported.transcript) if exported.transcript else None,
                "synthesis_s": round(synthesis.seconds, 3),
            }
        )
        return
    _print_synthesis(synthesis, out, exported.duration_s, exported.transcript)


@tts_app.command("normalize-text")
def normalize_text_command(
    ctx: typer.Context,
    language: Annotated[str, typer.Option("--language", "-l", help="Mã ngôn ngữ.")] = "vi",
) -> None:
    """Chuẩn hoá văn bản từ stdin (số, ngày, giờ, đơn vị, chữ viết tắt) rồi in ra."""
    from app._speech import text_to_speech

    tts = text_to_speech(ctx.obj.settings)
    tts.check_language(language)
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserInputError(
            f"stdin: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    sys.stdout.write(tts.normalize(text, language) + ("\n" if text.endswith("\n") else ""))


@tts_app.command("engines")
def engines_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON.")] = False,
) -> None:
    """Liệt kê chuỗi bộ đọc của từng ngôn ngữ."""
    from app._speech import text_to_speech

    tts = text_to_speech(ctx.obj.settings)
    chains = {language: tts.chain_or_empty(language) for language in tts.languages}
    if as_json:
        print_json({"chains": chains, "engines": tts.engine_names})
        return
    table = Table("Ngôn ngữ", "Chuỗi bộ đọc (theo thứ tự thử)")
    for language, chain in chains.items():
        table.add_row(language, " → ".join(chain) if chain else "[red]chưa cấu hình[/red]")
    console.print(table)


@tts_app.command("demo-phrasebank")
def demo_phrasebank_command(ctx: typer.Context) -> None:
    """Tạo kho câu mẫu (giọng máy espeak-ng thay thế) cho các ngôn ngữ dân tộc của huyện."""
    from pipeline.tts import build_demo_phrasebank

    settings: Settings = ctx.obj.settings
    languages = [code for code in settings.organisation.district.languages if code != "vi"]
    folders = build_demo_phrasebank(settings.phrasebank_dir, languages, espeak_voice="vi")
    for folder in folders:
        console.print(
            f"Kho câu mẫu: {folder} (giọng máy thay thế, cần thay bằng giọng người bản ngữ)"
        )


@contextmanager
def _status(message: str, *, enabled: bool) -> Iterator[None]:
    if not enabled or not errors.is_terminal:
        yield
        return
    with errors.status(message):
        yield


def _text(text: str | None, text_file: Path | None, *, required: bool) -> str:
    if text is not None and text_file is not None:
        raise UserInputError("give --text or --text-file, not both")
    if text_file is not None:
        from content import read_text_file  # the database layer is not needed to read it

        return read_text_file(text_file)
    if text is None and required:
        raise UserInputError("give the text to speak: --text or --text-file")
    return text or ""


def _utterance(template: str | None, slots: list[str]) -> Utterance | None:
    from pipeline.tts import Utterance

    if template is None:
        if slots:
            raise UserInputError("--slot needs --template")
        return None
    values: dict[str, str] = {}
    for slot in slots:
        name, equals, value = slot.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise UserInputError(f"--slot {slot!r}: write it as name=value, e.g. level=3")
        values[name.strip()] = value.strip()
    return Utterance(template, values)


def _check_out(out: Path, raw: bool) -> None:
    if out.is_dir():
        raise UserInputError(f"{out}: is a directory, not an output file")
    if not raw and out.suffix.lower() != ".mp3":
        raise UserInputError(f"{out}: the output is MP3: give it a .mp3 name (or use --raw)")
    if not out.parent.is_dir():
        raise UserInputError(f"{out}: the folder {out.parent} does not exist")


def _print_synthesis(
    synthesis: Synthesis, out: Path, duration_s: float, transcript: Path | None
) -> None:
    source = "bộ nhớ đệm" if synthesis.cached else f"{synthesis.seconds:.1f} giây"
    console.print(
        f"Đã đọc bằng [bold]{synthesis.engine}[/bold], giọng {synthesis.voice} ({source}); "
        f"{duration_s:.1f} giây âm thanh → {out}"
    )
    for fallback in synthesis.fallbacks:
        errors.print(f"  bỏ qua {fallback.engine}: {fallback.reason}", markup=False)
    if transcript is not None:
        console.print(f"Phụ đề: {transcript} và {transcript.with_suffix('.srt')}")
