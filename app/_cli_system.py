"""``loa config show`` and ``loa up``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from app._context import CliContext
from app._output import console, print_json
from config import Settings, config_path

config_app = typer.Typer(help="Cấu hình đang dùng.", no_args_is_help=True)


def effective_configuration(settings: Settings, source: str) -> dict[str, Any]:
    from playout import storage_endpoint

    data = settings.masked()
    organisation = data.pop("organisation")
    data["config_file"] = source
    data["province"] = organisation["province"]
    data["district"] = organisation["district"]
    data["communes"] = organisation["communes"]
    data["storage"]["effective_endpoint"] = storage_endpoint(settings)
    return data


@config_app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON.")] = False,
) -> None:
    """In cấu hình hiệu lực (bí mật được che)."""
    import yaml

    context: CliContext = ctx.obj
    data = effective_configuration(context.settings, str(config_path(context.config_file)))
    if as_json:
        print_json(data)
    else:
        console.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), markup=False)


def up(ctx: typer.Context) -> None:
    """Chạy các dịch vụ của huyện ở tiền cảnh (kho lưu trữ); Ctrl-C để dừng."""
    from playout import EmbeddedSeaweed, S3ObjectStore

    settings: Settings = ctx.obj.settings
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if settings.storage.is_embedded:
        with EmbeddedSeaweed(settings) as storage:
            console.print(f"Kho lưu trữ SeaweedFS đang chạy: {storage.endpoint} (Ctrl-C để dừng)")
            stop.wait()
        console.print("Đã dừng kho lưu trữ.")
        return
    S3ObjectStore.from_settings(settings).ensure_bucket()
    console.print(f"Dùng kho S3 bên ngoài: {settings.storage.endpoint} (Ctrl-C để dừng)")
    stop.wait()
