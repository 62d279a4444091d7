"""``loa schedule list`` and ``loa schedule run-now``: the district's slot bulletins."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app._cli_content import schedule_app
from app._output import console, errors, print_json
from config import Settings, UserInputError

if TYPE_CHECKING:
    from playout.scheduler import BuildRecord, DistrictScheduler, SlotRun

STATUS_WORDS = {
    "building": "đang dựng",
    "published": "đã phát hành",
    "empty": "trống (không có gì để phát)",
    "failed": "lỗi",
    "skipped": "bỏ lỡ",
}


def district_scheduler(settings: Settings) -> DistrictScheduler:
    """The district's scheduler: slot bulletins, and the routine alert checks."""
    from app._alert_checks import routines
    from app._bulletins import build_slot
    from app._cli_alert_status import print_check_summary
    from playout.scheduler import DistrictScheduler

    return DistrictScheduler(
        settings,
        partial(build_slot, settings),
        on_result=None,
        routines=routines(settings, print_check_summary),
    )


def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.organisation.district.zone).strftime("%H:%M %d/%m/%Y")


def record_document(record: BuildRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "slot": record.slot,
        "starts_at": record.starts_at.isoformat(),
        "status": str(record.status),
        "attempts": record.attempts,
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "detail": record.detail,
    }


SKIP_REASONS = {
    "missed": "bộ lập lịch không chạy từ giờ dựng đến giờ phát",
    "interrupted": "bị ngắt khi đang dựng và đã quá giờ phát",
}


def record_summary(record: BuildRecord) -> str:
    """What the build did, for editors: the bulletin builder writes Vietnamese summaries;
    a skip is explained from its reason code."""
    reason = record.detail.get("reason")
    return SKIP_REASONS.get(str(reason), record.summary) if reason else record.summary


def describe_record(record: BuildRecord, settings: Settings) -> str:
    status = STATUS_WORDS.get(str(record.status), str(record.status))
    when = local_time(record.starts_at, settings)
    return f"Khung {record.slot} lúc {when}: {status}. {record_summary(record)}"


@schedule_app.command("list")
def list_runs(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=14, help="Số ngày tới cần xem.")] = 2,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Các lần dựng bản tin sắp tới, và các lần gần đây."""
    settings: Settings = ctx.obj.settings
    scheduler = district_scheduler(settings)
    upcoming = scheduler.upcoming(scheduler.now() + timedelta(days=days))
    recent = scheduler.builds.recent(20)
    holder = scheduler.lock.current_holder()
    if as_json:
        print_json(
            {
                "scheduler": None if holder is None else holder.describe(),
                "upcoming": [_run_document(run, scheduler) for run in upcoming],
                "recent": [record_document(record) for record in recent],
            }
        )
        return
    running = f"đang chạy ({holder.describe()})" if holder else "không chạy (`loa up` để chạy)"
    console.print(f"Bộ lập lịch của huyện: {running}")
    console.print(_upcoming_table(upcoming, scheduler, settings))
    if recent:
        console.print(_recent_table(recent, settings))


@schedule_app.command("run-now")
def run_now(
    ctx: typer.Context,
    slot: Annotated[str, typer.Argument(help="Tên khung phát, ví dụ morning.")],
    day: Annotated[
        str | None, typer.Option(help="Ngày phát YYYY-MM-DD (mặc định: lần tới của khung).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dựng và phát hành ngay bản tin của một khung phát (kể cả khi đã dựng rồi)."""
    settings: Settings = ctx.obj.settings
    scheduler = district_scheduler(settings)
    if not as_json:
        errors.print(f"Đang dựng bản tin khung {slot}…")
    records = scheduler.run_now(slot, _parse_day(day))
    if as_json:
        print_json([record_document(record) for record in records])
    else:
        if not records:
            console.print(f"Khung {slot} không phát vào ngày {day}.")
        for record in records:
            console.print(describe_record(record, settings))
    if any(str(record.status) == "failed" for record in records):
        raise typer.Exit(1)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"--day {value!r}: not a date (YYYY-MM-DD)") from None


def _run_document(run: SlotRun, scheduler: DistrictScheduler) -> dict[str, Any]:
    record = scheduler.builds.get(run.key)
    return {
        "slot": run.slot,
        "build_at": run.build_at.isoformat(),
        "starts_at": run.starts_at.isoformat(),
        "communes": list(run.communes),
        "status": None if record is None else str(record.status),
    }


def _upcoming_table(runs: list[SlotRun], scheduler: DistrictScheduler, settings: Settings) -> Table:
    table = Table("Khung", "Dựng lúc", "Phát lúc", "Số xã", "Trạng thái", title="Sắp tới")
    for run in runs:
        record = scheduler.builds.get(run.key)
        status = "chờ" if record is None else STATUS_WORDS.get(str(record.status), "")
        table.add_row(
            run.slot,
            local_time(run.build_at, settings),
            local_time(run.starts_at, settings),
            str(len(run.communes)),
            status,
        )
    return table


def _recent_table(records: list[BuildRecord], settings: Settings) -> Table:
    table = Table("Khung", "Phát lúc", "Trạng thái", "Lần thử", "Tóm tắt", title="Gần đây")
    for record in records:
        table.add_row(
            record.slot,
            local_time(record.starts_at, settings),
            STATUS_WORDS.get(str(record.status), str(record.status)),
            str(record.attempts),
            record_summary(record),
        )
    return table
