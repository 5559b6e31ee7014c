"""Trace trees, self times and critical paths on hand-built traces (times in ms from the trace's base)."""

from __future__ import annotations

import itertools
import random

import pytest

from schemas import Span
from storage.tracetree import TraceTree, build_tree
from tests.storage.telemetry import BASE_NS, MS, span, span_id


def tree_of(*spans: Span) -> TraceTree:
    tree = build_tree(spans[0].trace_id, list(spans))
    assert tree is not None
    return tree


def nodes(tree: TraceTree) -> dict[int, tuple[int, bool, float, float]]:
    """span number -> (depth, orphan, self ms, critical ms)."""
    return {int(n.span.span_id, 16): (n.depth, n.orphan, n.self_ns / MS, n.critical_ns / MS) for n in tree.walk()}


def path(tree: TraceTree) -> list[tuple[int, float, float]]:
    """The critical path as (span number, start ms, end ms)."""
    return [(int(s.span_id, 16), (s.start_ns - BASE_NS) / MS, (s.end_ns - BASE_NS) / MS) for s in tree.critical_path]


def assert_tiles_the_root(tree: TraceTree) -> None:
    """The sections follow each other without gap or overlap from the root's start to its end."""
    root = tree.root.span
    bounds = [(s.start_ns, s.end_ns) for s in tree.critical_path]
    assert bounds[0][0] == root.start_ns and bounds[-1][1] == root.end_ns
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(start < end for start, end in bounds)


def test_sequential_children_alternate_with_the_parent_on_the_critical_path() -> None:
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 10, 30), span(1, 3, 1, 50, 40))
    assert [int(n.span.span_id, 16) for n in tree.walk()] == [1, 2, 3]
    assert nodes(tree) == {1: (0, False, 30.0, 30.0), 2: (1, False, 30.0, 30.0), 3: (1, False, 40.0, 40.0)}
    assert path(tree) == [(1, 0, 10), (2, 10, 40), (1, 40, 50), (3, 50, 90), (1, 90, 100)]
    assert_tiles_the_root(tree)


def test_of_overlapping_children_the_one_finishing_last_is_critical() -> None:
    # 2 and 3 run in parallel; 3 finishes first, so only 2 holds the parent up.
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 10, 70), span(1, 3, 1, 20, 40))
    assert nodes(tree)[1] == (0, False, 30.0, 30.0)  # union of [10, 80] and [20, 60] is 70 ms
    assert path(tree) == [(1, 0, 10), (2, 10, 80), (1, 80, 100)]
    assert nodes(tree)[3][3] == 0.0


def test_a_child_finishing_before_its_sibling_starts_joins_the_path() -> None:
    # 3 ends at 30, before 2 starts at 40: after walking back through 2, 3 is found (sequential work).
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 40, 50), span(1, 3, 1, 5, 25), span(1, 4, 1, 10, 15))
    assert path(tree) == [(1, 0, 5), (3, 5, 30), (1, 30, 40), (2, 40, 90), (1, 90, 100)]
    assert_tiles_the_root(tree)


def test_back_to_back_children_are_both_critical() -> None:
    tree = tree_of(span(1, 1, None, 0, 60), span(1, 2, 1, 0, 30), span(1, 3, 1, 30, 30))
    assert path(tree) == [(2, 0, 30), (3, 30, 60)]
    assert nodes(tree)[1][2:] == (0.0, 0.0)


def test_async_children_count_only_while_their_parent_runs() -> None:
    # 3 is fire-and-forget: it outlives the root (counted until the root ends); 4 starts after the root ended.
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 10, 30), span(1, 3, 1, 90, 210), span(1, 4, 1, 150, 50))
    assert path(tree) == [(1, 0, 10), (2, 10, 40), (1, 40, 90), (3, 90, 100)]
    assert_tiles_the_root(tree)
    assert nodes(tree)[1] == (0, False, 60.0, 60.0)  # 100 - [10, 40] - [90, 100]
    assert nodes(tree)[3][2] == 210.0 and nodes(tree)[4][3] == 0.0
    assert (tree.end_ns - tree.start_ns) / MS == 300.0  # the trace lasts until its last span ends


def test_the_path_descends_through_grandchildren_clipped_to_their_parents() -> None:
    # 2 (10-80) calls 3 (20-70), which calls 4 (30-95): 4 is clipped to 3's end at 70.
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 10, 70), span(1, 3, 2, 20, 50), span(1, 4, 3, 30, 65))
    assert path(tree) == [(1, 0, 10), (2, 10, 20), (3, 20, 30), (4, 30, 70), (2, 70, 80), (1, 80, 100)]
    assert nodes(tree)[3] == (2, False, 10.0, 10.0)
    assert nodes(tree)[4][0] == 3


def test_orphans_sit_at_the_top_level_flagged_beside_the_root() -> None:
    tree = tree_of(span(1, 1, None, 0, 100), span(1, 2, 1, 10, 30), span(1, 5, 99, 20, 10), span(1, 6, 5, 22, 5))
    assert [(int(n.span.span_id, 16), n.depth, n.orphan) for n in tree.roots] == [(1, 0, False), (5, 0, True)]
    assert nodes(tree)[6] == (1, False, 5.0, 0.0)
    assert tree.root.span.span_id == span_id(1)
    assert tree.size == 4


def test_without_a_root_the_earliest_orphan_leads_the_critical_path() -> None:
    tree = tree_of(span(1, 7, 99, 5, 10), span(1, 5, 98, 0, 50), span(1, 6, 5, 10, 20))
    assert tree.root.span.span_id == span_id(5) and all(n.orphan for n in tree.roots)
    assert path(tree) == [(5, 0, 10), (6, 10, 30), (5, 30, 50)]


def test_parent_cycles_and_repeated_span_ids_do_not_lose_or_hang() -> None:
    tree = tree_of(
        span(1, 1, None, 0, 100), span(1, 2, 3, 10, 10), span(1, 3, 2, 20, 10), span(1, 4, 4, 30, 5),
        span(1, 1, None, 50, 1),  # a second span with the root's id: the first is kept
    )  # fmt: skip
    assert sorted(nodes(tree)) == [1, 2, 3, 4]
    assert tree.root.span.end_ns - tree.root.span.start_ns == 100 * MS
    assert [(int(n.span.span_id, 16), n.orphan) for n in tree.roots] == [(1, False), (2, True), (4, True)]


def test_a_very_deep_trace_is_handled_without_recursion() -> None:
    depth = 5_000
    spans = [span(1, i + 1, i or None, i * 0.01, 100 - i * 0.01) for i in range(depth)]
    tree = tree_of(*spans)
    assert max(n.depth for n in tree.walk()) == depth - 1
    assert_tiles_the_root(tree)


def test_random_traces_always_tile_the_root_and_self_times_stay_within_durations() -> None:
    rng = random.Random(7)
    for trace in range(200):
        spans = [span(trace + 1, 1, None, 0, 1_000)]
        for n in range(2, rng.randint(2, 40)):
            parent = spans[rng.randrange(len(spans))]
            start = (parent.start_ns - BASE_NS) / MS + rng.uniform(-5, 200)
            spans.append(span(trace + 1, n, int(parent.span_id, 16), start, rng.uniform(0, 400)))
        tree = tree_of(*spans)
        assert_tiles_the_root(tree)
        assert sum(n.critical_ns for n in tree.walk()) == tree.root.span.end_ns - tree.root.span.start_ns
        for node in tree.walk():
            assert 0 <= node.self_ns <= node.span.end_ns - node.span.start_ns
            assert node.critical_ns <= node.span.end_ns - node.span.start_ns


N = 100_000  # spans in the worst-shaped traces below; a quadratic step would take hours on each


@pytest.mark.timeout(300)  # a hang guard, not a speed figure
def test_a_chain_of_100k_spans_is_one_branch() -> None:
    tree = tree_of(*[span(1, i + 1, i or None, i * 0.0001, 1_000 - i * 0.0001) for i in range(N)])
    assert tree.size == N and [n.orphan for n in tree.roots] == [False]
    assert max(n.depth for n in tree.walk()) == N - 1
    assert_tiles_the_root(tree)


@pytest.mark.timeout(300)
def test_a_cycle_of_100k_spans_is_cut_once_at_its_earliest_span() -> None:
    # span i + 1's parent is span i, and span 1's parent is span N: one cycle through every span
    tree = tree_of(*[span(1, i + 1, i or N, i * 0.0001, 1_000 - i * 0.0001) for i in range(N)])
    assert tree.size == N
    assert [(int(n.span.span_id, 16), n.orphan) for n in tree.roots] == [(1, True)]
    assert max(n.depth for n in tree.walk()) == N - 1
    assert_tiles_the_root(tree)


@pytest.mark.timeout(300)
def test_50k_two_span_cycles_self_parents_and_missing_parents_are_all_placed() -> None:
    root = span(1, 1, None, 0, 1_000)
    pairs = [
        s
        for i in range(N // 4)
        for s in (span(1, 2 + 2 * i, 3 + 2 * i, 1 + i * 0.001, 1), span(1, 3 + 2 * i, 2 + 2 * i, 2 + i * 0.001, 1))
    ]
    first = 2 + N // 2
    selfish = [span(1, first + i, first + i, 3 + i * 0.001, 1) for i in range(N // 4)]
    lost = [span(1, first + N // 4 + i, 10**9 + i, 4 + i * 0.001, 1) for i in range(N // 4)]
    tree = tree_of(root, *pairs, *selfish, *lost)
    assert tree.size == 1 + N // 2 + N // 2
    assert sum(1 for n in tree.walk()) == tree.size  # every span placed exactly once
    assert tree.roots[0].span.span_id == root.span_id and not tree.roots[0].orphan
    # each 2-cycle is cut at its earlier span (the other hangs under it); each self-parent and each
    # span with a missing parent is an orphan of its own
    assert len(tree.roots) == 1 + N // 4 + N // 4 + N // 4
    assert all(
        n.orphan and len(n.children) == 1
        for n in tree.roots
        if int(n.span.span_id, 16) < first and n.depth == 0 and n is not tree.roots[0]
    )
    assert_tiles_the_root(tree)
