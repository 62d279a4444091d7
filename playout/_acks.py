"""How far an alert got in each commune, read back from what the agents wrote (issue 7).

Per commune: the heartbeat (``communes/<id>/status/heartbeat.json``) and the as-run
receipts of the alert's items (``communes/<id>/asrun/<day>/<unix_ms>-<item_id>.json``).
Only the day folders the alert can have reached are listed, and only the receipts whose
key names one of its items are read.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from playout._errors import ObjectNotFound, StorageError, StorageUnavailable
from playout._layout import asrun_prefix, check_commune_id, heartbeat_key
from playout._objectstore import ObjectStore
from playout.agent._sink import Outcome

log = logging.getLogger(__name__)

DEFAULT_SILENT_AFTER = timedelta(seconds=180)
# A receipt's day is that of its start on the agent's clock (or of the scheduled time
# when nothing started), which may lie a little before the publish near midnight.
_DAY_SLACK = timedelta(minutes=5)
_MAX_DOCUMENT_BYTES = 1024 * 1024
_RECEIPT_SUFFIX = ".json"


class AckState(StrEnum):
    """Where an alert stands in one commune; see ``read_acknowledgements`` for the order
    in which they are decided."""

    UNREADABLE = "unreadable"  # its heartbeat or receipts could not be read
    PLAYED = "played"  # every item (language) played to its end at least once
    SILENT = "silent"  # no heartbeat, or none for ``silent_after``
    PLAYING = "playing"  # the agent is playing one of the items now
    FAILED = "failed"  # an item has receipts but none ``played``
    SEEN = "seen"  # the agent holds the manifest that carries the alert, or a later one
    PUBLISHED = "published"  # written to the bucket; the agent has not reported it yet


@dataclass(frozen=True)
class Delivery:
    """One alert in one commune: its manifest items (one per language), the manifest
    sequence that first carried them, and when that manifest was written."""

    commune_id: str
    item_ids: tuple[str, ...]
    sequence: int
    published_at: datetime


@dataclass(frozen=True)
class AsRunRecord:
    """One as-run receipt as an agent uploaded it; times are the agent's."""

    key: str
    item_id: str
    outcome: Outcome
    scheduled: datetime | None
    started: datetime | None
    ended: datetime | None
    reason: str | None
    manifest_sequence: int | None


@dataclass(frozen=True)
class ItemAcknowledgement:
    """The receipts of one item (one language) of the alert, oldest first."""

    item_id: str
    receipts: tuple[AsRunRecord, ...] = ()

    @property
    def played(self) -> AsRunRecord | None:
        """The first playback that ran to its end."""
        return next((r for r in self.receipts if r.outcome is Outcome.PLAYED), None)

    @property
    def failure(self) -> AsRunRecord | None:
        """The last receipt when none is ``played``: its outcome and reason say why."""
        if not self.receipts or self.played is not None:
            return None
        return self.receipts[-1]


@dataclass(frozen=True)
class Acknowledgement:
    """What one commune reported about one delivery."""

    commune_id: str
    state: AckState
    items: tuple[ItemAcknowledgement, ...]  # in the delivery's order
    last_heartbeat_at: datetime | None = None
    heartbeat_sequence: int | None = None  # the manifest the agent last reported holding
    seen_at: datetime | None = None  # the last heartbeat reporting the alert's manifest
    now_playing: str | None = None  # one of the items, if the agent is playing it
    error: str | None = None  # why it is UNREADABLE

    @property
    def failure(self) -> AsRunRecord | None:
        """The first item's failure, when the state is FAILED."""
        return next((item.failure for item in self.items if item.failure is not None), None)


class _Malformed(Exception):  # noqa: N818 - reads as the condition
    """A heartbeat or receipt that is not what an agent writes."""


@dataclass(frozen=True)
class _Heartbeat:
    at: datetime
    sequence: int | None
    playing: str | None


def read_acknowledgements(
    store: ObjectStore,
    deliveries: Sequence[Delivery],
    *,
    now: datetime,
    zone: tzinfo,
    silent_after: timedelta = DEFAULT_SILENT_AFTER,
    parallel: int = 16,
) -> list[Acknowledgement]:
    """Each delivery's state, in the deliveries' order; ``zone`` is the district's (the
    receipts' day folders are dated in it).

    The state is the first of these that holds:

    1. ``unreadable``: the heartbeat or a receipt could not be read or parsed (``error``);
    2. ``played``: every item of the delivery has a ``played`` receipt;
    3. ``silent``: there is no heartbeat, or the last is older than ``silent_after``;
    4. ``playing``: the heartbeat's now-playing item is one of the delivery's;
    5. ``failed``: an item has receipts, none of them ``played`` (``failure`` says why);
    6. ``seen``: the heartbeat's manifest sequence is at least the delivery's;
    7. ``published``: none of the above.

    Communes are read ``parallel`` at a time. A commune that cannot be read does not stop
    the others; once the store as a whole is unavailable, those not yet read are
    reported unreadable without a request."""
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    for delivery in deliveries:
        check_commune_id(delivery.commune_id)
    reader = _Reader(store, now, zone, silent_after)
    with ThreadPoolExecutor(parallel, thread_name_prefix="acks") as pool:
        return list(pool.map(reader.read, deliveries))


class _Reader:
    def __init__(
        self, store: ObjectStore, now: datetime, zone: tzinfo, silent_after: timedelta
    ) -> None:
        self._store = store
        self._now = now
        self._zone = zone
        self._silent_after = silent_after
        self._unavailable: str | None = None
        self._lock = threading.Lock()

    def read(self, delivery: Delivery) -> Acknowledgement:
        with self._lock:
            unavailable = self._unavailable
        if unavailable is not None:
            return _unreadable(delivery, f"not tried: {unavailable}")
        try:
            heartbeat = self._heartbeat(delivery.commune_id)
            receipts = self._receipts(delivery)
        except StorageUnavailable as error:
            with self._lock:
                self._unavailable = self._unavailable or str(error)
            return _unreadable(delivery, str(error))
        except (StorageError, _Malformed) as error:
            log.warning("%s: acknowledgement unreadable: %s", delivery.commune_id, error)
            return _unreadable(delivery, str(error))
        return _acknowledgement(delivery, heartbeat, receipts, self._now, self._silent_after)

    def _heartbeat(self, commune_id: str) -> _Heartbeat | None:
        key = heartbeat_key(commune_id)
        try:
            data = self._store.get_bytes(key, max_bytes=_MAX_DOCUMENT_BYTES)
        except ObjectNotFound:
            return None
        try:
            return _parse_heartbeat(_json_object(data))
        except (ValueError, KeyError, TypeError) as error:
            raise _Malformed(f"{key}: not a heartbeat ({error})") from error

    def _receipts(self, delivery: Delivery) -> dict[str, list[AsRunRecord]]:
        wanted = set(delivery.item_ids)
        found: dict[str, list[AsRunRecord]] = {item_id: [] for item_id in delivery.item_ids}
        if not wanted:  # a manifest round trip (the silent check): no receipt to look for
            return found
        prefix = asrun_prefix(delivery.commune_id)
        # Day folders in date order, keys within one in start order (they begin with
        # the start in unix ms): the receipts come oldest first.
        for day in _days(delivery.published_at - _DAY_SLACK, self._now + _DAY_SLACK, self._zone):
            for info in self._store.list(f"{prefix}{day.isoformat()}/"):
                item_id = _receipt_item_id(info.key)
                record = self._receipt(info.key, item_id) if item_id in wanted else None
                if record is not None:
                    found[record.item_id].append(record)
        return found

    def _receipt(self, key: str, item_id: str) -> AsRunRecord | None:
        """The receipt, or ``None`` if it was pruned since it was listed."""
        try:
            data = self._store.get_bytes(key, max_bytes=_MAX_DOCUMENT_BYTES)
        except ObjectNotFound:
            return None
        try:
            return _parse_receipt(key, item_id, _json_object(data))
        except (ValueError, KeyError, TypeError) as error:
            raise _Malformed(f"{key}: not an as-run receipt ({error})") from error


def _acknowledgement(
    delivery: Delivery,
    heartbeat: _Heartbeat | None,
    receipts: Mapping[str, list[AsRunRecord]],
    now: datetime,
    silent_after: timedelta,
) -> Acknowledgement:
    items = tuple(
        ItemAcknowledgement(item_id, tuple(receipts[item_id]))
        for item_id in dict.fromkeys(delivery.item_ids)
    )
    seen = heartbeat is not None and (heartbeat.sequence or 0) >= delivery.sequence
    playing = heartbeat.playing if heartbeat and heartbeat.playing in receipts else None
    silent = heartbeat is None or now - heartbeat.at > silent_after
    return Acknowledgement(
        commune_id=delivery.commune_id,
        state=_state(items, seen=seen, playing=playing is not None, silent=silent),
        items=items,
        last_heartbeat_at=heartbeat.at if heartbeat else None,
        heartbeat_sequence=heartbeat.sequence if heartbeat else None,
        seen_at=heartbeat.at if heartbeat and seen else None,
        now_playing=playing,
    )


def _state(
    items: Sequence[ItemAcknowledgement],
    *,
    seen: bool,
    playing: bool,
    silent: bool,
) -> AckState:
    if items and all(item.played is not None for item in items):
        return AckState.PLAYED
    if silent:
        return AckState.SILENT
    if playing:
        return AckState.PLAYING
    if any(item.failure is not None for item in items):
        return AckState.FAILED
    return AckState.SEEN if seen else AckState.PUBLISHED


def _unreadable(delivery: Delivery, error: str) -> Acknowledgement:
    items = tuple(ItemAcknowledgement(item_id) for item_id in dict.fromkeys(delivery.item_ids))
    return Acknowledgement(delivery.commune_id, AckState.UNREADABLE, items, error=error)


def _days(first: datetime, last: datetime, zone: tzinfo) -> Iterator[date]:
    day, end = first.astimezone(zone).date(), last.astimezone(zone).date()
    while day <= end:
        yield day
        day += timedelta(days=1)


def _receipt_item_id(key: str) -> str | None:
    """``bulletin-1`` for ``.../1764045000000-bulletin-1.json`` (the agent's key)."""
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(_RECEIPT_SUFFIX):
        return None
    unix_ms, dash, item_id = name.removesuffix(_RECEIPT_SUFFIX).partition("-")
    return item_id if dash and unix_ms.isdigit() and item_id else None


def _json_object(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _parse_heartbeat(document: dict[str, Any]) -> _Heartbeat:
    manifest = document.get("manifest")
    playing = document.get("now_playing")
    return _Heartbeat(
        at=_aware(document["at"]),
        sequence=_optional_int(manifest["sequence"]) if manifest is not None else None,
        playing=str(playing["item_id"]) if playing is not None else None,
    )


def _parse_receipt(key: str, item_id: str, document: dict[str, Any]) -> AsRunRecord:
    if document.get("item_id") != item_id:
        raise ValueError(f"item_id {document.get('item_id')!r} is not the key's {item_id!r}")
    reason = document.get("reason")
    return AsRunRecord(
        key=key,
        item_id=item_id,
        outcome=Outcome(document["outcome"]),
        scheduled=_optional_aware(document.get("scheduled")),
        started=_optional_aware(document.get("started")),
        ended=_optional_aware(document.get("ended")),
        reason=str(reason) if reason is not None else None,
        manifest_sequence=_optional_int(document.get("manifest_sequence")),
    )


def _aware(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError(f"time {text!r} is not a string")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment


def _optional_aware(text: object) -> datetime | None:
    return _aware(text) if text is not None else None


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value
