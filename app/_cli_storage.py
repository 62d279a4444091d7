"""``loa storage``: the embedded SeaweedFS, facts about the external S3, retention (``gc``,
``prune-receipts``) and inspection (``verify``) of the bucket."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from app._output import console, print_json, progress_bar
from config import Settings, UserInputError

if TYPE_CHECKING:
    from playout import BucketReport, EmbeddedSeaweed, GcReport

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


# --- retention and inspection ------------------------------------------------------------

_FINDINGS = {
    "no-manifest": "chưa có lịch phát",
    "unreadable-manifest": "lịch phát không đọc được",
    "bad-signature": "chữ ký không hợp lệ",
    "bad-schema": "lịch phát sai cấu trúc",
    "wrong-address": "lịch phát ghi sai huyện/xã",
    "expired": "lịch phát đã hết hạn",
    "replayed-manifest": "lịch phát cũ bị đặt lại",
    "missing-audio": "thiếu tệp âm thanh",
    "size-mismatch": "sai kích thước âm thanh",
    "hash-mismatch": "sai mã băm SHA-256: âm thanh bị thay",
    "key-mismatch": "mã băm khai báo khác tên tệp",
    "orphan-audio": "âm thanh không lịch nào dùng",
    "unregistered-commune": "xã không có trong danh sách",
    "unknown-key": "khoá lạ, sai bố cục kho",
    "unreadable-heartbeat": "báo cáo trạng thái không đọc được",
}
_SEVERITIES = {"error": "[red]lỗi[/red]", "warning": "[yellow]cảnh báo[/yellow]"}


@storage_app.command("gc")
def gc_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ báo sẽ xoá gì; không xoá, không ghi gì.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Xoá âm thanh không lịch phát nào dùng quá retention.audio_unreferenced_days ngày.

    Không bao giờ xoá biên bản phát (as-run), báo cáo trạng thái hay lịch phát."""
    from playout import S3ObjectStore, collect_garbage, gc_state_path

    settings: Settings = ctx.obj.settings
    store = S3ObjectStore.from_settings(settings)
    with progress_bar("Đang xoá âm thanh cũ", enabled=not as_json) as progress:
        report = collect_garbage(
            store,
            now=datetime.now(UTC),
            unreferenced_after=timedelta(days=settings.retention.audio_unreferenced_days),
            state_path=gc_state_path(settings),
            dry_run=dry_run,
            progress=progress,
        )
    if as_json:
        print_json({"bucket": store.bucket, **report.document()})
    else:
        _print_gc(report, settings.organisation.district.zone)
    if report.blocked:
        raise typer.Exit(1)


@storage_app.command("prune-receipts")
def prune_receipts_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ báo sẽ xoá gì; không xoá gì.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Xoá biên bản phát (as-run) cũ hơn retention.asrun_days ngày. Lệnh gc không làm việc này."""
    from playout import S3ObjectStore, prune_receipts

    settings: Settings = ctx.obj.settings
    store = S3ObjectStore.from_settings(settings)
    with progress_bar("Đang xoá biên bản cũ", enabled=not as_json) as progress:
        report = prune_receipts(
            store,
            now=datetime.now(settings.organisation.district.zone),
            keep_days=settings.retention.asrun_days,
            dry_run=dry_run,
            progress=progress,
        )
    if as_json:
        print_json({"bucket": store.bucket, **report.document()})
        return
    first_kept = report.first_kept_day.isoformat()
    console.print(
        f"Giữ biên bản phát {report.keep_days} ngày: từ ngày {first_kept} trở đi "
        f"(còn {report.kept} biên bản)."
    )
    verb = "Sẽ xoá (chạy thử, chưa xoá gì)" if report.dry_run else "Đã xoá"
    console.print(
        f"{verb} {len(report.deleted)} biên bản trước ngày {first_kept} "
        f"({_size(report.deleted_bytes)})."
    )
    for key in report.skipped:
        console.print(f"  bỏ qua (không có thư mục ngày): {escape(key)}", soft_wrap=True)


@storage_app.command("verify")
def verify_command(
    ctx: typer.Context,
    commune: Annotated[
        str | None, typer.Option("--commune", help="Chỉ kiểm tra xã này (mã xã).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="In một đối tượng JSON.")] = False,
) -> None:
    """Kiểm tra lại kho: chữ ký, mã băm, tham chiếu, tệp mồ côi. Mã thoát 1 khi có lỗi."""
    from playout import S3ObjectStore, district_trusted_keys, inspect_bucket

    settings: Settings = ctx.obj.settings
    organisation = settings.organisation
    keys = district_trusted_keys(settings)
    store = S3ObjectStore.from_settings(settings)
    with progress_bar("Đang kiểm tra âm thanh", enabled=not as_json) as progress:
        report = inspect_bucket(
            store,
            keys,
            district_id=organisation.district.id,
            registered_communes=organisation.commune_ids(),
            now=datetime.now(UTC),
            commune=commune,
            progress=progress,
        )
    if as_json:
        print_json({"bucket": store.bucket, **report.document()})
    else:
        _print_verify(report, store.bucket, organisation.district.zone)
    if not report.ok:
        raise typer.Exit(1)


def _print_gc(report: GcReport, zone: tzinfo) -> None:
    days = report.unreferenced_after / timedelta(days=1)
    if report.dry_run:
        console.print("Chạy thử: không xoá gì, không ghi trạng thái.")
    console.print(
        f"Đã đọc {len(report.manifests)} lịch phát; âm thanh đang được dùng: "
        f"{report.referenced_objects} tệp ({_size(report.referenced_bytes)})."
    )
    for reason in report.blocked:
        console.print(f"[red]Không xoá gì:[/red] {escape(reason)}")
    if report.kept:
        console.print(f"Âm thanh không lịch nào dùng, còn giữ (xoá sau {days:g} ngày):")
        for entry in report.kept:
            console.print(
                f"  {escape(entry.key)} ({_size(entry.size)}): không dùng từ "
                f"{_local(entry.unreferenced_since, zone)}, xoá được từ "
                f"{_local(entry.deletable_from, zone)}",
                soft_wrap=True,
            )
    if not report.blocked:
        verb = "Sẽ xoá" if report.dry_run else "Đã xoá"
        console.print(f"{verb} {len(report.deleted)} tệp âm thanh ({_size(report.deleted_bytes)}).")
        for entry in report.deleted:
            console.print(f"  {escape(entry.key)}", soft_wrap=True)
    if report.ignored:
        console.print(f"Bỏ qua {len(report.ignored)} khoá lạ trong audio/ (không xoá).")


def _print_verify(report: BucketReport, bucket: str, zone: tzinfo) -> None:
    scope = f"xã {report.scope}" if report.scope else f"{len(report.communes)} xã"
    console.print(f"Kiểm tra kho [bold]{escape(bucket)}[/bold] — {scope}")
    table = Table("Xã", "Lịch phát", "Chữ ký", "Số thứ tự", "Hiệu lực đến", "Mục")
    for check in report.communes:
        table.add_row(
            check.commune,
            "có" if check.present else "[yellow]chưa có[/yellow]",
            _yes_no(check.signature_valid, "hợp lệ", "[red]KHÔNG hợp lệ[/red]"),
            str(check.sequence) if check.sequence is not None else "–",
            _local(check.valid_until, zone) if check.valid_until else "–",
            str(check.items) if check.items is not None else "–",
        )
    console.print(table)
    console.print(
        f"Âm thanh: đã kiểm tra {report.audio_checked} tệp "
        f"({_size(report.bytes_hashed)} đã tính mã băm)."
    )
    # Errors first; communes without a manifest in one line (the table shows them too).
    problems = [*report.errors, *report.warnings]
    unpublished = [p.communes[0] for p in problems if p.finding == "no-manifest" and p.communes]
    problems = [problem for problem in problems if problem.finding != "no-manifest"]
    if problems:
        console.print("Vấn đề tìm thấy:")
        for problem in problems:
            label = _FINDINGS.get(problem.finding, problem.finding)
            console.print(
                f"  {_SEVERITIES[problem.severity]} — {label}: {escape(problem.message)}",
                soft_wrap=True,
            )
    if unpublished:
        console.print(
            f"  {_SEVERITIES['warning']} — {_FINDINGS['no-manifest']}: {len(unpublished)} xã "
            f"({', '.join(unpublished)})",
            soft_wrap=True,
        )
    errors_found, warnings = len(report.errors), len(report.warnings)
    if errors_found:
        console.print(f"[red]Có {errors_found} lỗi[/red] và {warnings} cảnh báo.")
    else:
        console.print(f"Không có lỗi ({warnings} cảnh báo).")


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return "–" if value is None else yes if value else no


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"
