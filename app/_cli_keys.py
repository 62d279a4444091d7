"""``loa keys``: the district's signing key."""

from __future__ import annotations

import typer

from app._output import console
from config import Settings

keys_app = typer.Typer(help="Khóa ký lịch phát của huyện (Ed25519).", no_args_is_help=True)


@keys_app.command("init")
def init(ctx: typer.Context) -> None:
    """Tạo cặp khóa nếu chưa có (khóa bí mật chỉ nằm trên máy của huyện)."""
    from playout import DistrictKeys

    settings: Settings = ctx.obj.settings
    keys = DistrictKeys(settings.key_dir)
    if keys.init():
        console.print(f"Đã tạo khóa mới: {keys.private_path} (quyền 0600)")
    else:
        console.print(f"Khóa đã có sẵn, giữ nguyên: {keys.private_path}")


@keys_app.command("public")
def public(ctx: typer.Context) -> None:
    """In khóa công khai (base64) để cấu hình cho các xã."""
    from playout import DistrictKeys

    settings: Settings = ctx.obj.settings
    typer.echo(DistrictKeys(settings.key_dir).public_base64())
