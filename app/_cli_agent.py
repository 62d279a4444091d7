"""``loa agent run``: the commune side."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app._output import console
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
