"""``loa alert import`` and ``loa alert export``: OASIS CAP 1.2 in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app._cli_alert import ByOption, JsonOption, PhrasebankOption, alert_app, codes, progress
from app._output import errors, print_json
from config import Settings, UserInputError


@alert_app.command("import")
def import_message(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Bản tin CAP 1.2 (XML).")],
    phrasebank: PhrasebankOption = None,
    by: ByOption = "cap-import",
    as_json: JsonOption = False,
) -> None:
    """Nhận một bản tin cảnh báo CAP 1.2: Alert phát cảnh báo mới, Update thay cảnh báo cũ,
    Cancel huỷ cảnh báo đã phát."""
    from app._alert_cap import import_cap

    settings: Settings = ctx.obj.settings
    with progress(as_json) as report:
        imported = import_cap(
            settings, path, actor=by, phrasebank=codes(phrasebank), progress=report
        )
    outcome = imported.outcome
    if as_json:
        print_json({**outcome.to_dict(), "msg_type": imported.message.msg_type})
        return
    verb = {"Cancel": "Đã huỷ", "Update": "Đã cập nhật"}.get(imported.message.msg_type, "Đã phát")
    errors.print(
        f"{verb} cảnh báo {outcome.alert.id} ({imported.message.identifier}) "
        f"tại {len(outcome.communes)} xã.",
        markup=False,
    )
    typer.echo(outcome.alert.id)


@alert_app.command("export")
def export_message(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Số của cảnh báo.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Tệp XML để ghi (mặc định: in ra).")
    ] = None,
) -> None:
    """Xuất cảnh báo thành bản tin CAP 1.2, kèm âm thanh đã dựng của mỗi ngôn ngữ."""
    from app._alert_cap import export_cap
    from playout import write_atomic

    settings: Settings = ctx.obj.settings
    document = export_cap(settings, alert_id)
    if out is None:
        typer.echo(document.decode(), nl=False)
        return
    try:
        write_atomic(out, document)
    except OSError as error:
        raise UserInputError(f"{out}: cannot write: {error.strerror or error}") from None
    errors.print(f"Đã ghi {out}.", markup=False)
