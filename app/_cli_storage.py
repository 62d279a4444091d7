"""``loa storage``: the embedded SeaweedFS, or facts about the external S3."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from app._output import console, print_json
from config import Settings, UserInputError

if TYPE_CHECKING:
    from playout import EmbeddedSeaweed

storage_app = typer.Typer(help="Kho lưu trữ đối tượng (S3).", no_args_is_help=True)


def _embedded(settings: Settings) -> EmbeddedSeaweed:
    from playout import EmbeddedSeaweed

    if not settings.storage.is_embedded:
        raise UserInputError(
            f"storage.endpoint is {settings.storage.endpoint}: Loa does not run that store"
        )
    return EmbeddedSeaweed(settings)


@storage_app.command("up")
def up(ctx: typer.Context) -> None:
    """Khởi động SeaweedFS nhúng (chạy nền, chỉ trên 127.0.0.1)."""
    status = _embedded(ctx.obj.settings).start()
    console.print(f"Kho lưu trữ đang chạy: {status.endpoint} (pid {status.pid})")


@storage_app.command("down")
def down(ctx: typer.Context) -> None:
    """Dừng SeaweedFS nhúng; dữ liệu được giữ lại."""
    stopped = _embedded(ctx.obj.settings).stop()
    console.print("Đã dừng kho lưu trữ." if stopped else "Kho lưu trữ không chạy.")


@storage_app.command("status")
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Trạng thái kho lưu trữ nhúng."""
    current = _embedded(ctx.obj.settings).status()
    if as_json:
        print_json(asdict(current))
        return
    state = f"đang chạy (pid {current.pid})" if current.running else "không chạy"
    console.print(f"Kho lưu trữ: {state} — {current.endpoint}, bucket {current.bucket}")
    if not current.running:
        raise typer.Exit(3)


@storage_app.command("env")
def env(ctx: typer.Context) -> None:
    """In các dòng export cho AWS CLI / boto3: eval "$(loa storage env)"."""
    from playout import storage_credentials, storage_endpoint

    settings: Settings = ctx.obj.settings
    access_key, secret_key = storage_credentials(settings)
    values = {
        "AWS_ENDPOINT_URL": storage_endpoint(settings),
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": settings.storage.region,
        "LOA_BUCKET": settings.storage.bucket,
    }
    for name, value in values.items():
        typer.echo(f"export {name}={shlex.quote(value)}")
