"""The commune agent's emergency fast path (DESIGN.md §5), against a real SeaweedFS and a
real-time ffmpeg player: the emergency poll, pre-emption of a broadcast and its restart,
emergencies among themselves, test alerts, cancellation and replays. Each test says what
was played, when, and what was reported."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from playout import DistrictKeys, ItemKind, ManifestItem, ObjectInfo, ObjectStore, Priority
from playout._errors import StorageError
from playout.agent import Occurrence
from playout.agent._cadence import Poll, PollCadence
from playout.agent._preempt import preemptor, urgent_audio
from playout.agent._schedule import decide, preempts, rank
from tests.conftest import SettingsFactory, agent_settings
from tests.manifests import COMMUNE, Bucket, audio_ref, item, make_tone, manifest
from tests.test_agent import SwitchableStore, plays, wait_for
from tests.test_agent_faults import (
    RunningAgent,
    at,
    delay,
    file_agent,
    heartbeat,
    player_agent,
    playing,
    receipts,
    uploaded_receipts,
)

EMERGENCY_POLL_S = 2.0
TIMING = {
    "poll_interval_s": 5.0,
    "emergency_poll_s": EMERGENCY_POLL_S,
    "heartbeat_interval_s": 30.0,  # any heartbeat seen within seconds was sent at once
    "once_max_wait_s": 3.0,
}
# An emergency poll is 2 s ± 10 %; the player stops within a fraction of a second.
CUT_IN = timedelta(seconds=EMERGENCY_POLL_S * 1.1 + 1.0)
ON_TIME = timedelta(seconds=0.8)
WINDOW = timedelta(seconds=30)
ALERT = "canh-bao-lu"  # flood warning
PREEMPTED = f"pre-empted by emergency {ALERT}"


@dataclass(frozen=True)
class Tones:
    """Real MP3s: ``bulletin`` (4 s), ``programme`` (3 s) and three 1-second tones."""

    bulletin: bytes
    programme: bytes
    alert: bytes
    second_alert: bytes
    notice: bytes


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> Tones:
    directory = tmp_path_factory.mktemp("emergency-tones")
    return Tones(
        bulletin=make_tone(directory / "bulletin.mp3", 440, seconds=4.0),
        programme=make_tone(directory / "programme.mp3", 550, seconds=3.0),
        alert=make_tone(directory / "alert.mp3", 880),
        second_alert=make_tone(directory / "second.mp3", 990),
        notice=make_tone(directory / "notice.mp3", 660),
    )


@pytest.fixture
def settings(make_settings: SettingsFactory, district_keys: DistrictKeys) -> Settings:
    return agent_settings(make_settings, district_keys, TIMING)


def emergency(audio: Any, start: datetime, item_id: str = ALERT, **extra: Any) -> ManifestItem:
    return item(audio, start, item_id=item_id, priority=Priority.EMERGENCY, window=WINDOW, **extra)


def drill(audio: Any, start: datetime) -> ManifestItem:
    """An exercise as the district publishes it: kind ``test``, priority emergency."""
    exercise = emergency(audio, start, item_id="dien-tap")
    return exercise.model_copy(update={"kind": ItemKind.TEST})


def outcomes(done: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(receipt["item_id"], receipt["outcome"]) for receipt in done]


def started(receipt: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(receipt["started"])


def ended(receipt: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(receipt["ended"])


def length(receipt: dict[str, Any]) -> timedelta:
    return ended(receipt) - started(receipt)


def seen_sequence(store: ObjectStore) -> int | None:
    """The manifest sequence in the agent's last uploaded heartbeat."""
    try:
        accepted = heartbeat(store)["manifest"]
    except StorageError:
        return None
    return accepted["sequence"] if accepted else None


# -- the rules, without storage ---------------------------------------------------------


def _occurrence(entry: ManifestItem, scheduled: datetime | None = None) -> Occurrence:
    return Occurrence(COMMUNE, 1, entry, scheduled or entry.start)


def test_preempts_only_for_a_due_emergency_over_anything_but_an_emergency(
    tones: Tones,
) -> None:
    now = datetime.now(UTC)
    ref = audio_ref(tones.alert)
    bulletin = _occurrence(item(ref, now - timedelta(seconds=5), item_id="ban-tin"))
    urgent = _occurrence(item(ref, now, item_id="thong-bao", priority=Priority.PRIORITY))
    alert = _occurrence(emergency(ref, now - timedelta(seconds=1)))
    other_alert = _occurrence(emergency(ref, now - timedelta(seconds=9), item_id="bao"))
    later_alert = _occurrence(emergency(ref, now + timedelta(seconds=1), item_id="sau"))
    expired = _occurrence(emergency(ref, now - WINDOW - timedelta(seconds=1), item_id="cu"))
    exercise = _occurrence(drill(ref, now - timedelta(seconds=1)))

    assert preempts(alert, bulletin, now) and preempts(alert, urgent, now)
    assert preempts(alert, exercise, now)  # a test is never played as the real thing
    assert not preempts(alert, other_alert, now)  # never another emergency
    assert not preempts(alert, alert, now)
    assert not preempts(later_alert, bulletin, now) and not preempts(expired, bulletin, now)
    assert not preempts(exercise, bulletin, now) and not preempts(bulletin, urgent, now)
    pending = [bulletin, other_alert, alert, later_alert, exercise]
    assert preemptor(pending, bulletin, now, refused=set()) == alert  # the newest due one
    assert preemptor(pending, bulletin, now, refused={ref.sha256}) is None
    assert urgent_audio(pending, now) == [ref]


def test_a_test_item_ranks_as_priority_at_most(tones: Tones) -> None:
    now = datetime.now(UTC)
    ref = audio_ref(tones.alert)
    normal = item(ref, now - timedelta(seconds=9), item_id="ban-tin")
    exercise = drill(ref, now - timedelta(seconds=1))
    quiet_test = normal.model_copy(update={"id": "thu-loa", "kind": ItemKind.TEST})
    alert = emergency(ref, now - timedelta(seconds=2))
    assert [rank(entry) for entry in (alert, exercise, quiet_test, normal)] == [0, 1, 2, 2]

    pending = [_occurrence(entry) for entry in (normal, exercise, alert)]
    order = []
    while (decision := decide(pending, now)).play is not None:
        order.append(decision.play.item.id)
        pending.remove(decision.play)
    assert order == [ALERT, "dien-tap", "ban-tin"]


def test_the_manifest_is_checked_between_full_syncs() -> None:
    now = [0.0]
    cadence = PollCadence(5.0, 2.0, clock=lambda: now[0])
    made = []
    while now[0] < 12.0:
        due = cadence.due()
        if due is not None:
            made.append((round(now[0], 1), due))
            cadence.done(due)
        now[0] += 0.1
    syncs = [moment for moment, poll in made if poll is Poll.SYNC]
    assert syncs[0] == 0.0 and len(syncs) == 3, made  # every 5 s ± 10 %
    for (previous, _), (moment, poll) in pairwise(made):
        assert moment - previous <= 2.3, made  # the manifest at least every 2 s + 10 %
        if poll is Poll.CHECK:
            assert moment - previous >= 1.8, made  # a full sync checked it too


# -- pre-emption with a real-time player -------------------------------------------------


def test_an_emergency_published_during_a_bulletin_cuts_in_and_the_bulletin_restarts(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, tmp_path: Path, tones: Tones
) -> None:
    pid_file = tmp_path / "player.pid"
    bulletin_ref, alert_ref = bucket.put_audio(tones.bulletin), bucket.put_audio(tones.alert)
    bulletin = item(bulletin_ref, at(1.0), item_id="ban-tin", window=WINDOW)
    bucket.publish(manifest([bulletin], sequence=1))
    agent = player_agent(settings, object_store, pid_file)

    with RunningAgent(agent):
        assert wait_for(lambda: playing(pid_file) is not None, 5)
        time.sleep(0.5)
        published = datetime.now(UTC)
        bucket.publish(manifest([bulletin, emergency(alert_ref, at(0))], sequence=2))
        assert wait_for(lambda: seen_sequence(object_store) == 2, CUT_IN.total_seconds())
        seen = datetime.now(UTC)
        alert_uploaded = _when_uploaded(object_store, ALERT, 5)
        done = uploaded_receipts(object_store, 3, 8)

    assert outcomes(done) == [("ban-tin", "interrupted"), (ALERT, "played"), ("ban-tin", "played")]
    cut, alert, again = done
    assert cut["reason"] == PREEMPTED and ended(cut) - published <= CUT_IN, cut
    assert seen - published <= CUT_IN  # the heartbeat of the new manifest: "seen"
    assert timedelta(0) <= started(alert) - ended(cut) < ON_TIME
    assert length(alert) >= timedelta(seconds=0.95)
    assert alert_uploaded - ended(alert) < timedelta(seconds=1.5)  # not at the next sync
    # The interrupted bulletin again, from its beginning: all 4 seconds of it.
    assert timedelta(0) <= started(again) - ended(alert) < ON_TIME
    assert length(again) >= timedelta(seconds=3.9) and again["reason"] is None


def _when_uploaded(store: ObjectStore, item_id: str, seconds: float) -> datetime:
    """When a receipt for ``item_id`` was first seen in the bucket."""
    assert wait_for(lambda: any(r["item_id"] == item_id for r in receipts(store)), seconds)
    return datetime.now(UTC)


@pytest.mark.parametrize("window_s", [30.0, 1.0], ids=["restarts", "too-late-to-restart"])
def test_an_emergency_repeat_falling_due_during_a_programme_cuts_in_at_its_due_time(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    tmp_path: Path,
    tones: Tones,
    window_s: float,
) -> None:
    programme_ref, alert_ref = bucket.put_audio(tones.programme), bucket.put_audio(tones.alert)
    first = at(1.0)
    repeat = {"every_s": 3, "until": first + timedelta(seconds=3)}
    alert = emergency(alert_ref, first, repeat=repeat)
    window = timedelta(seconds=window_s)
    programme = item(
        programme_ref, first + timedelta(seconds=1.4), item_id="ca-nhac", window=window
    )
    bucket.publish(manifest([alert, programme], sequence=1))
    agent = player_agent(settings, object_store, tmp_path / "player.pid")

    with RunningAgent(agent):
        count = 4 if window_s > 3 else 3
        done = uploaded_receipts(object_store, count, 12)
        time.sleep(1.0)  # nothing else follows
        done = receipts(object_store)

    expected = [(ALERT, "played"), ("ca-nhac", "interrupted"), (ALERT, "played")]
    if window_s > 3:
        expected.append(("ca-nhac", "played"))
    assert outcomes(done) == expected
    cut, repeated = done[1], done[2]
    due = first + timedelta(seconds=3)
    assert cut["reason"] == PREEMPTED
    assert timedelta(0) <= ended(cut) - due < timedelta(seconds=0.6), cut  # at its due time
    assert datetime.fromisoformat(repeated["scheduled"]) == due
    assert timedelta(0) <= delay(repeated) < ON_TIME
    if window_s > 3:
        assert length(done[3]) >= timedelta(seconds=2.9)


def test_an_emergency_never_interrupts_another_and_waiting_ones_play_newest_first(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, tmp_path: Path, tones: Tones
) -> None:
    pid_file = tmp_path / "player.pid"
    long_ref = bucket.put_audio(tones.programme)
    older_ref, newer_ref = bucket.put_audio(tones.alert), bucket.put_audio(tones.second_alert)
    start = at(1.0)
    storm = emergency(long_ref, start, item_id="bao-so-9")
    landslide = emergency(older_ref, start + timedelta(seconds=1.2), item_id="sat-lo")
    bucket.publish(manifest([storm, landslide], sequence=1))
    agent = player_agent(settings, object_store, pid_file)

    with RunningAgent(agent):
        assert wait_for(lambda: playing(pid_file) is not None, 5)
        flood = emergency(newer_ref, start + timedelta(seconds=1.6))
        bucket.publish(manifest([storm, landslide, flood], sequence=2))  # during the storm
        done = uploaded_receipts(object_store, 3, 10)

    assert outcomes(done) == [("bao-so-9", "played"), (ALERT, "played"), ("sat-lo", "played")]
    storm_play, flood_play, landslide_play = done
    assert length(storm_play) >= timedelta(seconds=2.9)  # to its end
    assert started(flood_play) >= ended(storm_play) and started(landslide_play) >= ended(flood_play)


def test_a_test_alert_does_not_preempt_and_plays_before_a_due_normal_item(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, tmp_path: Path, tones: Tones
) -> None:
    programme_ref = bucket.put_audio(tones.programme)
    drill_ref, notice_ref = bucket.put_audio(tones.alert), bucket.put_audio(tones.notice)
    start = at(1.0)
    bucket.publish(
        manifest(
            [
                item(programme_ref, start, item_id="ca-nhac", window=WINDOW),
                item(notice_ref, start + timedelta(seconds=0.8), item_id="thong-bao"),
                drill(drill_ref, start + timedelta(seconds=1.5)),
            ],
            sequence=1,
        )
    )
    agent = player_agent(settings, object_store, tmp_path / "player.pid")

    with RunningAgent(agent):
        done = uploaded_receipts(object_store, 3, 10)

    assert outcomes(done) == [
        ("ca-nhac", "played"),
        ("dien-tap", "played"),
        ("thong-bao", "played"),
    ]
    programme, exercise, notice = done
    assert length(programme) >= timedelta(seconds=2.9) and programme["reason"] is None
    assert (exercise["kind"], exercise["priority"]) == ("test", "emergency")
    assert timedelta(0) <= started(exercise) - ended(programme) < ON_TIME
    assert started(notice) >= ended(exercise)


# -- cancellation and replays ------------------------------------------------------------


def test_a_withdrawn_alert_stops_at_once_and_is_never_played_again(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, tmp_path: Path, tones: Tones
) -> None:
    pid_file = tmp_path / "player.pid"
    alert_ref, notice_ref = bucket.put_audio(tones.bulletin), bucket.put_audio(tones.notice)
    alert = emergency(alert_ref, at(1.0))
    later = item(notice_ref, at(3600), item_id="thong-bao")
    bucket.publish(manifest([alert, later], sequence=1))
    agent = player_agent(settings, object_store, pid_file)

    with RunningAgent(agent):
        assert wait_for(lambda: playing(pid_file) is not None, 5)
        time.sleep(0.3)
        cancelled = datetime.now(UTC)
        bucket.publish(manifest([later], sequence=2))  # the district cancels the alert
        [cut] = uploaded_receipts(object_store, 1, CUT_IN.total_seconds() + 1)
        time.sleep(EMERGENCY_POLL_S * 1.2)  # at least one more poll
        done = receipts(object_store)

    assert outcomes(done) == [(ALERT, "interrupted")]
    assert cut["reason"] == "withdrawn by manifest 2"
    assert ended(cut) - cancelled <= CUT_IN and length(cut) < timedelta(seconds=3.5)


def test_a_played_emergency_is_not_played_again_by_a_later_manifest_or_after_a_restart(
    settings: Settings,
    object_store: ObjectStore,
    bucket: Bucket,
    sink_dir: Path,
    tones: Tones,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alert_ref, notice_ref = bucket.put_audio(tones.alert), bucket.put_audio(tones.notice)
    alert = emergency(alert_ref, at(0.5))
    first_signed = bucket.publish(manifest([alert], sequence=1))

    with RunningAgent(file_agent(settings, object_store, sink_dir)):
        assert wait_for(lambda: len(plays(sink_dir)) == 1, 4)
        notice = item(notice_ref, at(0), item_id="thong-bao", window=WINDOW)
        bucket.publish(manifest([alert, notice], sequence=2))  # still carries the alert
        assert wait_for(lambda: len(plays(sink_dir)) == 2, CUT_IN.total_seconds() + 1)
        time.sleep(0.5)

    with RunningAgent(file_agent(settings, object_store, sink_dir)):
        time.sleep(1.0)  # the restarted agent has synced and decided
        bucket.put_manifest_bytes(first_signed)  # an old manifest replayed into the bucket
        assert wait_for(lambda: "refused: " in caplog.text, CUT_IN.total_seconds())
        time.sleep(0.5)

    assert [(p["item_id"], p["outcome"]) for p in plays(sink_dir)] == [
        (ALERT, "played"),
        ("thong-bao", "played"),
    ]
    assert outcomes(receipts(object_store)) == [(ALERT, "played"), ("thong-bao", "played")]


# -- the emergency poll ------------------------------------------------------------------


class CountingStore(SwitchableStore):
    """Counts the requests an agent makes, by kind."""

    def __init__(self, current: ObjectStore) -> None:
        super().__init__(current)
        self.requests: Counter[str] = Counter()

    def get_if_changed(
        self, key: str, etag: str | None, *, max_bytes: int
    ) -> tuple[bytes, str] | None:
        self.requests["get_if_changed"] += 1
        return super().get_if_changed(key, etag, max_bytes=max_bytes)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str:
        self.requests["put"] += 1
        return super().put_bytes(key, data, content_type)

    def head(self, key: str) -> ObjectInfo | None:
        self.requests["head"] += 1
        return super().head(key)

    def download_to(self, key: str, path: Path, *, max_bytes: int) -> int:
        self.requests["download"] += 1
        return super().download_to(key, path, max_bytes=max_bytes)


def files_under(*directories: Path) -> dict[Path, tuple[int, int]]:
    return {
        path: (path.stat().st_mtime_ns, path.stat().st_size)
        for directory in directories
        for path in directory.rglob("*")
        if path.is_file()
    }


def test_the_emergency_poll_plays_an_alert_within_seconds_at_a_304_per_poll(
    settings: Settings, object_store: ObjectStore, bucket: Bucket, sink_dir: Path, tones: Tones
) -> None:
    notice_ref, alert_ref = bucket.put_audio(tones.notice), bucket.put_audio(tones.alert)
    later = item(notice_ref, at(3600), item_id="thong-bao")
    bucket.publish(manifest([later], sequence=1))
    link = CountingStore(object_store)
    agent = file_agent(settings, link, sink_dir)

    with RunningAgent(agent):
        assert wait_for(lambda: seen_sequence(object_store) == 1, 5)
        time.sleep(0.5)
        before, link.requests = files_under(agent.directory), Counter()
        time.sleep(4.5)  # idle: two or three manifest polls, perhaps one of them a full sync
        idle, after = dict(link.requests), files_under(agent.directory)
        time.sleep(random.uniform(0, EMERGENCY_POLL_S * 1.1))  # a random moment of the cycle
        published = datetime.now(UTC)
        bucket.publish(manifest([later, emergency(alert_ref, at(0))], sequence=2))
        assert wait_for(lambda: seen_sequence(object_store) == 2, 3.5)
        seen = datetime.now(UTC)
        assert wait_for(lambda: len(plays(sink_dir)) == 1, 3)
        alert_uploaded = _when_uploaded(object_store, ALERT, 3)

    assert 2 <= idle.pop("get_if_changed") <= 3 and idle == {}, idle  # 304s, nothing else
    assert after == before  # nothing written on disk
    [play] = plays(sink_dir)
    assert play["item_id"] == ALERT and play["outcome"] == "played"
    assert datetime.fromisoformat(play["started"]) - published <= timedelta(seconds=3.5)
    assert alert_uploaded - datetime.fromisoformat(play["ended"]) < timedelta(seconds=1.5)
    assert seen - published <= timedelta(seconds=3.5)  # heartbeat at once: "seen"
