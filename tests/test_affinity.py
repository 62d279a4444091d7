"""The encoder's core of its own: reserved, shared out and given back."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from pipeline._affinity import encoder_core, kept_off, pin

CPUS = os.sched_getaffinity(0)
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")


def test_the_encoder_core_is_kept_from_this_thread_and_given_back() -> None:
    with encoder_core() as split:
        assert split is not None
        assert len(split.encoder) == 1
        assert split.encoder | split.others == CPUS
        assert not split.encoder & split.others
        assert os.sched_getaffinity(0) == CPUS  # reserving moves nothing
    with encoder_core() as split, kept_off(split):
        assert split is not None
        assert os.sched_getaffinity(0) == split.others
        seen: list[set[int]] = []
        worker = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        worker.start()
        worker.join()
        assert seen == [split.others]  # threads started meanwhile inherit the narrowing
    assert os.sched_getaffinity(0) == CPUS


def test_a_process_pinned_to_the_encoder_core_runs_there() -> None:
    with encoder_core() as split, kept_off(split), subprocess.Popen(["sleep", "5"]) as child:
        assert split is not None
        try:
            assert os.sched_getaffinity(child.pid) == split.others  # as its parent thread
            pin(child.pid, split.encoder)
            assert os.sched_getaffinity(child.pid) == split.encoder
        finally:
            child.kill()


def test_no_core_is_reserved_when_too_few_are_free() -> None:
    with encoder_core() as first:
        assert first is not None
        inner: list[object] = []

        def second_encode() -> None:
            with encoder_core() as split:
                inner.append(split)

        worker = threading.Thread(target=second_encode)
        worker.start()
        worker.join()
        if len(CPUS) == 2:
            assert inner == [None]
        else:
            (split,) = inner
            assert split is not None and not split.encoder & first.encoder
    with encoder_core() as again:
        assert again is not None  # the first reservation was given back


def test_a_thread_held_to_one_cpu_pins_nothing() -> None:
    outcome: list[object] = []

    def on_one_cpu() -> None:
        os.sched_setaffinity(0, {min(CPUS)})
        with encoder_core() as split, kept_off(split):
            outcome.append(split)
        outcome.append(os.sched_getaffinity(0))

    worker = threading.Thread(target=on_one_cpu)
    worker.start()
    worker.join()
    assert outcome == [None, {min(CPUS)}]
