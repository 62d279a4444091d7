"""``loa keys``: the district's signing key, and its rotation."""

from __future__ import annotations

from typing import Annotated

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
def public(
    ctx: typer.Context,
    all_keys: Annotated[
        bool,
        typer.Option("--all", help="Cả khóa kế tiếp khi đang đổi khóa (mỗi khóa một dòng)."),
    ] = False,
) -> None:
    """In khóa công khai (base64) để cấu hình cho các xã."""
    from playout import DistrictKeys, encode_public_key

    keys = DistrictKeys(ctx.obj.settings.key_dir)
    if not all_keys:
        typer.echo(keys.public_base64())
        return
    for key in keys.public_keys():
        typer.echo(encode_public_key(key))


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    activate: Annotated[
        bool,
        typer.Option("--activate", help="Bước 2: bắt đầu ký bằng khóa kế tiếp."),
    ] = False,
) -> None:
    """Đổi khóa hai bước: tạo khóa kế tiếp, các xã ghim cả hai khóa, rồi --activate."""
    from playout import DistrictKeys, encode_public_key

    keys = DistrictKeys(ctx.obj.settings.key_dir)
    if activate:
        retired = keys.activate_rotation()
        console.print(f"Đã chuyển sang khóa mới: {keys.public_base64()}")
        console.print(f"Khóa cũ đã thôi dùng (lưu trong {keys.retired_path}): {retired}")
        console.print("Lịch phát đã ký bằng khóa cũ vẫn hợp lệ với các xã còn ghim khóa cũ.")
        return
    made = keys.prepare_rotation()
    state = "Đã tạo khóa kế tiếp" if made else "Khóa kế tiếp đã có sẵn"
    console.print(f"{state}: {keys.next_public_path}")
    console.print("Cấu hình keys.trusted_public_keys của mọi xã phải có cả hai khóa:")
    for key in keys.public_keys():
        console.print(f"  - {encode_public_key(key)}")
    console.print("Khi mọi xã đã cập nhật, chạy: loa keys rotate --activate")
