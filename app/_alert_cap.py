"""Composition: OASIS CAP 1.2 messages in and out of Loa's alerts.

Import: an ``Alert`` becomes a new alert, an ``Update`` supersedes the alert its
``<references>`` name, a ``Cancel`` cancels it; each ``<info>`` is one language, said
from its audio ``<resource>`` (digest checked) when it has one, else from its headline,
description and instruction. Everything is checked before anything is published: a
``Cancel`` or an ``Update`` of an alert Loa does not know is refused.

Export: the alert as issued (``Alert``, or ``Update`` with a reference to the alert it
superseded), one ``<info>`` per language, each rendered clip a ``<resource>``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from app._alert_words import HAZARD_VI, alert_title
from app._alerts import AlertOutcome, Progress, alert_store, cancel_alert, send_alert
from config import Settings
from content import (
    AlertDraft,
    AlertStatus,
    AlertStore,
    AlertView,
    CapArea,
    CapError,
    CapInfo,
    CapMessage,
    CapReference,
    CapResource,
    Hazard,
    audio_resource,
    cap_area,
    parse_cap,
    resource_bytes,
    write_cap,
)
from playout import S3ObjectStore

STATUS_FROM_CAP = {
    "Actual": AlertStatus.ACTUAL,
    "Exercise": AlertStatus.EXERCISE,
    "Test": AlertStatus.TEST,
    "Draft": AlertStatus.DRAFT,
}
STATUS_TO_CAP = {loa: cap for cap, loa in STATUS_FROM_CAP.items()}
# Decision 18/2021's hazard groups as CAP categories.
CATEGORY = {
    Hazard.EARTHQUAKE: "Geo",
    Hazard.TSUNAMI: "Geo",
    Hazard.LANDSLIDE: "Geo",
    Hazard.LAND_SUBSIDENCE: "Geo",
    Hazard.FOREST_FIRE: "Fire",
    Hazard.SALINITY_INTRUSION: "Env",
    Hazard.DROUGHT: "Env",
    Hazard.OTHER: "Other",
}
MAX_AUDIO = 1 << 30
SEVERITY_BY_LEVEL = {1: "Minor", 2: "Minor", 3: "Moderate", 4: "Severe", 5: "Extreme"}


@dataclass(frozen=True)
class CapImport:
    message: CapMessage
    outcome: AlertOutcome


def import_cap(
    settings: Settings,
    path: Path,
    *,
    actor: str,
    phrasebank: tuple[str, ...] = (),
    progress: Progress | None = None,
) -> CapImport:
    """Read, check and carry out one CAP message (see the module's docstring)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CapError(f"{path}: cannot read: {error.strerror or error}") from None
    message = parse_cap(data, settings.organisation, source=str(path))
    store = alert_store(settings)
    if message.status == "System":
        raise CapError(f"{path}: alert/status: 'System' messages are not broadcast")
    if message.msg_type == "Cancel":
        target = _referenced(store, message, path)
        reason = f"CAP Cancel {message.identifier}"
        return CapImport(message, cancel_alert(settings, target.id, actor=actor, reason=reason))
    supersedes = _referenced(store, message, path).id if message.msg_type == "Update" else None
    if store.alert_by_identifier(message.identifier) is not None:
        raise CapError(f"{path}: alert/identifier: already imported: {message.identifier!r}")
    with tempfile.TemporaryDirectory(prefix="loa-cap-") as work:
        draft = _draft(settings, message, path, Path(work), phrasebank, supersedes)
        outcome = send_alert(settings, draft, actor=actor, progress=progress)
    return CapImport(message, outcome)


def export_cap(settings: Settings, alert_id: int) -> bytes:
    """The alert as a CAP 1.2 document, each rendered clip a ``<resource>``."""
    store = alert_store(settings)
    alert = store.alert(alert_id)
    previous = None if alert.supersedes_id is None else store.alert(alert.supersedes_id)
    zone = settings.organisation.district.zone
    storage = S3ObjectStore.from_settings(settings)
    targets = alert.communes or tuple(settings.organisation.commune_ids())
    area = cap_area(settings.organisation, targets)
    infos = tuple(_info(settings, alert, language, area, storage) for language in alert.languages)
    message = CapMessage(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.issued_at.astimezone(zone),
        status=STATUS_TO_CAP[alert.status],
        msg_type="Alert" if previous is None else "Update",
        scope="Public",
        references=()
        if previous is None
        else (
            CapReference(previous.sender, previous.identifier, previous.issued_at.astimezone(zone)),
        ),
        infos=infos,
    )
    return write_cap(message)


# -- import -----------------------------------------------------------------------------


def _referenced(store: AlertStore, message: CapMessage, path: Path) -> AlertView:
    """The alert an Update or Cancel refers to: the newest of its references Loa knows."""
    for reference in reversed(message.references):
        found = store.alert_by_identifier(reference.identifier)
        if found is not None:
            return found
    named = ", ".join(f"{ref.sender},{ref.identifier}" for ref in message.references)
    raise CapError(
        f"{path}: alert/references: no alert Loa knows is named ({named or 'none'}): "
        f"nothing to {message.msg_type.lower()}"
    )


def _draft(
    settings: Settings,
    message: CapMessage,
    path: Path,
    work: Path,
    phrasebank: tuple[str, ...],
    supersedes: int | None,
) -> AlertDraft:
    main = next((info for info in message.infos if info.language == "vi"), message.infos[0])
    texts: dict[str, str] = {}
    recordings: dict[str, Path] = {}
    for index, info in enumerate(message.infos, start=1):
        audio = next((r for r in info.resources if r.mime_type.startswith("audio/")), None)
        if audio is not None:
            recordings[info.language] = _saved(audio, path, work, index)
        else:
            texts[info.language] = _spoken_text(info, path, index)
    status = STATUS_FROM_CAP[message.status]
    hazard = Hazard(main.hazard)
    expires = main.expires or message.sent + timedelta(hours=settings.alerts.expires_hours)
    return AlertDraft(
        title=main.headline or alert_title(hazard, main.level, status),
        hazard=hazard,
        level=main.level,
        status=status,
        communes=message.communes,
        issued_at=message.sent,
        expires_at=expires,
        identifier=message.identifier,
        sender=message.sender,
        repeat_every_s=round(settings.alerts.repeat_every_minutes * 60),
        texts=texts,
        recordings=recordings,
        phrasebank_languages=tuple(code for code in phrasebank if code not in texts | recordings),
        supersedes=supersedes,
        urgency=main.urgency,
        severity=main.severity,
        certainty=main.certainty,
    )


def _saved(resource: CapResource, path: Path, work: Path, index: int) -> Path:
    data = resource_bytes(resource, path.parent)
    suffix = Path(resource.uri or "").suffix or ".audio"
    target = work / f"info-{index}{suffix}"
    target.write_bytes(data)
    return target


def _spoken_text(info: CapInfo, path: Path, index: int) -> str:
    parts = [part.strip() for part in (info.headline, info.description, info.instruction) if part]
    if not parts:
        raise CapError(
            f"{path}: alert/info[{index}]: no headline, description, instruction or audio "
            f"resource to say in {info.language!r}"
        )
    return "\n\n".join(_sentence(part) for part in parts)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", ":")) else text + "."


# -- export -----------------------------------------------------------------------------


def _info(
    settings: Settings, alert: AlertView, language: str, area: CapArea, storage: S3ObjectStore
) -> CapInfo:
    variant = alert.item.variant(language)
    zone = settings.organisation.district.zone
    resources = tuple(
        _resource(settings, clip.key, f"{language}, {clip.commune or 'mọi xã'}", storage)
        for (code, _), clip in alert.latest_clips().items()
        if code == language
    )
    return CapInfo(
        language=language,
        categories=(CATEGORY.get(alert.hazard, "Met"),),
        event=HAZARD_VI[alert.hazard].capitalize(),
        urgency=alert.urgency or "Immediate",
        severity=alert.severity or SEVERITY_BY_LEVEL[alert.level],
        certainty=alert.certainty or "Likely",
        hazard=alert.hazard.value,
        level=alert.level,
        effective=alert.issued_at.astimezone(zone),
        expires=alert.expires_at.astimezone(zone),
        sender_name=settings.organisation.district.name,
        headline=alert.title,
        description=None if variant is None else variant.text,
        resources=resources,
        areas=(area,),
    )


def _resource(
    settings: Settings, key: str, description: str, storage: S3ObjectStore
) -> CapResource:
    """The clip as a resource: read from the district's copy, else from storage; its URI
    is the object's path-style S3 URL."""
    local = settings.data_dir / "clips" / key.removeprefix("audio/")
    data = local.read_bytes() if local.is_file() else storage.get_bytes(key, max_bytes=MAX_AUDIO)
    uri = f"{storage.endpoint}/{storage.bucket}/{key}"
    return audio_resource(description, "audio/mpeg", data, uri)
