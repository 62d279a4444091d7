"""``loa credentials``: each commune's own S3 identity, with the least rights it needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from app._output import console, errors, print_json
from config import Settings, UserInputError

if TYPE_CHECKING:
    from playout import EmbeddedSeaweed

credentials_app = typer.Typer(
    help="Khóa truy cập S3 riêng cho từng xã (chỉ đọc âm thanh và lịch của xã, "
    "chỉ ghi trạng thái và nhật ký phát của xã).",
    no_args_is_help=True,
)

CommuneOption = Annotated[str, typer.Option("--commune", help="Mã xã, ví dụ bum-nua.")]
JsonOption = Annotated[bool, typer.Option("--json", help="In JSON cho chương trình khác.")]


def _embedded(settings: Settings) -> EmbeddedSeaweed:
    from playout import EmbeddedSeaweed

    if not settings.storage.is_embedded:
        raise UserInputError(
            f"storage.endpoint is {settings.storage.endpoint}: Loa does not manage that "
            "store's identities; use `loa credentials policy` and your provider's tools"
        )
    return EmbeddedSeaweed(settings)


@credentials_app.command("issue")
def issue(
    ctx: typer.Context,
    commune: CommuneOption,
    as_json: JsonOption = False,
    endpoint: Annotated[
        str | None,
        typer.Option(help="Địa chỉ S3 mà xã dùng để tới kho (mặc định: địa chỉ của máy này)."),
    ] = None,
) -> None:
    """Cấp khóa mới cho xã; cấp lại thì khóa cũ hết hiệu lực.

    Với kho S3 ngoài: in chính sách IAM để người quản trị tự tạo người dùng và khóa."""
    from playout import commune_policy

    settings: Settings = ctx.obj.settings
    if not settings.storage.is_embedded:
        print_json(commune_policy(settings, commune))
        errors.print(
            f"Kho S3 ngoài ({settings.storage.endpoint}): Loa không tự tạo được khóa ở đó. "
            f"Hãy tạo một người dùng riêng cho xã {commune}, gắn chính sách JSON ở trên, "
            "tạo khóa truy cập cho người dùng đó rồi giao cho xã "
            "(LOA_AGENT__ACCESS_KEY và LOA_AGENT__SECRET_KEY).",
            markup=False,
        )
        return
    store = _embedded(settings)
    credentials = store.issue_credentials(commune, endpoint=endpoint)
    running = store.status().running
    if as_json:
        print_json(credentials.document())
    else:
        _describe_issued(credentials.document(), settings.organisation.commune(commune).name)
    if not running:
        errors.print(
            "Kho lưu trữ nhúng chưa chạy: khóa có hiệu lực khi khởi động (loa storage up).",
            markup=False,
        )


def _describe_issued(document: dict[str, str], name: str) -> None:
    console.print(f"Đã cấp khóa truy cập S3 cho xã {name} ({document['commune']}):", markup=False)
    for name in ("endpoint", "bucket", "access_key", "secret_key"):
        console.print(f"  {name}: {document[name]}", markup=False)
    console.print(
        "Khóa bí mật chỉ in một lần: hãy lưu ngay (hoặc dùng --json > tệp rồi "
        "`loa agent run --credentials tệp`). Cấp lại sẽ thay khóa cũ.",
        markup=False,
    )


@credentials_app.command("policy")
def policy(ctx: typer.Context, commune: CommuneOption) -> None:
    """In chính sách IAM kiểu AWS (JSON) cho xã, dùng cho kho S3 ngoài."""
    from playout import commune_policy

    print_json(commune_policy(ctx.obj.settings, commune))


@credentials_app.command("list")
def list_issued(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Các xã đã được cấp khóa (không in khóa bí mật)."""
    issued = _embedded(ctx.obj.settings).identities.issued()
    if as_json:
        print_json([identity.document() for identity in issued])
        return
    if not issued:
        console.print("Chưa cấp khóa cho xã nào.")
        return
    for identity in issued:
        entry = identity.document()
        console.print(
            f"{entry['commune']}\t{entry['access_key']}\tcấp lúc {entry['issued_at']}",
            markup=False,
        )


@credentials_app.command("revoke")
def revoke(ctx: typer.Context, commune: CommuneOption) -> None:
    """Thu hồi khóa của xã: kho từ chối khóa đó ngay."""
    access_key = _embedded(ctx.obj.settings).revoke_credentials(commune)
    console.print(f"Đã thu hồi khóa {access_key} của xã {commune}.", markup=False)
