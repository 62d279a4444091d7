"""Storage's clock as the agent reads it: HTTP ``Date`` headers from a real SeaweedFS, the
offset bounds they give, and when the agent schedules by storage's time."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from playout import ObjectNotFound, S3ObjectStore, StorageAccessDenied
from playout._objectstore import DateSample
from playout.agent._timebase import OffsetEstimator, TimeBase, sample_bounds

EPOCH = 1_800_000_000.0  # a local Unix time for the synthetic samples


def test_the_store_keeps_the_date_of_every_response_errors_included(
    object_store: S3ObjectStore,
) -> None:
    object_store.take_date_samples()  # what creating the bucket left
    before = datetime.now(UTC)
    etag = object_store.put_bytes("probe/a.json", b"{}", "application/json")  # 200
    assert object_store.get_if_changed("probe/a.json", etag, max_bytes=10) is None  # 304
    assert object_store.head("probe/missing.json") is None  # 404
    stranger = S3ObjectStore(
        object_store.endpoint, object_store.region, object_store.bucket, "nobody", "wrong"
    )
    with pytest.raises(StorageAccessDenied):
        stranger.get_bytes("probe/a.json", max_bytes=10)  # 403
    after = datetime.now(UTC)

    samples = object_store.take_date_samples()

    assert len(samples) == 3 and object_store.take_date_samples() == []
    assert len(stranger.take_date_samples()) == 1
    for sample in samples:
        assert sample.sent <= sample.received
        # Date has whole seconds: the stamp lies in [date, date + 1 s).
        assert before - timedelta(seconds=1) < sample.date <= after
    with pytest.raises(ObjectNotFound):
        object_store.get_bytes("probe/missing.json", max_bytes=10)
    assert len(object_store.take_date_samples()) == 1


def synthetic(offset: float, sent: float, latency: float = 0.02) -> DateSample:
    """What a store whose clock is ``offset`` s from ours answers to a request sent at
    local time ``sent`` (monotonic and local times taken as equal)."""
    stamp = sent + latency / 2 + offset
    return DateSample(datetime.fromtimestamp(math.floor(stamp), UTC), sent, sent + latency)


def test_bounds_of_many_responses_narrow_to_the_round_trip() -> None:
    offset = -300.37
    estimator = OffsetEstimator(window=30)
    for n in range(30):
        sent = EPOCH + n * 5.137  # polls fall at different fractions of a second
        low, high = sample_bounds(synthetic(offset, sent), sent, sent)
        assert low <= offset <= high  # each response alone brackets the truth
        estimator.add(low, high)

    estimate = estimator.estimate()
    assert estimate is not None
    middle, uncertainty = estimate
    assert abs(middle - offset) <= uncertainty < 0.05
    assert estimator.restarts == 0


def test_a_stepped_local_clock_restarts_the_estimate() -> None:
    estimator = OffsetEstimator()
    for n in range(6):
        sent = EPOCH + n * 3.3
        estimator.add(*sample_bounds(synthetic(2.5, sent), sent, sent))
    # NTP steps this host's clock 60 s forward: storage is now 57.5 s behind it.
    stepped = EPOCH + 30 + 60
    estimator.add(*sample_bounds(synthetic(2.5 - 60, stepped), stepped, stepped))

    estimate = estimator.estimate()
    assert estimator.restarts == 1 and estimate is not None
    assert abs(estimate[0] - (-57.5)) <= estimate[1] <= 0.51


@pytest.mark.parametrize(
    ("skew_s", "using"), [(1.0, "local"), (-1.0, "local"), (30.0, "storage"), (-30.0, "storage")]
)
def test_storage_time_is_used_only_beyond_two_seconds(
    object_store: S3ObjectStore, skew_s: float, using: str
) -> None:
    def skewed() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=skew_s)

    time_base = TimeBase(skewed, object_store.take_date_samples)
    for _ in range(6):
        object_store.head("probe/none.json")
        time.sleep(0.17)

    reading = time_base.reading()
    assert reading.using == using and reading.offset_s is not None
    assert abs(reading.offset_s + skew_s) <= (reading.uncertainty_s or 0) + 0.05
    applied = (time_base.now() - datetime.now(UTC)).total_seconds()
    expected = skew_s if using == "local" else 0.0  # local: the host's own (wrong) time
    assert abs(applied - expected) < 0.6
    assert reading.document()["using"] == using
