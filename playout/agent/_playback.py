"""The playback in progress, and how it is stopped early (DESIGN.md §5).

The link thread may interrupt it: a new manifest withdraws the item or changes its audio.
An emergency (issue 7) interrupts it the same way with ``restart=True``: the agent then
plays the item again from its beginning if that is still before its ``not_after``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from playout.agent._schedule import Occurrence


@dataclass(frozen=True)
class Interruption:
    reason: str
    restart: bool  # play the occurrence again from its beginning while before not_after


@dataclass
class Playback:
    occurrence: Occurrence
    started: datetime  # when the sink was asked to play, on the agent's clock
    cancel: threading.Event = field(default_factory=threading.Event)
    _interruption: Interruption | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def interrupt(self, reason: str, *, restart: bool) -> None:
        """Stop the playback now; the first reason given is the one reported."""
        with self._lock:
            if self._interruption is None:
                self._interruption = Interruption(reason, restart)
        self.cancel.set()

    @property
    def interruption(self) -> Interruption | None:
        with self._lock:
            return self._interruption
