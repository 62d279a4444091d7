"""The commune agent: sync → verify → cache → schedule → play → report (DESIGN.md §1).

Two threads share the work. The playout thread (the one that calls ``run``) decides and
plays from local data only, so a slow or dead link never makes the loudspeakers late.
The link thread syncs the manifest and its audio and uploads heartbeats and receipts."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path

from config import Commune, Settings, UserInputError
from playout._errors import ManifestError, ObjectNotFound, StorageAccessDenied, StorageError
from playout._layout import heartbeat_key
from playout._manifest import AudioRef, Manifest
from playout._objectstore import ObjectStore
from playout.agent._cache import AudioCache, AudioIntegrityError
from playout.agent._clock import Clock, local_iso, utc_now, wait_until
from playout.agent._heartbeat import Heartbeat
from playout.agent._outbox import Outbox
from playout.agent._problems import ProblemLog
from playout.agent._receipt import AsRunReceipt
from playout.agent._schedule import LOOKBACK, Decision, Occurrence, decide, occurrences, play_order
from playout.agent._sink import Outcome, PlayResult, Sink
from playout.agent._state import LocalState
from playout.agent._summary import RunSummary
from playout.agent._sync import Identity, ManifestSync, SyncResult, SyncStatus
from playout.agent._trust import pinned_keys

log = logging.getLogger(__name__)

_POLL_JITTER = 0.1


@dataclass(frozen=True)
class _Unplayable:
    outcome: Outcome
    reason: str


class CommuneAgent:
    """Keeps one commune's loudspeakers on the district's signed schedule.

    Local data lives in ``<data_dir>/agents/<commune_id>/``: ``state.json``,
    ``manifest.json`` (the last accepted one), ``cache/`` (verified audio) and
    ``outbox/`` (as-run receipts not yet uploaded)."""

    def __init__(
        self,
        settings: Settings,
        commune_id: str,
        store: ObjectStore,
        sink: Sink,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.commune: Commune = _registered_commune(settings, commune_id)
        self.directory: Path = settings.data_dir / "agents" / commune_id
        identity = Identity(settings.organisation.district.id, commune_id, pinned_keys(settings))
        self._timing = settings.agent
        self._zone = settings.organisation.district.zone
        self._store = store
        self._sink = sink
        self._clock = clock
        self._state = LocalState(self.directory / "state.json")
        self._manifests = ManifestSync(store, identity, self._state)
        self._cache = AudioCache(
            self.directory / "cache", max_object_bytes=settings.agent.max_audio_mb * 1024 * 1024
        )
        self._outbox = Outbox(self.directory / "outbox")
        self._problems = ProblemLog()
        self._refused_audio: dict[str, str] = {}
        self._summary = RunSummary(commune_id, sequence=self._state.sequence)
        self._last_play: AsRunReceipt | None = None
        self._online = False
        self._next_heartbeat = clock()
        self._schedule_changed = threading.Event()
        # Held while the playout thread picks a cached clip and while the link prunes.
        self._cache_lock = threading.Lock()
        self._playing: AudioRef | None = None

    # -- public API ----------------------------------------------------------------

    def sync(self) -> SyncResult:
        """Poll the manifest, accept or refuse it, fetch its audio, send queued receipts."""
        now = self._clock()
        result = self._manifests.sync(now)
        self._note_sync(result, now)
        if not result.online:
            return result
        refused = self._refresh_audio(now)
        self._send_outbox()
        return replace(result, audio_refused=refused)

    def due_occurrences(self, now: datetime | None = None) -> list[Occurrence]:
        """The occurrences that may start at ``now``, in the order they would play."""
        moment = now if now is not None else self._clock()
        pending = self._pending(moment, horizon=moment)
        return sorted((o for o in pending if o.is_due(moment)), key=play_order)

    def run(self, *, once: bool = False, stop_event: threading.Event | None = None) -> RunSummary:
        """``once``: one sync (a refused or unobtainable manifest raises), then play what
        starts within ``agent.once_max_wait_s``, heartbeat and return. Otherwise sync,
        play and report until ``stop_event`` is set, playing from the cache when the
        link is down."""
        stop = stop_event if stop_event is not None else threading.Event()
        self._summary = RunSummary(self.commune.id, sequence=self._state.sequence)
        if once:
            return self._run_once(stop)
        with self._link_running(poll=True):
            self._playout(stop, horizon=None)
        return self._summary

    # -- the two modes -----------------------------------------------------------

    def _run_once(self, stop: threading.Event) -> RunSummary:
        result = self.sync()
        self._raise_if_unusable(result)
        horizon = self._clock() + timedelta(seconds=self._timing.once_max_wait_s)
        with self._link_running(poll=False):
            self._playout(stop, horizon)
        self._send_outbox()
        self._send_heartbeat(self._clock())
        self._summary.online = self._online
        return self._summary

    def _raise_if_unusable(self, result: SyncResult) -> None:
        now = self._clock()
        if result.status is not SyncStatus.REFUSED and self._manifests.current(now):
            return
        if result.online:
            self._send_heartbeat(now)  # so that the district sees the refusal
        if result.error is not None:
            raise result.error
        raise ManifestError(f"{self._manifests.key}: the cached manifest has expired")

    # -- the playout thread --------------------------------------------------------

    def _playout(self, stop: threading.Event, horizon: datetime | None) -> None:
        """Play until ``stop``, or, with a ``horizon``, until nothing up to it is left."""
        while not stop.is_set():
            self._schedule_changed.clear()
            now = self._clock()
            decision = decide(self._pending(now, horizon), now)
            if self._carry_out(decision):
                continue
            if decision.wake_at is None and horizon is not None:
                return
            wait_until(self._clock, decision.wake_at, self._schedule_changed, stop)

    def _pending(self, now: datetime, horizon: datetime | None) -> list[Occurrence]:
        manifest = self._manifests.current(now)
        if manifest is None:
            return []
        found = occurrences(manifest, self.commune.id, since=now - LOOKBACK, until=horizon)
        return [occurrence for occurrence in found if not self._state.is_done(occurrence)]

    def _carry_out(self, decision: Decision) -> bool:
        """Act on ``decide``'s answer; ``True`` when anything was done."""
        if decision.missed:
            self._record([_missed(occurrence, self._zone) for occurrence in decision.missed])
        if decision.play is not None:
            self._play(decision.play)
        return bool(decision.missed) or decision.play is not None

    def _play(self, occurrence: Occurrence) -> None:
        try:
            audio = self._claim_audio(occurrence.item.audio)
            if isinstance(audio, _Unplayable):
                self._record([AsRunReceipt(occurrence, audio.outcome, reason=audio.reason)])
                return
            # Remembered before it starts: after a power cut it is not played twice.
            self._state.mark_done([occurrence], self._clock())
            result = _play_safely(self._sink, audio, occurrence, self._clock)
            log.info("%s: %s %s", occurrence.item.id, result.outcome, result.reason or "")
            self._record([AsRunReceipt.of_play(occurrence, result)])
        finally:
            self._playing = None

    def _claim_audio(self, ref: AudioRef) -> Path | _Unplayable:
        """The verified cached clip, kept from pruning until the playback ends."""
        refusal = self._refused_audio.get(ref.sha256)
        if refusal is not None:
            return _Unplayable(Outcome.REFUSED, refusal)
        with self._cache_lock:
            self._playing = ref
            path = self._cache.verified_path(ref)
        return path if path is not None else self._fetch_now(ref)

    def _fetch_now(self, ref: AudioRef) -> Path | _Unplayable:
        """The last chance for a clip that is missing or was damaged in the cache."""
        try:
            return self._cache.fetch(self._store, ref)
        except AudioIntegrityError as error:
            return _Unplayable(Outcome.REFUSED, self._refuse_audio(error))
        except StorageError as error:
            message = f"audio not available: {error}"
            self._problems.add(self._clock(), message)
            return _Unplayable(Outcome.FAILED, message)

    def _record(self, receipts: list[AsRunReceipt]) -> None:
        """Remember the occurrences as done and queue their receipts for upload."""
        self._state.mark_done((receipt.occurrence for receipt in receipts), self._clock())
        for receipt in receipts:
            self._outbox.put(receipt.key(self._zone), receipt.document(self._zone))
            self._summary.receipts.append(receipt)
            if receipt.started is not None:
                self._last_play = receipt

    # -- the link thread -------------------------------------------------------------

    @contextmanager
    def _link_running(self, *, poll: bool) -> Iterator[None]:
        halt = threading.Event()
        link = threading.Thread(
            target=self._link, args=(halt, poll), name=f"link-{self.commune.id}", daemon=True
        )
        link.start()
        try:
            yield
        finally:
            halt.set()
            link.join()

    def _link(self, halt: threading.Event, poll: bool) -> None:
        """Sync every ``poll_interval_s`` (± 10 %) and heartbeat every
        ``heartbeat_interval_s`` until ``halt``."""
        next_sync = self._clock()
        while not halt.is_set():
            now = self._clock()
            if poll and now >= next_sync:
                self._survive(self.sync)
                next_sync = self._clock() + _jittered(self._timing.poll_interval_s)
            if now >= self._next_heartbeat:
                self._survive(partial(self._send_heartbeat, now))
            upcoming = min(next_sync, self._next_heartbeat) if poll else self._next_heartbeat
            halt.wait(max((upcoming - self._clock()).total_seconds(), 0.0))

    def _survive(self, action: Callable[[], object]) -> None:
        """Run one link task; whatever it raises is reported and the link goes on,
        because the playout does not depend on it."""
        try:
            action()
        except Exception as error:
            log.exception("link task failed")
            self._problems.add(self._clock(), f"agent error: {error}")

    def _note_sync(self, result: SyncResult, now: datetime) -> None:
        self._online = self._summary.online = result.online
        self._summary.sequence = result.sequence
        if result.status is SyncStatus.ACCEPTED:
            self._refused_audio.clear()  # a new manifest gets a fresh look at its audio
            self._schedule_changed.set()
        if result.error is None:
            return
        if result.status is SyncStatus.REFUSED:
            self._note_refusal(str(result.error))
        elif isinstance(result.error, StorageAccessDenied):
            self._problems.add(now, f"storage refused this agent's credentials: {result.error}")
        elif result.status is SyncStatus.OFFLINE:
            self._problems.add(now, f"storage unreachable: {result.error}")
        else:
            self._problems.add(now, f"no manifest published yet: {result.error}")

    def _note_refusal(self, message: str) -> None:
        self._problems.add(self._clock(), f"refused: {message}")
        if message not in self._summary.refused:
            self._summary.refused.append(message)

    def _refresh_audio(self, now: datetime) -> list[str]:
        """Fetch the audio the manifest in force still needs; drop the rest from the cache."""
        manifest = self._manifests.current(now)
        if manifest is None:
            return []
        needed = _needed_audio(manifest, now)
        refused = []
        for ref in needed:
            if ref.sha256 in self._refused_audio or self._cache.contains(ref):
                continue
            try:
                self._cache.fetch(self._store, ref)
            except AudioIntegrityError as error:
                refused.append(self._refuse_audio(error))
            except ObjectNotFound as error:
                self._problems.add(now, f"audio not in storage: {error}")
            except StorageError as error:
                self._problems.add(now, f"cannot fetch audio: {error}")
                break
        self._prune_cache(needed)
        return refused

    def _prune_cache(self, needed: list[AudioRef]) -> None:
        with self._cache_lock:
            playing = [self._playing] if self._playing is not None else []
            self._cache.prune([*needed, *playing])

    def _refuse_audio(self, error: AudioIntegrityError) -> str:
        message = str(error)
        self._refused_audio[error.sha256] = message
        self._note_refusal(message)
        return message

    def _send_outbox(self) -> None:
        if not self._outbox.pending():
            return
        try:
            self._outbox.send(self._store)
        except StorageError as error:
            self._online = False
            self._problems.add(self._clock(), f"as-run receipts queued: {error}")

    def _send_heartbeat(self, now: datetime) -> None:
        self._next_heartbeat = now + timedelta(seconds=self._timing.heartbeat_interval_s)
        document = self._heartbeat(now).document(self._zone)
        body = json.dumps(document, ensure_ascii=False, indent=1).encode()
        try:
            self._store.put_bytes(heartbeat_key(self.commune.id), body, "application/json")
        except StorageError as error:
            self._online = False
            self._problems.add(now, f"heartbeat not sent: {error}")

    def _heartbeat(self, now: datetime) -> Heartbeat:
        self._note_if_expired(now)
        pending = self._pending(now, horizon=None)
        upcoming = [occurrence for occurrence in pending if not occurrence.is_missed(now)]
        return Heartbeat(
            commune_id=self.commune.id,
            at=now,
            manifest=self._manifests.current(now),
            online=self._online,
            cache=self._cache.usage(),
            next_occurrence=min(upcoming, key=lambda o: o.scheduled, default=None),
            last_play=self._last_play,
            problems=self._problems.recent(),
        )

    def _note_if_expired(self, now: datetime) -> None:
        manifest = self._manifests.manifest
        if manifest is not None and self._manifests.current(now) is None:
            expiry = local_iso(manifest.valid_until, self._zone)
            message = f"manifest {manifest.sequence} expired at {expiry}: nothing is played"
            self._problems.add(now, message)


def _registered_commune(settings: Settings, commune_id: str) -> Commune:
    organisation = settings.organisation
    try:
        return organisation.commune(commune_id)
    except KeyError:
        known = ", ".join(organisation.commune_ids())
        raise UserInputError(
            f"unknown commune {commune_id!r}: not in the district registry of "
            f"{organisation.district.id!r} ({known})"
        ) from None


def _needed_audio(manifest: Manifest, now: datetime) -> list[AudioRef]:
    """The audio of every item that can still play, once each."""
    refs = {item.audio.sha256: item.audio for item in manifest.items if item.last_playable >= now}
    return list(refs.values())


def _missed(occurrence: Occurrence, zone: tzinfo) -> AsRunReceipt:
    reason = f"not started by not_after {local_iso(occurrence.not_after, zone)}"
    return AsRunReceipt(occurrence, Outcome.MISSED, reason=reason)


def _jittered(seconds: float) -> timedelta:
    """Polls of many communes spread out instead of hitting storage in step."""
    factor = random.uniform(1 - _POLL_JITTER, 1 + _POLL_JITTER)  # noqa: S311 - not a secret
    return timedelta(seconds=seconds * factor)


def _play_safely(sink: Sink, path: Path, occurrence: Occurrence, clock: Clock) -> PlayResult:
    """A sink that raises is one failed playback, not the end of the station."""
    try:
        return sink.play(path, occurrence)
    except Exception as error:  # any sink bug must not stop the schedule
        log.exception("sink %r failed on %s", sink, occurrence.item.id)
        now = clock()
        return PlayResult(now, now, Outcome.FAILED, f"sink error: {error}")
