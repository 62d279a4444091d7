"""The commune agent: sync → verify → cache → schedule → play → report (DESIGN.md §1).

Two threads share the work. The playout thread (the one that calls ``run``) decides and
plays from local data only, so a slow or dead link never makes the loudspeakers late.
The link thread syncs the manifest and its audio, uploads heartbeats and receipts, stops
a playback that a new manifest withdraws, and cuts into one for a due emergency."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path

from config import Commune, Settings
from playout._atomic import write_atomic
from playout._errors import ManifestError, ObjectNotFound, StorageAccessDenied, StorageError
from playout._layout import heartbeat_key
from playout._manifest import AudioRef, Manifest, ManifestItem
from playout._objectstore import ObjectStore
from playout.agent._cache import AudioCache, AudioIntegrityError, CacheWriteError
from playout.agent._cadence import Poll, PollCadence
from playout.agent._clock import Clock, local_iso, utc_now, wait_until
from playout.agent._heartbeat import CacheHealth, Heartbeat
from playout.agent._outbox import Outbox
from playout.agent._playback import Interruption, Playback
from playout.agent._preempt import preemption_reason, preemptor, urgent_audio
from playout.agent._problems import Problem, ProblemLog
from playout.agent._receipt import AsRunReceipt
from playout.agent._schedule import (
    LOOKBACK,
    Decision,
    Occurrence,
    decide,
    is_emergency,
    occurrences,
    play_order,
)
from playout.agent._sink import Outcome, PlayResult, Sink
from playout.agent._state import LocalState
from playout.agent._status import STATUS_FILE, agent_directory, registered_commune
from playout.agent._summary import RunSummary
from playout.agent._sync import Identity, ManifestSync, SyncResult, SyncStatus
from playout.agent._timebase import TimeBase
from playout.agent._trust import pinned_keys

log = logging.getLogger(__name__)

_LINK_TICK_S = 0.25  # how soon the link notices a stop request or a due emergency
_FIRST_SYNC_WAIT_S = 5.0  # playout waits this long for storage's clock at most
_RECOVER_S = 1.0  # pause after an unexpected error in the playout thread
_MAX_REFUSALS = 10


@dataclass(frozen=True)
class _Unplayable:
    reason: str


class CommuneAgent:
    """Keeps one commune's loudspeakers on the district's signed schedule.

    Local data lives in ``<data_dir>/agents/<commune_id>/``: ``state.json``,
    ``manifest.json`` (the last accepted one), ``cache/`` (verified audio), ``outbox/``
    (as-run receipts not yet uploaded) and ``status.json`` (the last heartbeat).

    ``clock`` is this host's clock (injectable for tests). When it disagrees with
    storage's by more than 2 s, every decision uses storage's time instead."""

    def __init__(
        self,
        settings: Settings,
        commune_id: str,
        store: ObjectStore,
        sink: Sink,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.commune: Commune = registered_commune(settings, commune_id)
        self.directory: Path = agent_directory(settings, commune_id)
        identity = Identity(settings.organisation.district.id, commune_id, pinned_keys(settings))
        self._timing = settings.agent
        self._zone = settings.organisation.district.zone
        self._store = store
        self._sink = sink
        self._time = TimeBase(clock, store.take_date_samples)
        self._state = LocalState(self.directory / "state.json")
        self._manifests = ManifestSync(store, identity, self._state)
        self._cache = AudioCache(
            self.directory / "cache", max_object_bytes=settings.agent.max_audio_mb * 1024 * 1024
        )
        self._outbox = Outbox(self.directory / "outbox")
        self._problems = ProblemLog()
        self._refusals = ProblemLog(_MAX_REFUSALS)
        self._cache_error: Problem | None = None
        self._refused_audio: dict[str, str] = {}
        self._summary = RunSummary(commune_id, sequence=self._state.sequence)
        self._last_play: AsRunReceipt | None = None
        self._online = False
        self._schedule_changed = threading.Event()
        self._first_sync = threading.Event()
        self._link_wake = threading.Event()
        self._receipts_waiting = threading.Event()
        self._next_heartbeat = time.monotonic()
        # Held while the playout thread picks a cached clip and while the link prunes.
        self._cache_lock = threading.Lock()
        self._claimed: AudioRef | None = None
        # Held while a playback starts or ends, and while the link looks at it.
        self._playback_lock = threading.Lock()
        self._playback: Playback | None = None

    @property
    def status_path(self) -> Path:
        return self.directory / STATUS_FILE

    # -- public API ----------------------------------------------------------------

    def sync(self) -> SyncResult:
        """Poll the manifest, accept or refuse it, fetch its audio, send queued receipts."""
        return self._poll(full=True)

    def due_occurrences(self, now: datetime | None = None) -> list[Occurrence]:
        """The occurrences that may start at ``now``, in the order they would play."""
        moment = now if now is not None else self._now()
        pending = self._pending(moment, horizon=moment)
        return sorted((o for o in pending if o.is_due(moment)), key=play_order)

    def run(self, *, once: bool = False, stop_event: threading.Event | None = None) -> RunSummary:
        """``once``: one sync (a refused or unobtainable manifest raises), then play what
        starts within ``agent.once_max_wait_s``, heartbeat and return. Otherwise sync,
        play and report until ``stop_event`` is set, playing from the cache when the
        link is down. Setting ``stop_event`` also stops a playback in progress."""
        stop = stop_event if stop_event is not None else threading.Event()
        self._summary = RunSummary(self.commune.id, sequence=self._state.sequence)
        if once:
            return self._run_once(stop)
        self._first_sync.clear()
        with self._link_running(stop, poll=True):
            # A first answer from storage tells its clock: decide nothing before it.
            self._first_sync.wait(_FIRST_SYNC_WAIT_S)
            self._playout(stop, horizon=None)
        return self._summary

    # -- the two modes -----------------------------------------------------------

    def _run_once(self, stop: threading.Event) -> RunSummary:
        result = self.sync()
        self._raise_if_unusable(result)
        horizon = self._now() + timedelta(seconds=self._timing.once_max_wait_s)
        with self._link_running(stop, poll=False):
            self._playout(stop, horizon)
        self._send_outbox()
        self._send_heartbeat()
        self._summary.online = self._online
        return self._summary

    def _raise_if_unusable(self, result: SyncResult) -> None:
        now = self._now()
        if result.status is not SyncStatus.REFUSED and self._manifests.current(now):
            return
        if result.online:
            self._send_heartbeat()  # so that the district sees the refusal
        if result.error is not None:
            raise result.error
        raise ManifestError(f"{self._manifests.key}: the cached manifest has expired")

    def _now(self) -> datetime:
        return self._time.now()

    # -- the playout thread --------------------------------------------------------

    def _playout(self, stop: threading.Event, horizon: datetime | None) -> None:
        """Play until ``stop``, or, with a ``horizon``, until nothing up to it is left."""
        while not stop.is_set():
            self._schedule_changed.clear()
            try:
                now = self._now()
                decision = decide(self._pending(now, horizon), now)
                if self._carry_out(decision):
                    continue
            except Exception as error:  # the loudspeakers must outlive any bug or disk fault
                log.exception("playout step failed")
                self._problems.add(self._now(), f"playout error: {error}")
                stop.wait(_RECOVER_S)
                continue
            if decision.wake_at is None and horizon is not None:
                return
            wait_until(self._now, decision.wake_at, self._schedule_changed, stop)

    def _pending(self, now: datetime, horizon: datetime | None) -> list[Occurrence]:
        manifest = self._manifests.current(now)
        if manifest is None:
            return []
        found = occurrences(manifest, self.commune.id, since=now - LOOKBACK, until=horizon)
        return [occurrence for occurrence in found if not self._state.is_done(occurrence)]

    def _carry_out(self, decision: Decision) -> bool:
        """Act on ``decide``'s answer; ``True`` when anything was done."""
        if decision.missed:
            self._record([_skipped(occurrence, self._zone) for occurrence in decision.missed])
        if decision.play is not None:
            self._play(decision.play)
        return bool(decision.missed) or decision.play is not None

    def _play(self, occurrence: Occurrence) -> None:
        try:
            audio = self._claim_audio(occurrence.item.audio)
            if isinstance(audio, _Unplayable):
                self._record([AsRunReceipt(occurrence, Outcome.FAILED, reason=audio.reason)])
                return
            playback = self._start_playback(occurrence)
            if playback is None:
                return  # withdrawn just now: decide again with the new manifest
            result = _play_safely(self._sink, audio, playback, self._time.local)
            self._finish_playback(playback, result)
        finally:
            with self._cache_lock:
                self._claimed = None

    def _claim_audio(self, ref: AudioRef) -> Path | _Unplayable:
        """The verified cached clip, kept from pruning until the playback ends."""
        refusal = self._refused_audio.get(ref.sha256)
        if refusal is not None:
            return _Unplayable(f"audio refused: {refusal}")
        with self._cache_lock:
            self._claimed = ref
            path = self._cache.verified_path(ref)
        return path if path is not None else self._fetch_now(ref)

    def _fetch_now(self, ref: AudioRef) -> Path | _Unplayable:
        """The last chance for a clip that is missing or was damaged in the cache."""
        try:
            return self._cache.fetch(self._store, ref)
        except AudioIntegrityError as error:
            return _Unplayable(f"audio refused: {self._refuse_audio(error)}")
        except CacheWriteError as error:
            self._note_cache_error(self._now(), error)
            return _Unplayable(f"audio not available: {error}")
        except StorageError as error:
            message = f"audio not available: {error}"
            self._problems.add(self._now(), message)
            return _Unplayable(message)

    def _start_playback(self, occurrence: Occurrence) -> Playback | None:
        now = self._now()
        with self._playback_lock:
            held = self._manifests.manifest
            if held is None or _change(occurrence.item, held) is not None:
                return None
            playback = Playback(occurrence, started=now)
            self._playback = playback
        # Remembered before it starts: after a power cut it is not played twice.
        self._state.mark_done([occurrence], now)
        self._report_soon()
        return playback

    def _finish_playback(self, playback: Playback, result: PlayResult) -> None:
        with self._playback_lock:
            self._playback = None
        occurrence, interruption = playback.occurrence, playback.interruption
        reason = result.reason
        if result.outcome is Outcome.INTERRUPTED:
            reason = interruption.reason if interruption is not None else reason or "stopped"
        started, ended = self._time.in_use(result.started), self._time.in_use(result.ended)
        log.info("%s: %s %s", occurrence.item.id, result.outcome, reason or "")
        self._record([AsRunReceipt(occurrence, result.outcome, started, ended, reason)])
        if result.outcome is Outcome.INTERRUPTED and _restarts(interruption, occurrence, ended):
            self._state.forget(occurrence)  # DESIGN.md §5: from its beginning, afterwards
        self._report_soon()

    def _interrupt_playback(
        self, reason: str, *, restart: bool, of: Occurrence | None = None
    ) -> None:
        """Stop the playback in progress; with ``of``, only if it still plays that."""
        with self._playback_lock:
            playback = self._playback
        if playback is not None and (of is None or playback.occurrence.key == of.key):
            playback.interrupt(reason, restart=restart)

    def _record(self, receipts: list[AsRunReceipt]) -> None:
        """Remember the occurrences as done and queue their receipts for upload."""
        now = self._now()
        self._state.mark_done((receipt.occurrence for receipt in receipts), now)
        for receipt in receipts:
            error = self._outbox.put(receipt.key(self._zone), receipt.document(self._zone))
            if error is not None:
                self._note_write_error(now, "outbox", self._outbox.directory, error)
            self._summary.receipts.append(receipt)
            if receipt.started is not None:
                self._last_play = receipt
        # Sent at once, not at the next sync: the district's acknowledgement view reads them.
        self._receipts_waiting.set()
        self._link_wake.set()
        if self._state.write_error is not None:
            self._note_write_error(now, "state", self._state.path, self._state.write_error)

    # -- the link thread -------------------------------------------------------------

    @contextmanager
    def _link_running(self, stop: threading.Event, *, poll: bool) -> Iterator[None]:
        halt = threading.Event()
        link = threading.Thread(
            target=self._link,
            args=(halt, stop, poll),
            name=f"link-{self.commune.id}",
            daemon=True,
        )
        link.start()
        try:
            yield
        finally:
            halt.set()
            self._link_wake.set()
            link.join()

    def _link(self, halt: threading.Event, stop: threading.Event, poll: bool) -> None:
        """Check the manifest every ``emergency_poll_s`` and sync every
        ``poll_interval_s`` (``PollCadence``), cut into a playback for a due emergency,
        send receipts as they come, heartbeat every ``heartbeat_interval_s`` (and at once
        when asked), write what the disk refused before, until ``halt``."""
        cadence = PollCadence(self._timing.poll_interval_s, self._timing.emergency_poll_s)
        while not halt.is_set():
            if stop.is_set():
                self._interrupt_playback("the agent was stopped", restart=False)
            due = cadence.due() if poll else None
            if due is not None:
                self._survive(partial(self._poll, full=due is Poll.SYNC))
                self._first_sync.set()
                cadence.done(due)
            self._survive(self._preempt_if_due)
            if self._receipts_waiting.is_set():
                self._receipts_waiting.clear()
                self._survive(self._send_outbox)
            self._survive(self._flush_local)
            if time.monotonic() >= self._next_heartbeat:
                self._survive(self._send_heartbeat)
            upcoming = min(cadence.next_at, self._next_heartbeat) if poll else self._next_heartbeat
            self._link_wake.wait(min(max(upcoming - time.monotonic(), 0.0), _LINK_TICK_S))
            self._link_wake.clear()

    def _poll(self, *, full: bool) -> SyncResult:
        """One manifest request. With ``full``, or when a new manifest is accepted, also
        fetch the audio the manifest needs, prune the cache and send queued receipts;
        otherwise an unchanged manifest costs one 304 and nothing on disk."""
        result = self._manifests.sync(self._now)
        now = self._now()
        self._note_sync(result, now)
        accepted = result.status is SyncStatus.ACCEPTED
        if not result.online or not (full or accepted):
            return result
        refused = self._take_new_manifest(now) if accepted else []
        refused += self._refresh_audio(now)
        self._send_outbox()
        return replace(result, audio_refused=refused)

    def _take_new_manifest(self, now: datetime) -> list[str]:
        """Emergencies first: fetch the audio of those due, cut into the playback they
        pre-empt, wake the playout thread, then heartbeat so that the district sees the
        manifest was received; the rest of the audio follows. Returns the audio refused."""
        refused = self._fetch_audio(urgent_audio(self._pending(now, horizon=now), now), now)
        self._preempt_if_due()
        self._schedule_changed.set()
        self._send_heartbeat()
        return refused

    def _preempt_if_due(self) -> None:
        """Interrupt a non-emergency playback for a due emergency (DESIGN.md §5); the
        interrupted item restarts from its beginning afterwards if still in time."""
        with self._playback_lock:
            playback = self._playback
        if playback is None or is_emergency(playback.occurrence.item):
            return
        now = self._now()
        playing = playback.occurrence
        emergency = preemptor(self._pending(now, horizon=now), playing, now, self._refused_audio)
        if emergency is not None:
            log.info("%s: %s", playing.item.id, preemption_reason(emergency))
            self._interrupt_playback(preemption_reason(emergency), restart=True, of=playing)

    def _survive(self, action: Callable[[], object]) -> None:
        """Run one link task; whatever it raises is reported and the link goes on,
        because the playout does not depend on it."""
        try:
            action()
        except Exception as error:
            log.exception("link task failed")
            self._problems.add(self._now(), f"agent error: {error}")

    def _report_soon(self) -> None:
        """Heartbeat now rather than at the next interval (a playback began or ended)."""
        self._next_heartbeat = time.monotonic()
        self._link_wake.set()

    def _note_sync(self, result: SyncResult, now: datetime) -> None:
        if result.online and not self._online:
            self._report_soon()  # back online: the district should see the current state
        self._online = self._summary.online = result.online
        self._summary.sequence = result.sequence
        if result.status is SyncStatus.ACCEPTED:
            self._refused_audio.clear()  # a new manifest gets a fresh look at its audio
            self._stop_changed_playback()
            if self._manifests.write_error is not None:
                path, error = self._manifests.cached_path, self._manifests.write_error
                self._note_write_error(now, "manifest", path, error)
        if result.error is None:
            return
        if result.status is SyncStatus.REFUSED:
            self._note_refusal(str(result.error), manifest=True)
        elif isinstance(result.error, StorageAccessDenied):
            self._problems.add(now, f"storage refused this agent's credentials: {result.error}")
        elif result.status is SyncStatus.OFFLINE:
            self._problems.add(now, f"storage unreachable: {result.error}")
        else:
            self._problems.add(now, f"no manifest published yet: {result.error}")

    def _stop_changed_playback(self) -> None:
        """Stop the playback in progress if the new manifest withdrew its item or changed
        its audio (then the new audio plays from its beginning if still in time)."""
        manifest = self._manifests.manifest
        with self._playback_lock:
            playback = self._playback
        if manifest is not None and playback is not None:
            change = _change(playback.occurrence.item, manifest)
            if change is not None:
                playback.interrupt(change.reason, restart=change.restart)

    def _note_refusal(self, message: str, *, manifest: bool) -> None:
        now = self._now()
        self._problems.add(now, f"refused: {message}")
        if manifest:
            self._refusals.add(now, message)
        if message not in self._summary.refused:
            self._summary.refused.append(message)

    def _refresh_audio(self, now: datetime) -> list[str]:
        """Fetch the audio the manifest in force still needs, soonest first; drop the rest
        from the cache."""
        manifest = self._manifests.current(now)
        if manifest is None:
            return []
        needed = _needed_audio(manifest, now)
        refused = self._fetch_audio(needed, now)
        self._prune_cache(needed)
        return refused

    def _fetch_audio(self, refs: list[AudioRef], now: datetime) -> list[str]:
        """Fetch those of ``refs`` not cached yet, in order; the refusals."""
        refused = []
        for ref in refs:
            if ref.sha256 in self._refused_audio or self._cache.contains(ref):
                continue
            try:
                self._cache.check_room(ref)
                self._cache.fetch(self._store, ref)
            except AudioIntegrityError as error:
                refused.append(self._refuse_audio(error))
            except CacheWriteError as error:
                self._note_cache_error(now, error)  # a smaller clip may still fit
            except ObjectNotFound as error:
                self._problems.add(now, f"audio not in storage: {error}")
            except StorageError as error:
                self._problems.add(now, f"cannot fetch audio: {error}")
                break
        return refused

    def _prune_cache(self, needed: list[AudioRef]) -> None:
        with self._cache_lock:
            claimed = [self._claimed] if self._claimed is not None else []
            self._cache.prune([*needed, *claimed])

    def _refuse_audio(self, error: AudioIntegrityError) -> str:
        message = str(error)
        self._refused_audio[error.sha256] = message
        self._note_refusal(message, manifest=False)
        return message

    def _note_cache_error(self, now: datetime, error: CacheWriteError) -> None:
        self._cache_error = Problem(now, str(error))
        self._problems.add(now, f"cache: {error}", topic=f"cache {error.sha256}")

    def _note_write_error(self, now: datetime, what: str, path: Path, error: OSError) -> None:
        reason = error.strerror or str(error)
        message = f"cannot write {path}: {reason}; kept in memory until there is room"
        self._problems.add(now, message, topic=what)

    def _flush_local(self) -> None:
        """Write what a full disk refused earlier (state, manifest, receipts)."""
        now = self._now()
        failures = [
            ("state", self._state.path, self._state.flush()),
            ("manifest", self._manifests.cached_path, self._manifests.flush()),
            ("outbox", self._outbox.directory, self._outbox.flush()),
        ]
        for what, path, error in failures:
            if error is not None:
                self._note_write_error(now, what, path, error)

    def _send_outbox(self) -> None:
        if not self._outbox.pending():
            return
        try:
            self._outbox.send(self._store)
        except StorageError as error:
            self._online = False
            self._problems.add(self._now(), f"as-run receipts queued: {error}")

    def _send_heartbeat(self) -> None:
        """Write the status to ``status.json`` and upload it; a failed upload is written
        again with ``online: false``."""
        self._next_heartbeat = time.monotonic() + self._timing.heartbeat_interval_s
        now = self._now()
        body = self._write_status(now)
        try:
            self._store.put_bytes(heartbeat_key(self.commune.id), body, "application/json")
        except StorageError as error:
            was_online, self._online = self._online, False
            self._problems.add(now, f"heartbeat not sent: {error}")
            if was_online:
                self._write_status(now)

    def _write_status(self, now: datetime) -> bytes:
        document = self._heartbeat(now).document(self._zone)
        body = json.dumps(document, ensure_ascii=False, indent=1).encode()
        try:
            write_atomic(self.status_path, body)
        except OSError as error:
            self._note_write_error(now, "status", self.status_path, error)
        return body

    def _heartbeat(self, now: datetime) -> Heartbeat:
        self._note_if_expired(now)
        self._note_clock(now)
        pending = self._pending(now, horizon=None)
        upcoming = [occurrence for occurrence in pending if not occurrence.is_missed(now)]
        with self._playback_lock:
            playing = self._playback
        return Heartbeat(
            commune_id=self.commune.id,
            at=now,
            manifest=self._manifests.manifest,
            in_force=self._manifests.current(now) is not None,
            online=self._online,
            now_playing=playing,
            next_occurrence=min(upcoming, key=lambda o: o.scheduled, default=None),
            last_play=self._last_play,
            cache=self._cache_health(),
            clock=self._time.reading(),
            outbox_pending=self._outbox.pending(),
            refused_manifests=self._refusals.recent(),
            problems=self._problems.recent(),
        )

    def _cache_health(self) -> CacheHealth:
        return CacheHealth(
            usage=self._cache.usage(),
            free_bytes=self._cache.free_bytes(),
            damaged=self._cache.damaged,
            last_error=self._cache_error,
        )

    def _note_if_expired(self, now: datetime) -> None:
        manifest = self._manifests.manifest
        if manifest is not None and self._manifests.current(now) is None:
            expiry = local_iso(manifest.valid_until, self._zone)
            message = f"manifest {manifest.sequence} expired at {expiry}: nothing is played"
            self._problems.add(now, message)

    def _note_clock(self, now: datetime) -> None:
        reading = self._time.reading()
        if reading.using != "storage" or reading.offset_s is None:
            return
        side = "behind" if reading.offset_s > 0 else "ahead of"
        message = (
            f"this host's clock is {abs(reading.offset_s):.0f} s {side} storage's "
            f"(± {reading.uncertainty_s or 0:.1f} s): scheduling by storage's time"
        )
        self._problems.add(now, message, topic="clock")


def _needed_audio(manifest: Manifest, now: datetime) -> list[AudioRef]:
    """The audio of every item that can still play, once each, the soonest needed first
    (when the disk or the link cannot take them all, the next broadcast goes first)."""
    first_need: dict[str, tuple[datetime, AudioRef]] = {}
    for item in manifest.items:
        if item.last_playable < now:
            continue
        start = _next_start(item, now)
        known = first_need.get(item.audio.sha256)
        if known is None or start < known[0]:
            first_need[item.audio.sha256] = (start, item.audio)
    return [ref for _, ref in sorted(first_need.values(), key=lambda pair: pair[0])]


def _next_start(item: ManifestItem, now: datetime) -> datetime:
    late = item.lateness_allowed
    return next((start for start in item.occurrences() if start + late >= now), now)


def _change(item: ManifestItem, manifest: Manifest) -> Interruption | None:
    """Why ``manifest`` stops a playback of ``item``, if it does."""
    held = next((entry for entry in manifest.items if entry.id == item.id), None)
    if held is None:
        return Interruption(f"withdrawn by manifest {manifest.sequence}", restart=False)
    if held.audio.sha256 != item.audio.sha256:
        reason = f"audio replaced by manifest {manifest.sequence}"
        return Interruption(reason, restart=True)
    return None


def _restarts(interruption: Interruption | None, occurrence: Occurrence, now: datetime) -> bool:
    return interruption is not None and interruption.restart and now <= occurrence.not_after


def _skipped(occurrence: Occurrence, zone: tzinfo) -> AsRunReceipt:
    reason = f"not started by not_after {local_iso(occurrence.not_after, zone)}"
    return AsRunReceipt(occurrence, Outcome.SKIPPED, reason=reason)


def _play_safely(sink: Sink, path: Path, playback: Playback, clock: Clock) -> PlayResult:
    """A sink that raises is one failed playback, not the end of the station."""
    try:
        return sink.play(path, playback.occurrence, playback.cancel)
    except Exception as error:  # any sink bug must not stop the schedule
        log.exception("sink %r failed on %s", sink, playback.occurrence.item.id)
        now = clock()
        return PlayResult(now, now, Outcome.FAILED, f"sink error: {error}")
