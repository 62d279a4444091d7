"""Composition: routine checks of the alert path, like the weekly and monthly tests of EAS
and J-ALERT (``alerts.routine``; ``loa alert check``).

``silent``: every target's agent must be reachable (a heartbeat within
``alerts.silent_after_s``), and a new manifest must make the round trip without a sound:
each manifest is re-signed with a new sequence and nothing else changed, and the check
waits (``alerts.check_timeout_s``) for each agent's heartbeat to report that sequence,
which an agent sends as soon as it has fetched and verified it.

``audible``: a clearly announced test alert (status ``test``) to every commune, in
Vietnamese; it passes where the agent reports it played within the timeout.

Each report is written to ``<data_dir>/reports/alert-checks/`` and lists the communes
that failed and why.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app._alert_words import TEST_TEXT_VI
from app._alerts import alert_targets, send_alert
from app._publishing import publisher
from config import RoutineCheckKind, Settings
from content import AlertDraft, AlertStatus, Hazard
from playout import (
    Acknowledgement,
    AckState,
    Delivery,
    PublishReport,
    S3ObjectStore,
    read_acknowledgements,
    write_atomic,
)
from playout.scheduler import Routine

log = logging.getLogger(__name__)

POLL_S = 0.5


@dataclass
class CommuneCheck:
    commune: str
    passed: bool
    last_heartbeat_at: str | None = None
    round_trip_s: float | None = None
    problem: str | None = None


@dataclass
class CheckReport:
    check: str
    name: str
    started_at: str
    finished_at: str = ""
    alert_id: int | None = None
    communes: list[CommuneCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[CommuneCheck]:
        return [one for one in self.communes if not one.passed]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": [one.commune for one in self.failed]}


def silent_check(
    settings: Settings, communes: Sequence[str] | None = None, *, name: str = "manual"
) -> CheckReport:
    """Reachability and a round trip of the alert path, without a sound."""
    zone = settings.organisation.district.zone
    report = CheckReport(RoutineCheckKind.SILENT.value, name, datetime.now(zone).isoformat())
    targets = [commune.id for commune in alert_targets(settings, communes)]
    published = publisher(settings).publish(
        {commune: [] for commune in targets}, PublishReport(), refresh=True
    )
    sent_at = time.monotonic()
    pending = set(targets)
    seen: dict[str, tuple[float, Acknowledgement]] = {}
    last: dict[str, Acknowledgement] = {}
    deadline = sent_at + settings.alerts.check_timeout_s
    reader = _AckReader(settings)
    while pending and time.monotonic() < deadline:
        for ack in reader.manifests(pending, published.sequences):
            last[ack.commune_id] = ack
            if (
                ack.heartbeat_sequence is not None
                and ack.heartbeat_sequence >= published.sequences[ack.commune_id]
            ):
                seen[ack.commune_id] = (time.monotonic() - sent_at, ack)
                pending.discard(ack.commune_id)
        if pending:
            time.sleep(POLL_S)
    for commune in targets:
        report.communes.append(
            _silent_result(settings, commune, seen.get(commune), last.get(commune))
        )
    return _finished(settings, report)


def audible_check(settings: Settings, *, name: str = "manual") -> CheckReport:
    """A test alert to every commune, announced as a test; passes where it is played."""
    zone = settings.organisation.district.zone
    now = datetime.now(zone).replace(microsecond=0)
    report = CheckReport(RoutineCheckKind.AUDIBLE.value, name, now.isoformat())
    draft = AlertDraft(
        title="[THỬ NGHIỆM] Bản tin thử nghiệm định kỳ hệ thống cảnh báo",
        hazard=Hazard.OTHER,
        level=1,
        status=AlertStatus.TEST,
        communes=None,
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        identifier=f"loa-{settings.organisation.district.id}-test-{uuid.uuid4()}",
        sender=settings.alerts.sender or f"{settings.organisation.district.id}@loa",
        texts={"vi": TEST_TEXT_VI.format(district=settings.organisation.district.name)},
    )
    sent = send_alert(settings, draft, actor=f"routine {name}", every_language=False)
    report.alert_id = sent.alert.id
    deliveries = [
        Delivery(one.commune, one.item_ids, one.sequence, one.published_at)
        for one in sent.alert.deliveries
    ]
    deadline = time.monotonic() + settings.alerts.check_timeout_s + _longest_s(sent.alert.clips)
    reader = _AckReader(settings)
    acks = reader.read(deliveries)
    while time.monotonic() < deadline and any(a.state is not AckState.PLAYED for a in acks):
        time.sleep(POLL_S)
        acks = reader.read(deliveries)
    for ack in acks:
        report.communes.append(_audible_result(ack))
    return _finished(settings, report)


def routines(settings: Settings, on_report: Callable[[CheckReport], None]) -> tuple[Routine, ...]:
    """The configured routine checks, for the district scheduler."""
    checks = {RoutineCheckKind.SILENT: silent_check, RoutineCheckKind.AUDIBLE: audible_check}

    def action(name: str, kind: RoutineCheckKind) -> Callable[[], None]:
        return lambda: on_report(checks[kind](settings, name=name))

    return tuple(
        Routine(name, check.when, action(name, check.check), check.weeks)
        for name, check in settings.alerts.routine.items()
    )


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports" / "alert-checks"


# -- helpers ------------------------------------------------------------------------------


class _AckReader:
    """The agents' heartbeats and receipts, read again and again through one client."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store = S3ObjectStore.from_settings(settings)
        self._zone = settings.organisation.district.zone

    def manifests(self, communes: set[str], sequences: dict[str, int]) -> list[Acknowledgement]:
        """Where the communes' heartbeats say their manifests are (no receipts read)."""
        now = datetime.now(self._zone)
        return self.read([Delivery(c, (), sequences[c], now) for c in sorted(communes)])

    def read(self, deliveries: Sequence[Delivery]) -> list[Acknowledgement]:
        return read_acknowledgements(
            self._store,
            deliveries,
            now=datetime.now(self._zone),
            zone=self._zone,
            silent_after=timedelta(seconds=self._settings.alerts.silent_after_s),
            parallel=self._settings.publish.parallel_requests,
        )


def _silent_result(
    settings: Settings,
    commune: str,
    seen: tuple[float, Acknowledgement] | None,
    last: Acknowledgement | None,
) -> CommuneCheck:
    heartbeat = last.last_heartbeat_at.isoformat() if last and last.last_heartbeat_at else None
    if seen is not None:
        return CommuneCheck(commune, True, heartbeat, round(seen[0], 1))
    if last is None or last.last_heartbeat_at is None:
        problem = last.error if last is not None and last.error else "no heartbeat ever"
        return CommuneCheck(commune, False, heartbeat, problem=problem)
    timeout = settings.alerts.check_timeout_s
    return CommuneCheck(
        commune,
        False,
        heartbeat,
        problem=f"the new manifest was not reported within {timeout:g} s "
        f"(agent holds sequence {last.heartbeat_sequence})",
    )


def _audible_result(ack: Acknowledgement) -> CommuneCheck:
    heartbeat = ack.last_heartbeat_at.isoformat() if ack.last_heartbeat_at else None
    if ack.state is AckState.PLAYED:
        return CommuneCheck(ack.commune_id, True, heartbeat)
    failure = ack.failure
    problem = ack.error or (failure.reason if failure is not None else None) or ack.state.value
    return CommuneCheck(ack.commune_id, False, heartbeat, problem=problem)


def _longest_s(clips: Sequence[Any]) -> float:
    return max((clip.duration_ms for clip in clips), default=0) / 1000


def _finished(settings: Settings, report: CheckReport) -> CheckReport:
    report.finished_at = datetime.now(settings.organisation.district.zone).isoformat()
    stamp = report.started_at[:19].replace(":", "")
    path = reports_dir(settings) / f"{stamp}-{report.name}-{report.check}.json"
    body = json.dumps(report.to_dict(), ensure_ascii=False, indent=1).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body)
    except OSError as error:
        log.error("cannot write the check report %s: %s", path, error)
    log.info(
        "%s check %s: %d of %d failed",
        report.check,
        report.name,
        len(report.failed),
        len(report.communes),
    )
    return report
