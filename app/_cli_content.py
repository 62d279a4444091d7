"""``loa content`` (editorial work, slot bookings) and ``loa schedule add`` (publish an item)."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app._output import console, errors, print_json, progress_bar
from config import Commune, Settings, UserInputError

if TYPE_CHECKING:
    from content import ItemView, SlotBookingView
    from playout import Repeat

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

# date.fromisoformat also takes 20261123 and 2026-W48-1; editors are asked for one form.
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


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


# -- slot bookings ------------------------------------------------------------------------


def booking_summary(booking: SlotBookingView) -> dict[str, Any]:
    return {
        "id": booking.id,
        "item_id": booking.item_id,
        "slot": booking.slot,
        "communes": None if booking.communes is None else list(booking.communes),
        "first_day": booking.first_day.isoformat(),
        "last_day": booking.last_day.isoformat(),
        "position": booking.position,
        "created_at": booking.created_at.isoformat(),
        "created_by": booking.created_by,
        "cancelled_at": None if booking.cancelled_at is None else booking.cancelled_at.isoformat(),
        "cancelled_by": booking.cancelled_by,
    }


def _parse_day(option: str, value: str) -> date:
    if not DAY_PATTERN.fullmatch(value.strip()):
        raise UserInputError(f"{option} {value!r}: not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserInputError(f"{option} {value!r}: no such day in the calendar") from None


def _booked_communes(settings: Settings, spec: str, slot: str) -> list[Commune] | None:
    """The communes ``--communes`` names (``None`` for all), each one having ``slot``."""
    from app._publishing import resolve_communes

    names = settings.slot_names()
    if slot not in names:
        raise UserInputError(
            f"--slot {slot!r}: not a slot of district {settings.organisation.district.id!r} "
            f"(slots: {', '.join(names) or 'none'})"
        )
    if spec.strip() == "all":
        return None
    communes = resolve_communes(settings, spec)
    for commune in communes:
        slots = settings.commune_slots(commune.id)
        if slot not in slots:
            raise UserInputError(
                f"--slot {slot!r}: commune {commune.id!r} has no such slot "
                f"(its slots: {', '.join(slots) or 'none'})"
            )
    return communes


def _days_text(booking: SlotBookingView) -> str:
    if booking.first_day == booking.last_day:
        return f"ngày {booking.first_day:%d/%m/%Y}"
    return f"từ {booking.first_day:%d/%m/%Y} đến {booking.last_day:%d/%m/%Y}"


def _communes_text(communes: list[Commune] | None) -> str:
    if communes is None:
        return "mọi xã"
    return "xã " + ", ".join(commune.name for commune in communes)


@content_app.command("book")
def book(
    ctx: typer.Context,
    item_id: Annotated[int, typer.Argument(help="Số của nội dung đã duyệt.")],
    slot: Annotated[str, typer.Option("--slot", help="Tên khung phát, ví dụ morning.")],
    communes: Annotated[
        str, typer.Option("--communes", help="Danh sách mã xã, cách nhau dấu phẩy, hoặc all.")
    ],
    first_day: Annotated[str, typer.Option("--from", help="Ngày đầu, YYYY-MM-DD.")],
    last_day: Annotated[
        str | None, typer.Option("--until", help="Ngày cuối, YYYY-MM-DD (mặc định: ngày đầu).")
    ] = None,
    position: Annotated[
        int | None, typer.Option("--position", help="Thứ tự trong khung (nhỏ phát trước).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Người xếp lịch.")] = "editor",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Xếp một nội dung đã duyệt vào khung phát hằng ngày của các xã."""
    from app._publishing import content_store

    settings: Settings = ctx.obj.settings
    first = _parse_day("--from", first_day)
    last = None if last_day is None else _parse_day("--until", last_day)
    targets = _booked_communes(settings, communes, slot)
    booking = content_store(settings).book(
        item_id,
        slot,
        communes=None if targets is None else [commune.id for commune in targets],
        first_day=first,
        last_day=last,
        position=position,
        actor=by,
    )
    if as_json:
        print_json(booking_summary(booking))
        return
    console.print(
        f"Đã xếp nội dung số {booking.item_id} vào khung {booking.slot} {_days_text(booking)} "
        f"cho {_communes_text(targets)} (thứ tự {booking.position}); mã đặt lịch {booking.id}",
        markup=False,
        soft_wrap=True,
    )


@content_app.command("unbook")
def unbook(
    ctx: typer.Context,
    booking_id: Annotated[int, typer.Argument(help="Mã đặt lịch.")],
    by: Annotated[str, typer.Option("--by", help="Người hủy.")] = "editor",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hủy một lần đặt lịch (vẫn giữ trong nhật ký)."""
    from app._publishing import content_store

    booking = content_store(ctx.obj.settings).unbook(booking_id, by)
    if as_json:
        print_json(booking_summary(booking))
        return
    console.print(
        f"Đã hủy đặt lịch số {booking.id} (nội dung số {booking.item_id}, "
        f"khung {booking.slot} {_days_text(booking)}).",
        markup=False,
        soft_wrap=True,
    )


@content_app.command("bookings")
def list_bookings(
    ctx: typer.Context,
    slot: Annotated[str | None, typer.Option("--slot", help="Chỉ khung này.")] = None,
    day: Annotated[str | None, typer.Option("--day", help="Chỉ ngày này, YYYY-MM-DD.")] = None,
    item_id: Annotated[int | None, typer.Option("--item", help="Chỉ nội dung này.")] = None,
    include_cancelled: Annotated[bool, typer.Option("--all", help="Cả lịch đã hủy.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Danh sách nội dung đã xếp vào các khung phát."""
    from app._publishing import content_store

    bookings = content_store(ctx.obj.settings).bookings(
        item_id=item_id,
        slot=slot,
        day=None if day is None else _parse_day("--day", day),
        include_cancelled=include_cancelled,
    )
    if as_json:
        print_json([booking_summary(booking) for booking in bookings])
        return
    if not bookings:
        console.print("Không có nội dung nào được xếp vào khung phát.")
        return
    console.print(_bookings_table(bookings))


def _bookings_table(bookings: list[SlotBookingView]) -> Table:
    table = Table(
        "Mã", "Nội dung", "Khung", "Xã", "Từ ngày", "Đến ngày", "Thứ tự", "Người xếp",
        "Trạng thái",
    )  # fmt: skip
    for booking in bookings:
        table.add_row(
            str(booking.id),
            str(booking.item_id),
            booking.slot,
            "mọi xã" if booking.communes is None else ", ".join(booking.communes),
            f"{booking.first_day:%d/%m/%Y}",
            f"{booking.last_day:%d/%m/%Y}",
            str(booking.position),
            booking.created_by,
            "còn hiệu lực" if booking.is_live else f"đã hủy ({booking.cancelled_by})",
        )
    return table


def parse_instant(value: str, settings: Settings, option: str = "--at") -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{option} {value!r}: not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.organisation.district.zone)
    return moment


MIN_REPEAT_S = 60


def _repeat(
    every_s: int | None, until: str | None, start: datetime, settings: Settings
) -> Repeat | None:
    from playout import Repeat

    if every_s is None and until is None:
        return None
    if every_s is None or until is None:
        raise UserInputError("--repeat-every and --until go together: give both or neither")
    if every_s < MIN_REPEAT_S:
        raise UserInputError(f"--repeat-every {every_s}: at least {MIN_REPEAT_S} seconds")
    end = parse_instant(until, settings, "--until")
    if end <= start:
        raise UserInputError(f"--until {until!r}: must be later than --at {start.isoformat()}")
    return Repeat(every_s=every_s, until=end)


@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context,
    content_id: Annotated[int, typer.Option("--content", help="Số của nội dung đã duyệt.")],
    communes: Annotated[str, typer.Option(help="Danh sách mã xã, cách nhau dấu phẩy, hoặc all.")],
    at: Annotated[str, typer.Option(help="Thời điểm phát, ISO 8601 (giờ địa phương nếu thiếu).")],
    priority: Annotated[
        PriorityChoice | None, typer.Option(help="Ưu tiên của lần phát này.")
    ] = None,
    repeat_every: Annotated[
        int | None, typer.Option("--repeat-every", help="Phát lại sau mỗi chừng này giây.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Phát lại đến thời điểm này, ISO 8601.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dựng âm thanh cho một nội dung đã duyệt, đưa vào lịch phát của các xã và in mã
    mục phát (mỗi ngôn ngữ một mã)."""
    from app._publishing import publish_content, resolve_communes
    from playout import Priority

    settings: Settings = ctx.obj.settings
    start = parse_instant(at, settings)
    repeat = _repeat(repeat_every, until, start, settings)
    with progress_bar("Đang ghi lịch phát cho các xã", enabled=not as_json) as report:
        outcome = publish_content(
            settings,
            content_id,
            resolve_communes(settings, communes),
            start,
            priority=None if priority is None else Priority(priority.value),
            repeat=repeat,
            progress=None if report is None else lambda done, total: report(done / total),
        )
    plays = [
        {"commune": play.commune_id, "item_id": play.item.id, "start": play.item.start.isoformat()}
        for play in outcome.plays
    ]
    item_ids = sorted({play.item.id for play in outcome.plays})
    if as_json:
        print_json(
            {
                "id": content_id,
                "item_ids": item_ids,
                "plays": plays,
                "repeat": None if repeat is None else repeat.model_dump(mode="json"),
                "skipped_communes": outcome.skipped,
                "failed_languages": outcome.failed_languages,
            }
        )
        return
    # The item ids alone on stdout (one per language), the words on stderr.
    for play in plays:
        errors.print(f"Xã {play['commune']}: {play['item_id']} lúc {play['start']}")
    if repeat is not None:
        errors.print(
            f"Phát lại mỗi {repeat.every_s} giây đến {repeat.until.isoformat()}.", markup=False
        )
    published = outcome.report
    errors.print(
        f"Đã ghi {len(published.written)} lịch phát, {len(published.unchanged)} lịch đã có sẵn; "
        f"tải lên {len(published.uploaded)} tệp âm thanh ({published.uploaded_bytes:,} byte), "
        f"{len(published.already_present)} tệp đã có trong kho."
    )
    for language, reason in outcome.failed_languages.items():
        errors.print(f"Không dựng được bản tiếng {language}: {reason}", markup=False)
    for commune_id in outcome.skipped:
        errors.print(f"Bỏ qua xã {commune_id}: không có bản ngôn ngữ phù hợp.")
    for item_id in item_ids:
        typer.echo(item_id)
