"""``loa alert``: issue, update, cancel, re-publish, list and follow emergency alerts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from app._cli_content import parse_instant
from app._output import errors, print_json, progress_bar
from config import Settings, UserInputError

if TYPE_CHECKING:
    from app._alerts import AlertOutcome, Progress
    from content import AlertDraft, AlertView

E = TypeVar("E", bound=StrEnum)

alert_app = typer.Typer(help="Cảnh báo khẩn cấp (thiên tai).", no_args_is_help=True)

_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)\s*(m|min|h|d)$")
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400}
_STAGES = {"render": "Đang dựng âm thanh cảnh báo", "publish": "Đang ghi lịch phát các xã"}

TextOption = Annotated[
    list[str] | None,
    typer.Option(
        "--text", help="Văn bản UTF-8: LANG=FILE (ví dụ vi=canh-bao.txt); FILE một mình là vi."
    ),
]
RecordingOption = Annotated[
    list[str] | None,
    typer.Option("--recording", help="Bản ghi âm người bản ngữ: LANG=FILE (ví dụ hni=a.wav)."),
]
PhrasebankOption = Annotated[
    str | None,
    typer.Option("--phrasebank", help="Các ngôn ngữ đọc bằng kho câu mẫu, ví dụ hni,lhu."),
]
CommunesOption = Annotated[
    str | None, typer.Option(help="Mã xã, cách nhau dấu phẩy, hoặc all (toàn huyện).")
]
ExpiresOption = Annotated[
    str | None,
    typer.Option(help="Hết hiệu lực: ISO 8601 (giờ địa phương nếu thiếu) hoặc +6h, +90m."),
]
RepeatOption = Annotated[
    int | None,
    typer.Option("--repeat-every", help="Phát lại sau mỗi chừng này giây (0: không phát lại)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="In kết quả dạng JSON.")]
ByOption = Annotated[str, typer.Option("--by", help="Người ra lệnh phát.")]


@alert_app.command("send")
def send(
    ctx: typer.Context,
    text_file: Annotated[
        Path | None, typer.Argument(help="Văn bản cảnh báo tiếng Việt (UTF-8).")
    ] = None,
    level: Annotated[int, typer.Option(help="Cấp độ rủi ro thiên tai 1-5.")] = 3,
    hazard: Annotated[str, typer.Option(help="Loại thiên tai, ví dụ flash-flood.")] = "other",
    communes: CommunesOption = None,
    expires: ExpiresOption = None,
    repeat_every: RepeatOption = None,
    status: Annotated[str, typer.Option(help="actual | exercise | test | draft")] = "actual",
    title: Annotated[str | None, typer.Option(help="Tiêu đề (mặc định theo loại, cấp độ).")] = None,
    text: TextOption = None,
    recording: RecordingOption = None,
    phrasebank: PhrasebankOption = None,
    by: ByOption = "district",
    as_json: JsonOption = False,
) -> None:
    """Phát một cảnh báo tới mọi loa của các xã: dựng âm thanh mọi ngôn ngữ cần, đưa vào
    lịch phát khẩn cấp, phát lại định kỳ đến khi hết hiệu lực."""
    from content import AlertDraft, AlertStatus, Hazard

    settings: Settings = ctx.obj.settings
    now = _now(settings)
    texts, recordings = _languages(text_file, text, recording)
    checked_status = _choice("--status", status, AlertStatus)
    checked_hazard = _choice("--hazard", hazard, Hazard)
    draft = AlertDraft(
        title=title or _title(checked_hazard, level, checked_status),
        hazard=checked_hazard,
        level=level,
        status=checked_status,
        communes=communes_spec(communes if communes is not None else "all"),
        issued_at=now,
        expires_at=_expiry(expires, now, settings),
        identifier=_identifier(settings),
        sender=_sender(settings),
        repeat_every_s=_repeat_every(repeat_every, settings),
        texts=texts,
        recordings=recordings,
        phrasebank_languages=codes(phrasebank),
    )
    _issue(settings, draft, by, as_json)


@alert_app.command("update")
def update(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Số của cảnh báo cần thay thế.")],
    text_file: Annotated[Path | None, typer.Argument(help="Văn bản tiếng Việt mới.")] = None,
    level: Annotated[int | None, typer.Option(help="Cấp độ mới.")] = None,
    hazard: Annotated[str | None, typer.Option(help="Loại thiên tai mới.")] = None,
    communes: CommunesOption = None,
    expires: ExpiresOption = None,
    repeat_every: RepeatOption = None,
    title: Annotated[str | None, typer.Option(help="Tiêu đề mới.")] = None,
    text: TextOption = None,
    recording: RecordingOption = None,
    phrasebank: PhrasebankOption = None,
    by: ByOption = "district",
    as_json: JsonOption = False,
) -> None:
    """Thay một cảnh báo bằng bản cập nhật: bản cũ (kể cả các lần phát lại) được gỡ khỏi
    mọi xã, bản mới phát ngay. Điều gì không nêu lại thì giữ như bản cũ."""
    from app._alerts import alert_store
    from content import Hazard

    settings: Settings = ctx.obj.settings
    old = alert_store(settings).alert(alert_id)
    now = _now(settings)
    draft = _inherited(settings, old, now)
    draft = _with_languages(draft, *_languages(text_file, text, recording), codes(phrasebank))
    checked_hazard = old.hazard if hazard is None else _choice("--hazard", hazard, Hazard)
    new_level = old.level if level is None else level
    draft = replace(
        draft,
        hazard=checked_hazard,
        level=new_level,
        title=title or _title(checked_hazard, new_level, old.status),
        communes=draft.communes if communes is None else communes_spec(communes),
        expires_at=draft.expires_at if expires is None else _expiry(expires, now, settings),
        repeat_every_s=(
            draft.repeat_every_s if repeat_every is None else _repeat_every(repeat_every, settings)
        ),
    )
    _issue(settings, draft, by, as_json)


@alert_app.command("cancel")
def cancel(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Số của cảnh báo.")],
    reason: Annotated[str, typer.Option(help="Lý do huỷ.")],
    by: ByOption = "district",
    as_json: JsonOption = False,
) -> None:
    """Huỷ một cảnh báo: gỡ khỏi lịch phát của mọi xã, kể cả các lần phát lại."""
    from app._alerts import cancel_alert

    settings: Settings = ctx.obj.settings
    with progress(as_json) as report:
        outcome = cancel_alert(settings, alert_id, actor=by, reason=reason, progress=report)
    _report(outcome, as_json, f"Đã huỷ cảnh báo {alert_id} tại {len(outcome.communes)} xã.")


@alert_app.command("resend")
def resend(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Số của cảnh báo.")],
    as_json: JsonOption = False,
) -> None:
    """Ghi lại cảnh báo vào lịch phát các xã (khi lần gửi trước dừng giữa chừng)."""
    from app._alerts import alert_store, predecessor, publish_alert

    settings: Settings = ctx.obj.settings
    store = alert_store(settings)
    alert = store.alert(alert_id)
    with progress(as_json) as report:
        outcome = publish_alert(settings, store, alert, predecessor(store, alert), progress=report)
    _report(outcome, as_json, f"Đã ghi lại cảnh báo {alert_id} cho {len(outcome.communes)} xã.")


# -- helpers ------------------------------------------------------------------------------


def _issue(settings: Settings, draft: AlertDraft, by: str, as_json: bool) -> None:
    from app._alerts import send_alert

    with progress(as_json) as report:
        outcome = send_alert(settings, draft, actor=by, progress=report)
    if outcome.published_at is None:
        message = f"Đã lưu bản nháp cảnh báo {outcome.alert.id}: không gửi tới xã nào."
    else:
        message = (
            f"Đã phát cảnh báo {outcome.alert.id} tới {len(outcome.communes)} xã, "
            f"bằng {len(outcome.languages)} ngôn ngữ ({', '.join(outcome.languages)})."
        )
    _report(outcome, as_json, message)


def _report(outcome: AlertOutcome, as_json: bool, message: str) -> None:
    if as_json:
        print_json(outcome.to_dict())
        return
    errors.print(message, markup=False)
    typer.echo(outcome.alert.id)


@contextmanager
def progress(as_json: bool) -> Iterator[Progress]:
    """A bar per stage (rendering, then publishing) on stderr, unless ``--json``."""
    with ExitStack() as bars:
        current: list[str] = []
        report: list[Callable[[float], None] | None] = [None]

        def update(stage: str, done: int, total: int) -> None:
            if current != [stage]:
                bars.close()
                current[:] = [stage]
                description = _STAGES.get(stage, stage)
                report[0] = bars.enter_context(progress_bar(description, enabled=not as_json))
            if report[0] is not None:
                report[0](done / max(total, 1))

        yield update


def _now(settings: Settings) -> datetime:
    return datetime.now(settings.organisation.district.zone).replace(microsecond=0)


def _languages(
    text_file: Path | None, texts: list[str] | None, recordings: list[str] | None
) -> tuple[dict[str, str], dict[str, Path]]:
    from content import read_text_file
    from pipeline import probe_audio

    text_files = [("vi", text_file)] if text_file is not None else []
    text_files += [_language_file("--text", spec) for spec in texts or ()]
    read: dict[str, str] = {}
    for language, path in text_files:
        if language in read:
            raise UserInputError(f"--text: language {language!r} is given twice")
        read[language] = read_text_file(path)
    audio: dict[str, Path] = {}
    for spec in recordings or ():
        language, path = _language_file("--recording", spec)
        probe_audio(path)  # a file with no audio is refused now, not at broadcast time
        audio[language] = path
    return read, audio


def _language_file(option: str, spec: str) -> tuple[str, Path]:
    language, separator, path = spec.partition("=")
    if not separator:
        if option == "--text":
            return "vi", Path(spec)
        raise UserInputError(f"{option} {spec!r}: write LANG=FILE, for example hni=canh-bao.wav")
    if not re.fullmatch(r"[a-z]{2,3}", language):
        raise UserInputError(f"{option} {spec!r}: {language!r} is not an ISO 639 language code")
    return language, Path(path)


def codes(spec: str | None) -> tuple[str, ...]:
    if spec is None:
        return ()
    return tuple(part.strip() for part in spec.split(",") if part.strip())


def communes_spec(spec: str) -> tuple[str, ...] | None:
    if spec.strip() == "all":
        return None
    return tuple(part.strip() for part in spec.split(",") if part.strip())


def _expiry(value: str | None, now: datetime, settings: Settings) -> datetime:
    if value is None:
        return now + timedelta(hours=settings.alerts.expires_hours)
    relative = _RELATIVE.match(value.strip())
    if relative:
        return now + timedelta(seconds=float(relative[1]) * _UNIT_SECONDS[relative[2]])
    return parse_instant(value, settings, "--expires")


def _repeat_every(value: int | None, settings: Settings) -> int | None:
    if value is None:
        return round(settings.alerts.repeat_every_minutes * 60)
    if value < 0:
        raise UserInputError(f"--repeat-every {value}: a number of seconds, or 0 for no repeat")
    return value or None


def _choice(option: str, value: str, choices: type[E]) -> E:
    try:
        return choices(value.strip().lower())
    except ValueError:
        allowed = " | ".join(member.value for member in choices)
        raise UserInputError(f"{option} {value!r}: not one of {allowed}") from None


def _title(hazard: str, level: int, status: str) -> str:
    from app._alert_words import alert_title
    from content import AlertStatus, Hazard

    if not isinstance(level, int) or not 1 <= level <= 5:
        return "Cảnh báo thiên tai"  # the store names the bad level
    return alert_title(Hazard(hazard), level, AlertStatus(status))


def _identifier(settings: Settings) -> str:
    return f"loa-{settings.organisation.district.id}-{uuid.uuid4()}"


def _sender(settings: Settings) -> str:
    return settings.alerts.sender or f"{settings.organisation.district.id}@loa"


def _with_languages(
    draft: AlertDraft, texts: dict[str, str], recordings: dict[str, Path], bank: tuple[str, ...]
) -> AlertDraft:
    """``draft``'s languages with those given again replaced: a language keeps its old
    text, recording or phrase bank unless the update says it another way."""
    given = {*texts, *recordings, *bank}
    return replace(
        draft,
        texts={**{k: v for k, v in draft.texts.items() if k not in given}, **texts},
        recordings={**{k: v for k, v in draft.recordings.items() if k not in given}, **recordings},
        phrasebank_languages=tuple(
            dict.fromkeys([*(c for c in draft.phrasebank_languages if c not in given), *bank])
        ),
    )


def _inherited(settings: Settings, old: AlertView, now: datetime) -> AlertDraft:
    """A new alert that says what ``old`` said and supersedes it."""
    from app._alerts import stored_languages
    from content import AlertDraft

    texts, recordings = stored_languages(settings, old)
    return AlertDraft(
        title=old.title,
        hazard=old.hazard,
        level=old.level,
        status=old.status,
        communes=old.communes,
        issued_at=now,
        expires_at=old.expires_at,
        identifier=_identifier(settings),
        sender=old.sender,
        repeat_every_s=old.repeat_every_s,
        texts=texts,
        recordings=recordings,
        phrasebank_languages=old.phrasebank_languages,
        supersedes=old.id,
        urgency=old.urgency,
        severity=old.severity,
        certainty=old.certainty,
    )
