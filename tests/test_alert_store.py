"""Alerts in the content store (real SQLite; PostgreSQL too with LOA_TEST_POSTGRES_URL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from content import (
    AlertDraft,
    AlertState,
    AlertStatus,
    AlertStore,
    AuditAction,
    ContentInputError,
    ContentKind,
    ContentNotFoundError,
    ContentStateError,
    Hazard,
    Priority,
)

NOW = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
FLOOD_VI = "Cảnh báo lũ quét, sạt lở đất. Rủi ro thiên tai cấp độ 3."


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[AlertStore]:
    with AlertStore(db_url, tmp_path / "var" / "assets", clock=lambda: NOW) as opened:
        yield opened


def _draft(**changes: object) -> AlertDraft:
    draft = AlertDraft(
        title="Cảnh báo lũ quét",
        hazard=Hazard.FLASH_FLOOD,
        level=3,
        status=AlertStatus.ACTUAL,
        communes=("ta-tong", "pa-u"),
        issued_at=NOW,
        expires_at=NOW + timedelta(hours=12),
        identifier=f"loa-test-{id(changes)}-{sorted(changes)}",
        sender="ttvh-muong-te@loa",
        repeat_every_s=7200,
        texts={"vi": FLOOD_VI},
        phrasebank_languages=("lhu",),
    )
    return dataclasses.replace(draft, **changes)  # type: ignore[arg-type]


def test_an_alert_is_issued_as_an_approved_emergency_item(store: AlertStore) -> None:
    alert = store.issue_alert(_draft(), actor="chủ tịch UBND")
    assert alert.state is AlertState.ISSUED
    assert alert.item.kind is ContentKind.ALERT and alert.item.priority is Priority.EMERGENCY
    assert alert.item.approved_by == "chủ tịch UBND"
    assert alert.languages == ("vi", "lhu")
    vietnamese = alert.item.variant("vi")
    assert vietnamese is not None and vietnamese.text == FLOOD_VI
    actions = [event.action for event in store.audit_trail(alert.item.id)]
    assert actions == [AuditAction.CREATED, AuditAction.VARIANT_ADDED, AuditAction.ALERT_ISSUED]
    assert store.alert(alert.id) == alert
    assert store.alert_by_identifier(alert.identifier) == alert


def test_tests_and_exercises_are_test_items_and_drafts_are_held(store: AlertStore) -> None:
    test = store.issue_alert(_draft(status="test", identifier="t1"), actor="a")
    exercise = store.issue_alert(_draft(status="exercise", identifier="t2"), actor="a")
    draft = store.issue_alert(_draft(status="draft", identifier="t3"), actor="a")
    assert test.item.kind is ContentKind.TEST and exercise.item.kind is ContentKind.TEST
    assert draft.state is AlertState.HELD
    assert [one.id for one in store.alerts(AlertState.HELD)] == [draft.id]


def test_an_update_supersedes_and_a_cancel_ends(store: AlertStore) -> None:
    first = store.issue_alert(_draft(identifier="a1"), actor="a")
    second = store.issue_alert(_draft(identifier="a2", level=4, supersedes=first.id), actor="b")
    old = store.alert(first.id)
    assert old.state is AlertState.SUPERSEDED and old.end_reason == f"alert {second.id}"
    assert store.successor(first.id) == second
    with pytest.raises(ContentStateError, match="already superseded"):
        store.issue_alert(_draft(identifier="a3", supersedes=first.id), actor="b")
    cancelled = store.cancel_alert(second.id, actor="b", reason="hết nguy cơ")
    assert cancelled.state is AlertState.CANCELLED and cancelled.ended_by == "b"
    with pytest.raises(ContentStateError, match="already cancelled"):
        store.cancel_alert(second.id, actor="b", reason="again")


def test_clips_and_deliveries_are_recorded(store: AlertStore) -> None:
    alert = store.issue_alert(_draft(), actor="a")
    sha = "ab" * 32
    store.record_alert_clip(
        alert.id,
        "vi",
        source="text",
        key=f"audio/{sha}.mp3",
        sha256=sha,
        bytes=1000,
        duration_ms=42000,
        lufs=-16.0,
        true_peak_dbtp=-1.6,
        engine="espeak",
    )
    store.record_deliveries(alert.id, {"ta-tong": (["alert-1-vi"], 17)})
    store.record_deliveries(alert.id, {"ta-tong": (["alert-1-vi", "alert-1-lhu"], 18)})
    read = store.alert(alert.id)
    assert read.latest_clips()[("vi", None)].sha256 == sha
    (delivery,) = read.deliveries
    assert delivery.item_ids == ("alert-1-vi", "alert-1-lhu") and delivery.sequence == 18


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"level": 7}, "risk level 7: Decision 18/2021 has levels 1 to 5"),
        ({"level": 0}, "risk level 0"),
        ({"communes": ()}, "commune list is empty"),
        ({"expires_at": NOW - timedelta(minutes=1)}, "is in the past"),
        ({"issued_at": NOW + timedelta(hours=1)}, "is in the future"),
        ({"expires_at": datetime(2026, 11, 25)}, "has no time zone offset"),
        ({"hazard": "volcano"}, "hazard 'volcano' is not one of"),
        ({"status": "system"}, "status 'system' is not one of"),
        ({"repeat_every_s": 10}, "at least every 60 s"),
        ({"texts": {}, "phrasebank_languages": ()}, "has no language"),
        ({"phrasebank_languages": ("vi",)}, "language 'vi' is given twice"),
        ({"texts": {"vi": "  "}}, "text of language"),
        ({"title": ""}, "title is empty"),
    ],
)
def test_bad_alerts_are_refused_and_nothing_is_stored(
    store: AlertStore, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ContentInputError, match=message):
        store.issue_alert(_draft(**changes), actor="a")
    assert store.alerts() == [] and store.list_items() == []


def test_an_identifier_is_used_once_and_unknown_alerts_are_named(store: AlertStore) -> None:
    store.issue_alert(_draft(identifier="same"), actor="a")
    with pytest.raises(ContentInputError, match="'same' is already used"):
        store.issue_alert(_draft(identifier="same"), actor="a")
    assert len(store.list_items()) == 1  # the second item was rolled back with its alert
    with pytest.raises(ContentNotFoundError, match="alert 99 does not exist"):
        store.cancel_alert(99, actor="a", reason="x")


def test_the_database_refuses_a_level_out_of_range(store: AlertStore, db_url: str) -> None:
    alert = store.issue_alert(_draft(), actor="a")
    engine = create_engine(db_url)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE alerts SET level = 7 WHERE id = :id"), {"id": alert.id})
    engine.dispose()
