"""``loa content`` (editorial work) and ``loa schedule add`` (publish an approved item)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app._output import console, errors, print_json, progress_bar
from config import Settings, UserInputError

if TYPE_CHECKING:
    from content import ItemView

content_app = typer.Typer(help="Nội dung: thêm, biên dịch, duyệt.", no_args_is_help=True)
variant_app = typer.Typer(help="Bản ngôn ngữ của một nội dung.", no_args_is_help=True)
content_app.add_typer(variant_app, name="variant")
schedule_app = typer.Typer(help="Lịch phát.", no_args_is_help=True)

TextFile = Annotated[
    Path | None, typer.Option("--text-file", help="Văn bản UTF-8 để đọc bằng TTS.")
]
AudioFile = Annotated[
    Path | None, typer.Option("--audio-file", help="Bản ghi âm (người bản ngữ đọc).")
]


class PriorityChoice(StrEnum):
    """The choices of ``schedule add --priority``: the values of ``playout.Priority``.

    A copy, so that typer can build the option without importing ``playout`` (boto3) at
    start-up; the command converts it to ``playout.Priority``, which refuses any drift."""

    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


def _text_or_audio(text_file: Path | None, audio_file: Path | None) -> dict[str, Any]:
    from content import read_text_file
    from pipeline import probe_audio

    if text_file is not None and audio_file is None:
        return {"text": read_text_file(text_file)}
    if audio_file is not None and text_file is None:
        # A recording with no audio in it is refused now, not discovered at broadcast time.
        probe_audio(audio_file)
        return {"audio_file": audio_file}
    raise UserInputError("give exactly one of --text-file or --audio-file")


def item_summary(item: ItemView) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": str(item.kind),
        "title": item.title,
        "priority": str(item.priority),
        "state": str(item.state),
        "languages": [variant.language for variant in item.variants],
        "created_at": item.created_at.isoformat(),
    }


@content_app.command("add")
def add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option(help="bulletin | announcement | programme | alert | test")],
    title: Annotated[str, typer.Option(help="Tiêu đề.")],
    language: Annotated[str, typer.Option(help="Mã ngôn ngữ, ví dụ vi, blt, hni.")] = "vi",
    text_file: TextFile = None,
    audio_file: AudioFile = None,
    priority: Annotated[str, typer.Option(help="normal | priority | emergency")] = "normal",
    by: Annotated[str, typer.Option("--by", help="Người soạn.")] = "editor",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Thêm một nội dung mới (bản nháp)."""
    from app._publishing import content_store

    body = _text_or_audio(text_file, audio_file)
    store = content_store(ctx.obj.settings)
    item = store.add_item(kind, title, language, priority=priority, actor=by, **body)
    if as_json:
        print_json({"id": item.id})
        return
    # The id alone on stdout, so that `id=$(loa content add ...)` works; the words on stderr.
    errors.print(f"Đã thêm nội dung số {item.id} ({item.kind}, bản nháp): {item.title}")
    typer.echo(item.id)


@variant_app.command("add")
def variant_add(
    ctx: typer.Context,
    item_id: Annotated[int, typer.Argument(help="Số của nội dung.")],
    language: Annotated[str, typer.Option(help="Mã ngôn ngữ.")],
    text_file: TextFile = None,
    audio_file: AudioFile = None,
    by: Annotated[str, typer.Option("--by")] = "editor",
) -> None:
    """Thêm bản ngôn ngữ (văn bản hoặc ghi âm) cho một nội dung."""
    from app._publishing import content_store

    body = _text_or_audio(text_file, audio_file)
    store = content_store(ctx.obj.settings)
    variant = store.add_variant(item_id, language, actor=by, **body)
    console.print(f"Đã thêm bản tiếng '{variant.language}' cho nội dung số {item_id}.")


@content_app.command("approve")
def approve(
    ctx: typer.Context,
    item_id: Annotated[int, typer.Argument(help="Số của nội dung.")],
    by: Annotated[str, typer.Option("--by", help="Người duyệt.")] = "editor",
) -> None:
    """Duyệt nội dung: chỉ nội dung đã duyệt mới được phát."""
    from app._publishing import content_store

    item = content_store(ctx.obj.settings).approve(item_id, by)
    console.print(f"Đã duyệt nội dung số {item.id}: {item.title}")


@content_app.command("list")
def list_items(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Danh sách nội dung."""
    from app._publishing import content_store

    items = content_store(ctx.obj.settings).list_items()
    if as_json:
        print_json([item_summary(item) for item in items])
        return
    table = Table("Số", "Loại", "Tiêu đề", "Ưu tiên", "Trạng thái", "Ngôn ngữ")
    for item in items:
        row = item_summary(item)
        table.add_row(
            str(row["id"]),
            row["kind"],
            row["title"],
            row["priority"],
            row["state"],
            ", ".join(row["languages"]),
        )
    console.print(table)


def _parse_instant(value: str, settings: Settings) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"--at {value!r}: not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.organisation.district.zone)
    return moment


@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context,
    content_id: Annotated[int, typer.Option("--content", help="Số của nội dung đã duyệt.")],
    communes: Annotated[str, typer.Option(help="Danh sách mã xã, cách nhau dấu phẩy, hoặc all.")],
    at: Annotated[str, typer.Option(help="Thời điểm phát, ISO 8601 (giờ địa phương nếu thiếu).")],
    priority: Annotated[
        PriorityChoice | None, typer.Option(help="Ưu tiên của lần phát này.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dựng âm thanh cho một nội dung đã duyệt và đưa vào lịch phát của các xã."""
    from app._publishing import publish_content, resolve_communes
    from playout import Priority

    settings: Settings = ctx.obj.settings
    with progress_bar("Đang ghi lịch phát cho các xã", enabled=not as_json) as report:
        outcome = publish_content(
            settings,
            content_id,
            resolve_communes(settings, communes),
            _parse_instant(at, settings),
            priority=None if priority is None else Priority(priority.value),
            progress=None if report is None else lambda done, total: report(done / total),
        )
    plays = [
        {"commune": play.commune_id, "item_id": play.item.id, "start": play.item.start.isoformat()}
        for play in outcome.plays
    ]
    if as_json:
        print_json(
            {
                "id": content_id,
                "plays": plays,
                "skipped_communes": outcome.skipped,
                "failed_languages": outcome.failed_languages,
            }
        )
        return
    for play in plays:
        console.print(f"Xã {play['commune']}: {play['item_id']} lúc {play['start']}")
    published = outcome.report
    console.print(
        f"Đã ghi {len(published.written)} lịch phát, {len(published.unchanged)} lịch đã có sẵn; "
        f"tải lên {len(published.uploaded)} tệp âm thanh ({published.uploaded_bytes:,} byte), "
        f"{len(published.already_present)} tệp đã có trong kho."
    )
    for language, reason in outcome.failed_languages.items():
        errors.print(f"Không dựng được bản tiếng {language}: {reason}", markup=False)
    for commune_id in outcome.skipped:
        console.print(f"Bỏ qua xã {commune_id}: không có bản ngôn ngữ phù hợp.")
