"""``loa audio``: process a file to an audio profile, or measure one (DESIGN.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app._output import console, print_json, progress_bar
from config import AudioProfile, Settings, UserInputError

if TYPE_CHECKING:
    # Imported where used: every `loa` command (the agent's too) would otherwise load
    # the audio engine and numpy.
    from pipeline import LoudnessReport, ProcessResult

audio_app = typer.Typer(help="Xử lý và đo âm thanh (−16 LUFS, ≤ −1,5 dBTP).", no_args_is_help=True)

_ROWS = (
    ("Độ to tích hợp", "lufs", "LUFS"),
    ("Đỉnh thực", "true_peak_dbtp", "dBTP"),
    ("Dải độ to (LRA)", "lra", "LU"),
    ("Thời lượng", "duration_s", "giây"),
    ("Tần số lấy mẫu", "sample_rate", "Hz"),
    ("Số kênh", "channels", ""),
)


@audio_app.command("process")
def process_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Tệp vào: WAV, MP3, M4A, OGG, FLAC, AMR, video…")],
    out: Annotated[Path, typer.Argument(help="Tệp MP3 ra.")],
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="Hồ sơ âm thanh (mặc định trong cấu hình)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Xử lý một tệp theo hồ sơ âm thanh, mã hoá MP3 rồi đo lại bản đã mã hoá."""
    from pipeline import process

    settings: Settings = ctx.obj.settings
    name, chosen = _profile(settings, profile)
    _check_output(source, out)
    with progress_bar(f"Đang xử lý {source.name}", enabled=not as_json) as report:
        result = process(source, out, chosen, profile_name=name, progress=report)
    if as_json:
        print_json(result.to_dict())
        return
    _print_result(result)


@audio_app.command("measure")
def measure_command(
    file: Annotated[Path, typer.Argument(help="Tệp âm thanh cần đo.")],
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Đo độ to (ITU-R BS.1770-4), dải độ to và đỉnh thực của một tệp."""
    from pipeline import measure

    report = measure(file)
    if as_json:
        print_json(report.to_dict())
        return
    table = _table(("Tệp", file.name))
    for label, key, unit in _ROWS:
        table.add_row(label, _value(report, key, unit))
    console.print(table)


@audio_app.command("profiles")
def profiles_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON.")] = False,
) -> None:
    """Liệt kê các hồ sơ âm thanh trong cấu hình."""
    audio = ctx.obj.settings.audio
    profiles = {name: audio.profile(name) for name in audio.profile_names()}
    if as_json:
        print_json({name: value.model_dump() for name, value in profiles.items()})
        return
    table = Table("Hồ sơ", "Mục tiêu", "Đỉnh tối đa", "MP3", "Mô tả")
    for name, value in profiles.items():
        default = " (mặc định)" if name == audio.default_profile else ""
        table.add_row(
            name + default,
            f"{value.target_lufs:g} LUFS",
            f"{value.max_true_peak_dbtp:g} dBTP",
            f"{value.bitrate_kbps} kbps, {value.sample_rate} Hz, {value.channels} kênh",
            value.description,
        )
    console.print(table)


def _profile(settings: Settings, name: str | None) -> tuple[str, AudioProfile]:
    chosen = name or settings.audio.default_profile
    try:
        return chosen, settings.audio.profile(chosen)
    except KeyError as exc:
        raise UserInputError(f"--profile: {exc.args[0]}") from None


def _check_output(source: Path, out: Path) -> None:
    if out.suffix.lower() != ".mp3":
        raise UserInputError(f"{out}: the output is MP3: give it a .mp3 name")
    if out.is_dir():
        raise UserInputError(f"{out}: is a directory, not an output file")
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise UserInputError(f"{out}: the output would overwrite the input")


def _print_result(result: ProcessResult) -> None:
    table = _table(("", "Đầu vào"), ("", "Đầu ra"))
    for label, key, unit in _ROWS:
        table.add_row(label, _value(result.input, key, unit), _value(result.output, key, unit))
    console.print(table)
    console.print(f"Hồ sơ: {result.profile}. Đã ghi {result.path} ({result.attempts} lần mã hoá).")


def _table(*headers: tuple[str, str]) -> Table:
    table = Table(headers[0][0] or "Chỉ số")
    for _, title in headers:
        table.add_column(title, justify="right")
    return table


def _value(report: LoudnessReport, key: str, unit: str) -> str:
    value = getattr(report, key)
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    # Vietnamese writes a decimal comma and a true minus sign.
    return f"{text.replace('.', ',').replace('-', '−')} {unit}".strip()
