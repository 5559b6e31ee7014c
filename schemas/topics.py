"""Kafka topic names: the one place they are spelled.

Stages meet only through these topics (and ClickHouse tables), so every producer and
consumer asks :class:`Topics` for a name instead of writing one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "Topics"]

DEFAULT_PREFIX = "perfpulse."


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under one prefix (``perfpulse.`` by default; tests use their own)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def metrics(self) -> str:
        """Metric point batches (key: service) and the stream's window ticks."""
        return f"{self.prefix}metrics"

    @property
    def spans(self) -> str:
        return f"{self.prefix}spans"

    @property
    def logs(self) -> str:
        return f"{self.prefix}logs"

    @property
    def rollups(self) -> str:
        """Closed-window aggregates: partition N carries the rollups of metrics partition N, partition
        P + N those of spans partition N (P: partitions of metrics and spans)."""
        return f"{self.prefix}rollups"

    @property
    def alerts(self) -> str:
        """Alert transitions; partition N carries those evaluated from source partition N (as rollups)."""
        return f"{self.prefix}alerts"

    @property
    def alert_states(self) -> str:
        """Alert state snapshots, compacted (key: source partition), laid out as ``alerts``: what a
        stream worker restores when it takes a partition over."""
        return f"{self.prefix}alert-states"

    @property
    def deadletter(self) -> str:
        """Records a stage rejected, with the reason (kept for inspection)."""
        return f"{self.prefix}deadletter"

    def all(self) -> tuple[str, ...]:
        return (self.metrics, self.spans, self.logs, self.rollups, self.alerts, self.alert_states, self.deadletter)
