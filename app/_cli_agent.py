"""``loa agent run`` and ``loa agent status``: the commune side."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app._output import console, print_json
from config import Settings

if TYPE_CHECKING:
    from playout import S3ObjectStore

agent_app = typer.Typer(help="Trạm phát của xã.", no_args_is_help=True)


def commune_store(settings: Settings) -> S3ObjectStore:
    """The commune's own S3 identity when configured, else the district's (same host).

    Few, short retries: the agent polls every few seconds anyway, and a 3G link that is
    down should fall back to the cache quickly rather than after half a minute."""
    from playout import S3ObjectStore

    secret = settings.agent.secret_key.get_secret_value() if settings.agent.secret_key else None
    return S3ObjectStore.from_settings(
        settings, settings.agent.access_key, secret, max_attempts=3, connect_timeout_s=3.0
    )


def credentials_store(settings: Settings, path: Path, commune: str) -> S3ObjectStore:
    """The store named by a ``loa credentials issue --json`` file, which must be ``commune``'s;
    its endpoint and bucket replace the configured ones."""
    from playout import CommuneCredentials

    credentials = CommuneCredentials.read(path, commune=commune)
    return credentials.open_store(settings.storage.region, max_attempts=3, connect_timeout_s=3.0)


@agent_app.command("run")
def run(
    ctx: typer.Context,
    commune: Annotated[str, typer.Option(help="Mã xã, ví dụ bum-nua.")],
    once: Annotated[
        bool, typer.Option("--once", help="Đồng bộ một lần, phát những gì đến hạn rồi thoát.")
    ] = False,
    sink: Annotated[str, typer.Option(help="file:THƯ_MỤC hoặc audio (loa thật).")] = "audio",
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help="Tệp JSON do `loa credentials issue --json` in ra (thay cho cấu hình).",
        ),
    ] = None,
) -> None:
    """Đồng bộ lịch phát đã ký, kiểm tra, lưu đệm và phát đúng giờ."""
    from playout import CommuneAgent, parse_sink

    settings: Settings = ctx.obj.settings
    store = (
        commune_store(settings)
        if credentials is None
        else credentials_store(settings, credentials, commune)
    )
    agent = CommuneAgent(settings, commune, store, parse_sink(sink, settings))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    summary = agent.run(once=once, stop_event=stop)
    console.print(summary.describe())
    if once and summary.refused:
        raise typer.Exit(1)


@agent_app.command("status")
def status(
    ctx: typer.Context,
    commune: Annotated[str, typer.Option(help="Mã xã, ví dụ bum-nua.")],
    as_json: Annotated[bool, typer.Option("--json", help="In JSON cho chương trình khác.")] = False,
) -> None:
    """Trạng thái trạm phát trên máy này (không cần mạng): lịch, kết nối, đang phát."""
    from playout.agent import read_status

    settings: Settings = ctx.obj.settings
    document = read_status(settings, commune)
    if as_json:
        print_json(document)
        return
    for line in describe_status(document, settings.organisation.district.zone):
        console.print(line, markup=False, soft_wrap=True)


def describe_status(document: dict[str, Any], zone: tzinfo) -> list[str]:
    """The status document in Vietnamese, one line per topic."""
    at = _instant(document.get("at"))
    age = f" (cách đây {_seconds((datetime.now(UTC) - at).total_seconds())})" if at else ""
    return [
        f"Trạm phát xã {document.get('commune', '?')}: trạng thái lúc {_when(at, zone)}{age}",
        _manifest_line(document.get("manifest"), zone),
        "Kết nối: " + ("trực tuyến" if document.get("online") else "mất kết nối với kho lưu trữ"),
        _playing_line(document.get("now_playing"), zone),
        _next_line(document.get("next_occurrence"), zone),
        *_cache_lines(document.get("cache") or {}, zone),
        _clock_line(document.get("clock") or {}),
        "Lỗi gần nhất: " + _problem(document.get("last_error"), zone),
        f"Biên bản phát chờ gửi: {document.get('outbox_pending', 0)}",
        *_refusal_lines(document.get("refused_manifests") or [], zone),
    ]


def _manifest_line(manifest: dict[str, Any] | None, zone: tzinfo) -> str:
    if not manifest:
        return "Lịch phát: chưa có"
    until = _when(_instant(manifest.get("valid_until")), zone)
    validity = f"hiệu lực đến {until}" if manifest.get("in_force") else f"đã hết hạn lúc {until}"
    return f"Lịch phát: số {manifest.get('sequence')}, {validity}"


def _playing_line(playing: dict[str, Any] | None, zone: tzinfo) -> str:
    if not playing:
        return "Đang phát: không"
    scheduled = _when(_instant(playing.get("scheduled")), zone)
    started = _when(_instant(playing.get("started")), zone)
    return f"Đang phát: {_title(playing)}, lịch {scheduled}, bắt đầu {started}"


def _next_line(upcoming: dict[str, Any] | None, zone: tzinfo) -> str:
    if not upcoming:
        return "Mục kế tiếp: không có"
    return f"Mục kế tiếp: {_title(upcoming)} lúc {_when(_instant(upcoming.get('scheduled')), zone)}"


def _cache_lines(cache: dict[str, Any], zone: tzinfo) -> list[str]:
    free = cache.get("free_bytes")
    lines = [
        f"Bộ nhớ đệm: {cache.get('objects', 0)} tệp, {_size(cache.get('bytes', 0))}; "
        f"còn trống {_size(free) if isinstance(free, int) else 'không rõ'}; "
        f"tệp hỏng đã xóa: {cache.get('damaged', 0)}"
    ]
    if cache.get("last_error"):
        lines.append("  Lỗi bộ nhớ đệm gần nhất: " + _problem(cache["last_error"], zone))
    return lines


def _clock_line(clock: dict[str, Any]) -> str:
    offset = clock.get("offset_s")
    if not isinstance(offset, int | float):
        return "Đồng hồ: chưa so được với kho lưu trữ"
    uncertainty = f"± {_number(clock.get('uncertainty_s') or 0.0)} giây"
    used = "giờ của kho lưu trữ" if clock.get("using") == "storage" else "giờ của máy này"
    # offset = storage's time - this host's: negative when this host's clock is ahead.
    side = "nhanh" if offset < 0 else "chậm"
    return (
        f"Đồng hồ: máy này {side} {_number(abs(offset))} giây so với kho lưu trữ "
        f"({uncertainty}); đang dùng {used}"
    )


def _refusal_lines(refusals: list[dict[str, Any]], zone: tzinfo) -> list[str]:
    return [f"Lịch phát bị từ chối: {_problem(refusal, zone)}" for refusal in refusals]


def _problem(problem: dict[str, Any] | None, zone: tzinfo) -> str:
    if not problem:
        return "không có"
    return f"{_when(_instant(problem.get('at')), zone)} — {problem.get('message', '')}"


def _title(entry: dict[str, Any]) -> str:
    title = entry.get("title")
    return f"«{title}» ({entry.get('item_id')})" if title else str(entry.get("item_id"))


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _when(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M:%S ngày %d/%m/%Y") if moment else "?"


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f} giây"
    if seconds < 7200:
        return f"{seconds / 60:.0f} phút"
    return f"{seconds / 3600:.0f} giờ"


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _size(size: int) -> str:
    for unit, scale in (("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".", ",")
    return f"{size} B"
