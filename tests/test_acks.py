"""Reading an alert's acknowledgements back from the bucket (issue 7), against the real
SeaweedFS, from heartbeats and receipts built by the agent's own code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from playout import (
    Acknowledgement,
    AckState,
    Delivery,
    ObjectInfo,
    ObjectStore,
    Priority,
    S3ObjectStore,
    read_acknowledgements,
)
from playout._layout import heartbeat_key
from playout.agent import AsRunReceipt, CacheUsage, ClockReading, Occurrence, Outcome
from playout.agent._heartbeat import CacheHealth, Heartbeat
from playout.agent._outbox import Outbox
from playout.agent._playback import Playback
from tests.manifests import audio_ref, item, manifest

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SEQUENCE = 1_764_000_000_000
ALERT = ("lu-quet-vi", "lu-quet-hnj")  # the alert in two languages


class Commune:
    """One commune's agent, as far as what it writes to the bucket goes."""

    def __init__(self, store: ObjectStore, commune_id: str, outbox_dir: Path) -> None:
        self.store = store
        self.commune_id = commune_id
        self.outbox = Outbox(outbox_dir / commune_id)

    def occurrence(self, item_id: str, scheduled: datetime) -> Occurrence:
        ref = audio_ref(item_id.encode())
        alert = item(ref, scheduled, item_id=item_id, priority=Priority.EMERGENCY)
        return Occurrence(self.commune_id, SEQUENCE, alert, scheduled)

    def heartbeat(
        self, at: datetime, *, sequence: int | None = SEQUENCE, playing: str | None = None
    ) -> None:
        now_playing = Playback(self.occurrence(playing, at), at) if playing else None
        held = manifest([], sequence=sequence, commune=self.commune_id) if sequence else None
        beat = Heartbeat(
            commune_id=self.commune_id,
            at=at,
            manifest=held,
            in_force=held is not None,
            online=True,
            now_playing=now_playing,
            next_occurrence=None,
            last_play=None,
            cache=CacheHealth(CacheUsage(0, 0), None, 0, None),
            clock=ClockReading(0.01, 0.05, "local"),
            outbox_pending=0,
            refused_manifests=[],
            problems=[],
        )
        body = json.dumps(beat.document(ZONE), ensure_ascii=False, indent=1).encode()
        self.store.put_bytes(heartbeat_key(self.commune_id), body, "application/json")

    def receipt(
        self, item_id: str, outcome: Outcome, started: datetime, reason: str | None = None
    ) -> None:
        """One playback's receipt, through the outbox as the agent sends it."""
        played = outcome is not Outcome.SKIPPED
        receipt = AsRunReceipt(
            self.occurrence(item_id, started),
            outcome,
            started=started if played else None,
            ended=started + timedelta(seconds=20) if played else None,
            reason=reason,
        )
        self.outbox.put(receipt.key(ZONE), receipt.document(ZONE))
        self.outbox.send(self.store)


CommuneFactory = Callable[[str], Commune]


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def published_at(now: datetime) -> datetime:
    return now - timedelta(minutes=2)


@pytest.fixture
def commune(object_store: S3ObjectStore, tmp_path: Path) -> CommuneFactory:
    return lambda commune_id: Commune(object_store, commune_id, tmp_path / "outboxes")


def read(
    store: ObjectStore, communes: list[str], published_at: datetime, now: datetime
) -> dict[str, Acknowledgement]:
    deliveries = [Delivery(c, ALERT, SEQUENCE, published_at) for c in communes]
    acks = read_acknowledgements(store, deliveries, now=now, zone=ZONE, parallel=4)
    assert [ack.commune_id for ack in acks] == communes
    return {ack.commune_id: ack for ack in acks}


def test_each_state(
    object_store: S3ObjectStore, commune: CommuneFactory, now: datetime, published_at: datetime
) -> None:
    recent = now - timedelta(seconds=20)
    played_at = published_at + timedelta(seconds=5)
    commune("xa-published").heartbeat(recent, sequence=SEQUENCE - 1)
    commune("xa-seen").heartbeat(recent)
    commune("xa-playing").heartbeat(recent, playing="lu-quet-hnj")
    played = commune("xa-played")
    played.heartbeat(recent)
    for language, item_id in enumerate(ALERT):
        played.receipt(item_id, Outcome.PLAYED, played_at + timedelta(seconds=30 * language))
    failed = commune("xa-failed")
    failed.heartbeat(recent)
    failed.receipt("lu-quet-vi", Outcome.FAILED, played_at, reason="player exited with 1")
    commune("xa-silent").heartbeat(now - timedelta(minutes=10))

    states = [state for state in AckState if state is not AckState.UNREADABLE]
    acks = read(object_store, [f"xa-{state}" for state in states], published_at, now)

    assert {commune_id: ack.state for commune_id, ack in acks.items()} == {
        f"xa-{state}": state for state in states
    }
    assert acks["xa-published"].seen_at is None
    assert acks["xa-published"].last_heartbeat_at == recent
    assert acks["xa-seen"].seen_at == recent
    assert acks["xa-seen"].heartbeat_sequence == SEQUENCE
    assert acks["xa-playing"].now_playing == "lu-quet-hnj"
    vi, hnj = acks["xa-played"].items
    assert vi.played is not None and hnj.played is not None
    assert vi.item_id == "lu-quet-vi" and vi.played.started == played_at
    assert vi.played.ended == played_at + timedelta(seconds=20)
    assert hnj.played.started == played_at + timedelta(seconds=30)
    failure = acks["xa-failed"].failure
    assert failure is not None and failure.outcome is Outcome.FAILED
    assert failure.reason == "player exited with 1"
    assert acks["xa-silent"].last_heartbeat_at == now - timedelta(minutes=10)


def test_a_commune_with_nothing_is_silent(
    object_store: S3ObjectStore, now: datetime, published_at: datetime
) -> None:
    ack = read(object_store, ["xa-moi"], published_at, now)["xa-moi"]

    assert ack.state is AckState.SILENT and ack.error is None
    assert ack.last_heartbeat_at is None and ack.seen_at is None
    assert [(item.item_id, item.receipts) for item in ack.items] == [(i, ()) for i in ALERT]


def test_silent_after_180_seconds_unless_played(
    object_store: S3ObjectStore, commune: CommuneFactory, now: datetime, published_at: datetime
) -> None:
    beat = published_at + timedelta(seconds=10)
    commune("xa-a").heartbeat(beat)
    played = commune("xa-b")
    played.heartbeat(beat)
    for item_id in ALERT:
        played.receipt(item_id, Outcome.PLAYED, beat)

    in_time = read(object_store, ["xa-a", "xa-b"], published_at, beat + timedelta(seconds=180))
    late = read(object_store, ["xa-a", "xa-b"], published_at, beat + timedelta(seconds=181))

    assert in_time["xa-a"].state is AckState.SEEN
    assert late["xa-a"].state is AckState.SILENT and late["xa-a"].seen_at == beat
    assert late["xa-b"].state is AckState.PLAYED


def test_played_means_every_language(
    object_store: S3ObjectStore, commune: CommuneFactory, now: datetime, published_at: datetime
) -> None:
    xa = commune("xa-a")
    xa.heartbeat(now - timedelta(seconds=5), playing="lu-quet-hnj")
    xa.receipt("lu-quet-vi", Outcome.INTERRUPTED, published_at, reason="stopped")
    xa.receipt("lu-quet-vi", Outcome.PLAYED, published_at + timedelta(seconds=40))

    playing = read(object_store, ["xa-a"], published_at, now)["xa-a"]
    xa.heartbeat(now - timedelta(seconds=5))
    seen = read(object_store, ["xa-a"], published_at, now)["xa-a"]
    xa.receipt("lu-quet-hnj", Outcome.PLAYED, published_at + timedelta(seconds=70))
    played = read(object_store, ["xa-a"], published_at, now)["xa-a"]

    assert playing.state is AckState.PLAYING and seen.state is AckState.SEEN
    vi, hnj = seen.items
    assert [r.outcome for r in vi.receipts] == [Outcome.INTERRUPTED, Outcome.PLAYED]
    assert vi.played is not None and vi.failure is None
    assert hnj.played is None and hnj.receipts == ()
    assert played.state is AckState.PLAYED


def test_only_the_alerts_receipts_of_its_days_are_read(
    object_store: S3ObjectStore,
    commune: CommuneFactory,
    now: datetime,
    published_at: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xa = commune("xa-a")
    xa.heartbeat(now - timedelta(seconds=5))
    for other in ("bulletin-1", "lu-quet-vi-cu", "lu-quet"):
        xa.receipt(other, Outcome.PLAYED, published_at + timedelta(seconds=5))
    # The same id in an earlier alert, days before this one was published.
    for item_id in ALERT:
        xa.receipt(item_id, Outcome.PLAYED, published_at - timedelta(days=3))
    xa.receipt("lu-quet-vi", Outcome.SKIPPED, published_at + timedelta(seconds=5))
    listed, fetched = spy(object_store, monkeypatch)

    ack = read(object_store, ["xa-a"], published_at, now)["xa-a"]

    assert ack.state is AckState.FAILED
    failure = ack.failure
    assert failure is not None and failure.outcome is Outcome.SKIPPED
    assert failure.started is None and failure.scheduled == published_at + timedelta(seconds=5)
    assert fetched[0] == heartbeat_key("xa-a")
    assert len(fetched) == 2 and fetched[1].endswith("-lu-quet-vi.json")
    earlier = (published_at - timedelta(days=3)).astimezone(ZONE).date().isoformat()
    assert 1 <= len(listed) <= 2 and not any(earlier in prefix for prefix in listed)


def test_what_cannot_be_read_is_reported_not_raised(
    object_store: S3ObjectStore,
    dead_store: ObjectStore,
    commune: CommuneFactory,
    now: datetime,
    published_at: datetime,
) -> None:
    commune("xa-a").heartbeat(now)
    object_store.put_bytes(heartbeat_key("xa-b"), b"<html>", "application/json")

    acks = read(object_store, ["xa-a", "xa-b"], published_at, now)
    down = read(dead_store, ["xa-a", "xa-b", "xa-c"], published_at, now)

    assert acks["xa-a"].state is AckState.SEEN
    assert acks["xa-b"].state is AckState.UNREADABLE
    assert "communes/xa-b/status/heartbeat.json: not a heartbeat" in (acks["xa-b"].error or "")
    assert all(ack.state is AckState.UNREADABLE and ack.error for ack in down.values())


def spy(store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """The prefixes ``store`` lists and the keys it reads from now on."""
    listed: list[str] = []
    fetched: list[str] = []
    list_objects, get_bytes = store.list, store.get_bytes

    def listing(prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        listed.append(prefix)
        return list_objects(prefix, page_size=page_size)

    def reading(key: str, *, max_bytes: int) -> bytes:
        fetched.append(key)
        return get_bytes(key, max_bytes=max_bytes)

    monkeypatch.setattr(store, "list", listing)
    monkeypatch.setattr(store, "get_bytes", reading)
    return listed, fetched
