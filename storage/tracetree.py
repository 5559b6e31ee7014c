"""A trace's spans assembled as a tree, with each span's self time and the trace's critical path.

Pure functions over :class:`~schemas.Span` lists (no I/O), iterative so a deep trace cannot exhaust
the recursion limit, and O(n log n) in the spans whatever their parent links (chains, cycles,
self-parents, missing parents).

Tree: children hang under their parent, ordered by start time. A span whose parent is not in the
trace (not received yet, lost, or expired) is an *orphan*: it goes to the top level, flagged, beside
the root. Spans caught in a parent cycle (bad instrumentation) are cut loose the same way, at the
earliest of them. When two spans share an id, the first (by start) is kept.

Self time: a span's duration minus the union of its children's intervals clipped to the span, i.e.
the time it spent neither waiting for nor overlapping any child.

Critical path (Jaeger's, jaeger-ui ``TracePage/CriticalPath``): the sections of spans whose work
decides the root's latency, tiling ``[root start, root end]`` exactly. Children are first clipped to
their parent (a child starting after its parent ended is dropped; one ending after it, an async
fire-and-forget call, counts until the parent's end; the clipped bounds then clip its own children).
Then, walking back from the root's end with a point ``t`` (initially the root's end):

1. at span S, take the child of S that finishes last at or before ``t`` (the latest end; ties: the
   longer one). Time from that child's end to ``t`` is S's own work on the path: a section of S.
   Descend into the child with ``t`` = its end;
2. when S has no such child left, ``[S start, t]`` is a section of S; return to S's parent with
   ``t`` = S's start, and look there for the child that finished before S started (sequential work).

A child that finishes after ``t`` overlapped later work and did not block it; it stays off the
path. Each span's children are sorted by end once and scanned with a pointer that only moves
forward (``t`` only decreases at a span), so the walk is O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from schemas import Span, SpanStatus

__all__ = ["CriticalSection", "SpanNode", "TraceTree", "build_tree"]


@dataclass(eq=False, slots=True)
class SpanNode:
    span: Span
    depth: int = 0  # 0 at the top level (the root and orphans)
    orphan: bool = False  # its parent is not in the trace; placed at the top level
    children: list[SpanNode] = field(default_factory=list)  # by start time
    self_ns: int = 0  # duration not covered by any child clipped to this span, ns
    critical_ns: int = 0  # time this span spends on the critical path, ns


@dataclass(frozen=True, slots=True)
class CriticalSection:
    """``[start_ns, end_ns)`` of the trace's latency decided by the span ``span_id``."""

    span_id: str
    start_ns: int
    end_ns: int


@dataclass(slots=True)
class TraceTree:
    trace_id: str
    roots: list[SpanNode]  # top level: the root span(s) first, then orphans, each by start time
    root: SpanNode  # the span the critical path starts from (the earliest true root, else the earliest orphan)
    critical_path: list[CriticalSection]  # in time order
    size: int  # spans in the tree

    def walk(self) -> Iterator[SpanNode]:
        """Every span once, parents before children (depth-first, children by start time)."""
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def start_ns(self) -> int:
        return min(node.span.start_ns for node in self.walk())

    @property
    def end_ns(self) -> int:
        return max(node.span.end_ns for node in self.walk())

    @property
    def errors(self) -> int:
        return sum(1 for node in self.walk() if node.span.status is SpanStatus.ERROR)

    @property
    def services(self) -> list[str]:
        return sorted({node.span.service for node in self.walk()})


def _order(node: SpanNode) -> tuple[int, int, str]:
    return node.span.start_ns, -node.span.end_ns, node.span.span_id


def build_tree(trace_id: str, spans: list[Span]) -> TraceTree | None:
    """The tree of ``spans`` (all of one trace), self times and critical path filled in; None when empty."""
    nodes: dict[str, SpanNode] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        nodes.setdefault(span.span_id, SpanNode(span))
    if not nodes:
        return None
    true_roots: list[SpanNode] = []
    orphans: list[SpanNode] = []
    for node in nodes.values():
        parent_id = node.span.parent_span_id
        if parent_id is None:
            true_roots.append(node)
        elif parent_id in nodes and parent_id != node.span.span_id:
            nodes[parent_id].children.append(node)
        else:
            node.orphan = True
            orphans.append(node)
    for node in nodes.values():
        node.children.sort(key=_order)
    true_roots.sort(key=_order)
    seen = _place([*true_roots, *orphans])
    # Spans not reached are in parent cycles (or hang under one): cut each cycle loose at its earliest
    # span. One pass in start order, each cut placing all it reaches: searching the earliest and the
    # cut's parent anew for every cycle cost O(spans) per cycle, quadratic in a trace of 2-cycles.
    for cut in sorted((n for n in nodes.values() if n.span.span_id not in seen), key=_order):
        if cut.span.span_id in seen:
            continue  # reached from a cycle cut before it
        parent_id = cut.span.parent_span_id
        assert parent_id is not None, "a span left unreached has its parent in the trace"
        nodes[parent_id].children.remove(cut)  # a parent gives up at most one child so: the cut reaches it
        cut.orphan = True
        orphans.append(cut)
        seen |= _place([cut])
    roots = [*true_roots, *sorted(orphans, key=_order)]
    for node in nodes.values():
        node.self_ns = _self_time(node)
    root = roots[0]
    path = _critical_path(root)
    for section in path:
        nodes[section.span_id].critical_ns += section.end_ns - section.start_ns
    return TraceTree(trace_id, roots, root, path, len(nodes))


def _place(tops: list[SpanNode]) -> set[str]:
    """Set depths under ``tops``; return the span ids reached."""
    reached: set[str] = set()
    stack = [(node, 0) for node in tops]
    while stack:
        node, depth = stack.pop()
        reached.add(node.span.span_id)
        node.depth = depth
        stack.extend((child, depth + 1) for child in node.children)
    return reached


def _self_time(node: SpanNode) -> int:
    start, end = node.span.start_ns, node.span.end_ns
    covered, reach = 0, start
    for child in node.children:  # by start time: sweep the union of the clipped intervals
        lo, hi = max(child.span.start_ns, reach), min(child.span.end_ns, end)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return end - start - covered


@dataclass(slots=True)
class _Frame:
    node: SpanNode
    start: int  # the span's bounds clipped to its parent's (clipped) bounds
    end: int
    children: list[tuple[int, int, SpanNode]]  # clipped (start, end, child), latest end first
    next: int = 0  # children before this index finish after the walk's point: never candidates again


def _frame(node: SpanNode, start: int, end: int) -> _Frame:
    clipped = [
        (max(c.span.start_ns, start), min(c.span.end_ns, end), c)
        for c in node.children
        if c.span.start_ns < end and c.span.end_ns > start
    ]
    clipped.sort(key=lambda item: (-item[1], item[0]))
    return _Frame(node, start, end, [item for item in clipped if item[1] > item[0]])


def _critical_path(root: SpanNode) -> list[CriticalSection]:
    sections: list[CriticalSection] = []
    stack = [_frame(root, root.span.start_ns, root.span.end_ns)]
    point = root.span.end_ns
    while stack:
        frame = stack[-1]
        while frame.next < len(frame.children) and frame.children[frame.next][1] > point:
            frame.next += 1
        if frame.next < len(frame.children):
            start, end, child = frame.children[frame.next]
            frame.next += 1
            if end < point:
                sections.append(CriticalSection(frame.node.span.span_id, end, point))
            stack.append(_frame(child, start, end))
            point = end
        else:
            if frame.start < point:
                sections.append(CriticalSection(frame.node.span.span_id, frame.start, point))
            stack.pop()
            point = frame.start
    sections.reverse()
    return sections
