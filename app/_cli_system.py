"""``loa config show`` and ``loa up``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

import typer

from app._context import CliContext
from app._output import console, errors, print_json
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
    """Chạy các dịch vụ của huyện ở tiền cảnh: kho lưu trữ và bộ lập lịch bản tin;
    Ctrl-C (hoặc SIGTERM) để dừng gọn."""
    settings: Settings = ctx.obj.settings
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with _storage(settings):
        _run_scheduler(settings, stop)
    console.print("Đã dừng các dịch vụ của huyện.")


@contextmanager
def _storage(settings: Settings) -> Iterator[None]:
    from playout import EmbeddedSeaweed, S3ObjectStore

    if settings.storage.is_embedded:
        with EmbeddedSeaweed(settings) as storage:
            console.print(f"Kho lưu trữ SeaweedFS đang chạy: {storage.endpoint}")
            yield
        return
    S3ObjectStore.from_settings(settings).ensure_bucket()
    console.print(f"Dùng kho S3 bên ngoài: {settings.storage.endpoint}")
    yield


def _run_scheduler(settings: Settings, stop: threading.Event) -> None:
    from app._cli_schedule import describe_record, district_scheduler, local_time

    scheduler = district_scheduler(settings)
    scheduler.set_listener(lambda _run, record: console.print(describe_record(record, settings)))
    scheduler.start()
    try:
        upcoming = scheduler.upcoming(scheduler.now() + timedelta(days=1))
        console.print(f"Bộ lập lịch đang chạy: {len(upcoming)} lần dựng bản tin trong 24 giờ tới.")
        for run in upcoming[:4]:
            console.print(
                f"  khung {run.slot}: dựng lúc {local_time(run.build_at, settings)}, "
                f"phát lúc {local_time(run.starts_at, settings)}, {len(run.communes)} xã"
            )
        console.print("Ctrl-C để dừng.")
        while not stop.wait(1.0) and not scheduler.stopped.is_set():
            pass
    finally:
        errors.print("Đang dừng bộ lập lịch (chờ bản tin đang dựng xong)…")
        scheduler.stop(wait=True)
