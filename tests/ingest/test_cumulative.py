"""Cumulative to delta: first sightings, increments, source restarts, staging until Kafka acknowledged,
and bounded memory."""

from __future__ import annotations

from ingest.receivers.cumulative import CumulativeDeltas, ExpBuckets

STARTED = 1_000


def test_a_new_series_forwards_its_total_only_when_it_started_after_the_receiver() -> None:
    deltas = CumulativeDeltas(started_ns=STARTED)
    assert deltas.sum_delta("young", STARTED + 1, 5.0) == 5.0  # all of it happened since we started
    assert deltas.sum_delta("old", STARTED - 1, 500.0) is None  # a baseline: its past is not ours
    assert deltas.sum_delta("unknown start", 0, 7.0) is None
    deltas.commit()
    assert deltas.sum_delta("young", STARTED + 1, 8.0) == 3.0
    assert deltas.sum_delta("old", STARTED - 1, 512.5) == 12.5
    assert deltas.sum_delta("unknown start", 0, 7.0) == 0.0


def test_a_source_restart_forwards_its_new_total() -> None:
    deltas = CumulativeDeltas(started_ns=STARTED)
    deltas.sum_delta("s", STARTED + 1, 100.0)
    deltas.commit()
    assert deltas.sum_delta("s", STARTED + 1, 40.0) == 40.0  # the total went down
    deltas.commit()
    assert deltas.sum_delta("s", STARTED + 50, 45.0) == 45.0  # a new start time
    deltas.commit()
    assert deltas.sum_delta("s", STARTED + 50, 46.0) == 1.0


def test_staged_totals_count_once_committed_and_never_when_discarded() -> None:
    deltas = CumulativeDeltas(started_ns=STARTED)
    deltas.sum_delta("s", STARTED + 1, 10.0)
    deltas.commit()
    assert deltas.sum_delta("s", STARTED + 1, 15.0) == 5.0
    assert deltas.sum_delta("s", STARTED + 1, 16.0) == 1.0  # a second point of the series in one request
    deltas.discard()  # Kafka did not take the request: the retry computes the same increments
    assert deltas.sum_delta("s", STARTED + 1, 16.0) == 6.0
    deltas.commit()
    assert deltas.sum_delta("s", STARTED + 1, 16.0) == 0.0


def test_histogram_bucket_increments() -> None:
    deltas = CumulativeDeltas(started_ns=STARTED)
    assert deltas.counts_delta("h", STARTED + 1, [1, 2, 0]) == [1, 2, 0]
    deltas.commit()
    assert deltas.counts_delta("h", STARTED + 1, [1, 5, 1]) == [0, 3, 1]
    deltas.commit()
    assert deltas.counts_delta("h", STARTED + 1, [0, 1, 0]) == [0, 1, 0]  # a bucket went down: restart


def test_exponential_histogram_increments_across_a_downscale() -> None:
    deltas = CumulativeDeltas(started_ns=STARTED)
    first = ExpBuckets(scale=3, zero_count=1, positive={8: 2, 9: 1, 17: 1}, negative={-4: 1})
    assert deltas.exp_delta("e", STARTED + 1, first) == first
    deltas.commit()
    # The SDK halved the resolution: indexes 8 and 9 merged into 4, 17 into 8.
    second = ExpBuckets(scale=2, zero_count=3, positive={4: 4, 8: 1, 10: 2}, negative={-2: 1})
    delta = deltas.exp_delta("e", STARTED + 1, second)
    assert delta == ExpBuckets(scale=2, zero_count=2, positive={4: 1, 10: 2}, negative={})
    deltas.commit()
    restarted = ExpBuckets(scale=2, zero_count=0, positive={4: 1})
    assert deltas.exp_delta("e", STARTED + 1, restarted) == restarted


def test_memory_is_bounded_forgetting_the_least_recently_seen() -> None:
    deltas = CumulativeDeltas(max_series=2, started_ns=STARTED)
    for key in ("a", "b", "c"):
        deltas.sum_delta(key, STARTED + 1, 1.0)
        deltas.commit()
    assert len(deltas) == 2
    assert deltas.sum_delta("a", STARTED + 1, 3.0) == 3.0  # forgotten: seen anew
    assert deltas.sum_delta("c", STARTED + 1, 3.0) == 2.0
