"""Replay filtering of derived topics (``rollups``, ``alerts``), and logs that ended before a saved position.

A stream worker that restarts replays its source partition from a restart tick and emits again
what it emitted before, with the same identity ``(tick offset, chunk or seq)``. Partition N of a
derived topic only holds emissions of source partition N, in tick order, so a consumer that keeps
the highest identity it has taken per partition (its frontier) knows every record at or below it
is a repeat. The sink and the notifier both filter this way, with :class:`ReplayFilter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["Identity", "ReplayFilter", "past_end"]

Identity = tuple[int, int]  # (tick offset, chunk or seq): order of emission within a source partition

K = TypeVar("K")


class ReplayFilter:
    """The frontier (highest identity taken) per partition of one derived topic."""

    def __init__(self, frontier: Mapping[int, Identity] | None = None) -> None:
        self._frontier: dict[int, Identity] = dict(frontier or {})

    def admit(self, partition: int, identity: Identity) -> bool:
        """True (and the frontier moves to ``identity``) unless ``identity`` is at or below the
        frontier of ``partition``: then the record is a replay, to skip."""
        seen = self._frontier.get(partition)
        if seen is not None and identity <= seen:
            return False
        self._frontier[partition] = identity
        return True

    def reset(self, partition: int, identity: Identity | None) -> None:
        """Start ``partition`` over from ``identity`` (None: nothing taken yet), as after a new
        assignment or a restore from stored state."""
        if identity is None:
            self._frontier.pop(partition, None)
        else:
            self._frontier[partition] = identity

    def export(self) -> dict[int, Identity]:
        """The frontier per partition, to save with what it reflects; :class:`ReplayFilter` of it restores."""
        return dict(self._frontier)


def past_end(positions: Mapping[K, int], ends: Mapping[K, int]) -> dict[K, int]:
    """The partitions whose saved position (next offset to read) lies past the end of their log,
    with that end. A log's end never moves back, so such a position was saved from another
    incarnation of the topic (recreated, another prefix or cluster): its records are not the ones
    the saved state reflects. What to do about it is the caller's policy."""
    return {key: ends[key] for key, position in positions.items() if key in ends and position > ends[key]}
