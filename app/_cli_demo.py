"""``loa demo``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app._output import console, errors, print_json

if TYPE_CHECKING:
    from app._demo import DemoResult


def demo(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Chạy thử toàn tuyến: văn bản → giọng đọc → kho lưu trữ → 3 trạm xã phát."""
    from app._demo import run_demo

    report = errors if as_json else console
    with report.status("Đang chạy thử…") as status:
        result = run_demo(ctx.obj.settings, lambda message: status.update(message))
    if as_json:
        print_json(result.to_dict())
    else:
        communes = ctx.obj.settings.organisation.communes
        _print_table(result, {commune.id: commune.name for commune in communes})


def _print_table(result: DemoResult, names: dict[str, str]) -> None:
    table = Table(
        title=f"Chạy thử Loa — nội dung số {result.content_id}, cảnh báo số {result.alert_id}"
    )
    for heading in ("Xã", "Nội dung", "Lịch phát", "Bắt đầu", "Trễ", "LUFS", "Đỉnh thực"):
        table.add_column(heading)
    for play in result.plays:
        table.add_row(
            names.get(play.commune, play.commune),
            play.item_id,
            play.scheduled[11:19],
            play.started[11:23],
            f"{play.delay_ms} ms",
            f"{play.lufs:.1f}",
            f"{play.true_peak_dbtp:.1f} dBTP",
        )
    console.print(table)
    for language, spoken in result.speech.items():
        skipped = ", ".join(item["engine"] for item in spoken["fallbacks"])
        note = f" (bỏ qua: {skipped})" if skipped else ""
        cached = ", từ bộ nhớ đệm" if spoken["cached"] else ""
        console.print(f"Giọng {language}: {spoken['engine']}, {spoken['voice']}{note}{cached}.")
    console.print(f"Tỉ lệ dùng lại bộ nhớ đệm TTS: {result.tts_cache_hit_rate:.0%}.")
    console.print(f"Kho: {result.s3_endpoint}, bucket {result.bucket}.")
    console.print(f"Dữ liệu giữ lại trong {result.data_dir}.")
    console.print(f"Tổng thời gian: {result.wall_s} s.")
