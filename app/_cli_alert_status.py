"""``loa alert status`` and ``loa alert list``: what became of the alerts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app._cli_alert import JsonOption, alert_app
from app._output import console, print_json
from config import Settings

if TYPE_CHECKING:
    from app._alert_checks import CheckReport
    from app._alert_status import AlertStatusReport
    from content import AlertView


@alert_app.command("status")
def status(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Số của cảnh báo.")],
    as_json: JsonOption = False,
) -> None:
    """Tình trạng cảnh báo ở từng xã: đã gửi, đã nhận, đang phát, đã phát, lỗi, mất liên
    lạc. Mã thoát 1 khi còn xã chưa phát xong."""
    from app._alert_status import alert_status

    settings: Settings = ctx.obj.settings
    report = alert_status(settings, alert_id)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_status(report, settings)
    if not report.all_played:
        raise typer.Exit(1)


@alert_app.command("list")
def list_alerts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Các cảnh báo, mới nhất trước."""
    from app._alerts import alert_store

    settings: Settings = ctx.obj.settings
    alerts = alert_store(settings).alerts()
    if as_json:
        print_json([_summary(alert) for alert in alerts])
        return
    table = Table("Số", "Tiêu đề", "Cấp độ", "Loại", "Tình trạng", "Phát lúc", "Hết hạn")
    zone = settings.organisation.district.zone
    for alert in alerts:
        table.add_row(
            str(alert.id),
            alert.title,
            str(alert.level),
            _status_vi(alert),
            _state_vi(alert, datetime.now(zone)),
            f"{alert.issued_at.astimezone(zone):%H:%M %d/%m/%Y}",
            f"{alert.expires_at.astimezone(zone):%H:%M %d/%m/%Y}",
        )
    console.print(table)


def _print_status(report: AlertStatusReport, settings: Settings) -> None:
    from app._alert_status import STATE_VI

    zone = settings.organisation.district.zone
    alert = report.alert
    console.print(
        f"Cảnh báo {alert.id}: {alert.title} — {_state_vi(alert, report.at)}", markup=False
    )
    if not report.acknowledgements:
        console.print("Cảnh báo này chưa được gửi tới xã nào.", markup=False)
        return
    table = Table("Xã", "Tình trạng", "Đã phát", "Nhịp tim cuối", "Ghi chú")
    for ack in report.acknowledgements:
        played = ", ".join(
            f"{item.item_id.rsplit('-', 1)[-1]} {item.played.started.astimezone(zone):%H:%M:%S}"
            for item in ack.items
            if item.played is not None and item.played.started is not None
        )
        heartbeat = (
            "chưa có"
            if ack.last_heartbeat_at is None
            else f"{ack.last_heartbeat_at.astimezone(zone):%H:%M:%S}"
        )
        failure = ack.failure
        note = ack.error or (failure.reason if failure is not None else "") or ""
        table.add_row(ack.commune_id, STATE_VI[ack.state], played, heartbeat, note)
    console.print(table)
    done = sum(1 for ack in report.acknowledgements if ack.state.value == "played")
    console.print(f"Đã phát xong ở {done}/{len(report.acknowledgements)} xã.", markup=False)


def _summary(alert: AlertView) -> dict[str, object]:
    return {
        "id": alert.id,
        "identifier": alert.identifier,
        "title": alert.title,
        "hazard": alert.hazard.value,
        "level": alert.level,
        "status": alert.status.value,
        "state": alert.state.value,
        "communes": None if alert.communes is None else list(alert.communes),
        "languages": list(alert.languages),
        "issued_at": alert.issued_at.isoformat(),
        "expires_at": alert.expires_at.isoformat(),
        "supersedes": alert.supersedes_id,
    }


def _status_vi(alert: AlertView) -> str:
    from app._alert_words import STATUS_VI

    return STATUS_VI[alert.status]


def _state_vi(alert: AlertView, now: datetime) -> str:
    from app._alert_words import STATE_VI

    if alert.is_live(now) or alert.state.value != "issued":
        return STATE_VI[alert.state]
    return "đã hết hiệu lực"


@alert_app.command("check")
def check(
    ctx: typer.Context,
    communes: Annotated[
        str, typer.Option(help="Mã xã, cách nhau dấu phẩy, hoặc all (toàn huyện).")
    ] = "all",
    audible: Annotated[
        bool, typer.Option("--audible", help="Phát một bản tin thử nghiệm có tiếng (mọi xã).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Kiểm tra định kỳ đường cảnh báo: không tiếng (loa của xã còn liên lạc, lịch phát
    mới đi và về) hoặc có tiếng (phát bản tin thử nghiệm). Mã thoát 1 khi có xã không đạt."""
    from app._alert_checks import audible_check, silent_check
    from app._cli_alert import communes_spec

    settings: Settings = ctx.obj.settings
    targets = communes_spec(communes)
    report = audible_check(settings) if audible else silent_check(settings, targets)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_check(report)
    if report.failed:
        raise typer.Exit(1)


def print_check_summary(report: CheckReport) -> None:
    """One line for `loa up`'s console when a routine check ends."""
    kind = "có tiếng" if report.check == "audible" else "không tiếng"
    failed = ", ".join(one.commune for one in report.failed) or "không có"
    console.print(
        f"Kiểm tra {kind} '{report.name}': {len(report.communes) - len(report.failed)}/"
        f"{len(report.communes)} xã đạt; không đạt: {failed}",
        markup=False,
    )


def _print_check(report: CheckReport) -> None:
    table = Table("Xã", "Kết quả", "Khứ hồi (s)", "Nhịp tim cuối", "Lý do")
    for one in report.communes:
        table.add_row(
            one.commune,
            "đạt" if one.passed else "KHÔNG ĐẠT",
            "" if one.round_trip_s is None else f"{one.round_trip_s:.1f}",
            one.last_heartbeat_at or "chưa có",
            one.problem or "",
        )
    console.print(table)
    print_check_summary(report)
