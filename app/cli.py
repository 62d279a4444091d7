"""The ``loa`` command: parses, calls the parts' public APIs, prints. No logic of its own."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from app import (
    _cli_agent,
    _cli_alert,
    _cli_alert_cap,  # noqa: F401 - adds `alert import` and `alert export`
    _cli_alert_status,  # noqa: F401 - adds `alert status` and `alert list`
    _cli_audio,
    _cli_content,
    _cli_credentials,
    _cli_demo,
    _cli_keys,
    _cli_schedule,  # noqa: F401 - adds `schedule list` and `schedule run-now`
    _cli_storage,
    _cli_system,
    _cli_tts,
)
from app._context import CliContext
from app._output import print_error
from config import LoaError

app = typer.Typer(
    name="loa",
    help="Loa: nội dung, TTS, âm thanh, phân phối và phát cho đài truyền thanh cấp xã.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(_cli_system.config_app, name="config")
app.add_typer(_cli_keys.keys_app, name="keys")
app.add_typer(_cli_storage.storage_app, name="storage")
app.add_typer(_cli_credentials.credentials_app, name="credentials")
app.add_typer(_cli_audio.audio_app, name="audio")
app.add_typer(_cli_tts.tts_app, name="tts")
app.add_typer(_cli_content.content_app, name="content")
app.add_typer(_cli_content.schedule_app, name="schedule")
app.add_typer(_cli_agent.agent_app, name="agent")
app.add_typer(_cli_alert.alert_app, name="alert")
app.command("up")(_cli_system.up)
app.command("demo")(_cli_demo.demo)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML configuration file (default: $LOA_CONFIG)."),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logs.")] = 0,
) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    ctx.obj = CliContext(config_file=config)


def main() -> None:
    """Entry point: a ``LoaError`` becomes one line on stderr and its exit code."""
    try:
        app()
    except LoaError as error:
        print_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print_error("đã dừng (Ctrl-C)")
        sys.exit(130)
