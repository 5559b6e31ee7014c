"""The notifier's lease: one notifier of a deployment sends, any other waits as standby.

Why a Kafka consumer group: every notifier of a deployment reaches the same Kafka (two notifiers
on two embedded stores share nothing else, and Redis is optional), and a group already gives one
answer to "who is alive" (the coordinator's session timeout) with an order of decisions (the
generation). Every notifier joins the group of its name subscribed to the ``alerts`` topic;
:class:`HolderAssignor` gives every partition to one member, the holder (the member holding
already, when it is still there, so a standby joining moves nothing). The holder reads the topic
and sends; a standby gets no partition and waits. When the holder dies or is paused past the
session timeout, the coordinator drops it and the next assignment makes a standby the holder. A
holding that ended leaves the group and joins again as a new member claiming nothing, so an old
holder resumed after a pause never takes the partitions back from its successor.

Fencing. Being assigned is not enough to send: a paused holder (GC pause, SIGSTOP) cannot know it
was dropped until it runs again, and then it must not send. So sending is allowed only while
:meth:`Lease.valid`: until ``lease_s`` after the *sending* of the last offset commit the group
coordinator accepted. A commit is accepted only from a member of the current generation, so when
it is accepted no other member holds the partitions yet; a new holder is only made by a later
generation, and it waits ``lease_s`` after its assignment arrived before its first send. Hence the
new holder's first send comes after the old holder's last accepted commit plus ``lease_s``, after
which the old holder refuses to send or save (monotonic clocks keep counting through a pause). Each
holding begins a new *term*, one more than the highest saved; the notifier state is saved under a
version whose high bits are the term, so a save of an old holder that lands late never wins over
the new holder's (storage reads the highest version).

What no lease can stop: a holder paused after its last check and before its request leaves the
socket sends once it resumes. The check is made before each send, before each retry and in the
HTTP client just before the request is written, so that window is the time of one request write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

__all__ = ["TERM_SHIFT", "HolderAssignor", "Lease", "LeaseListener", "LeaseLost"]

log = logging.getLogger("perfpulse.alerting.notify.lease")

TERM_SHIFT = 32  # a saved state's version is term << TERM_SHIFT | saves within the term
_HOLDING = b"holding"  # a member's user data while it holds the partitions


class LeaseLost(RuntimeError):
    """This notifier does not hold the lease (any more): it must not send nor save."""


class Lease:
    """What this member knows of its holding: assigned since when, valid until when (monotonic s)."""

    def __init__(self, lease_s: float) -> None:
        if lease_s <= 0:
            raise ValueError(f"cannot lease for {lease_s!r} s: it must be positive")
        self.lease_s = lease_s
        self.assigned: list[TopicPartition] = []
        self.assigned_at: float | None = None  # when the assignment that made this member holder arrived
        self._valid_until = 0.0

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        """A new assignment: holding starts (the takeover wait runs from now), goes on, or ends."""
        if not partitions:
            self.lose("no partition assigned")
        elif self.assigned_at is None:
            self.assigned_at = time.monotonic()
        self.assigned = list(partitions)

    def takeover_at(self) -> float | None:
        """When this member may begin sending (monotonic s), or None when it holds nothing."""
        return None if self.assigned_at is None else self.assigned_at + self.lease_s

    def renewed(self, sent_at: float) -> None:
        """A commit sent at ``sent_at`` (monotonic s) was accepted: holding is proven until ``lease_s`` later."""
        if self.assigned_at is not None:
            self._valid_until = max(self._valid_until, sent_at + self.lease_s)

    def lose(self, why: str) -> None:
        if self.assigned_at is not None:
            log.warning("notifier lease lost: %s", why)
        self.assigned, self.assigned_at, self._valid_until = [], None, 0.0

    def valid(self) -> bool:
        return time.monotonic() < self._valid_until

    def claims(self) -> bool:
        """Whether this member asks to keep the partitions at a rebalance: while its lease is valid,
        or assigned and not yet renewed (waiting to take over); not once its lease lapsed (a holder
        resumed after a pause must not take the partitions back from its successor)."""
        return self.valid() or (self.assigned_at is not None and self._valid_until == 0.0)

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless :meth:`valid`."""
        if not self.valid():
            raise LeaseLost("this notifier does not hold the lease: another one may be sending")


class HolderAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Every partition to one member: the one holding them already (its metadata says so), else the
    lowest member id. An instance per consumer: its metadata tells whether its lease is held."""

    name = "perfpulse-holder"
    version = 0

    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    def assign(  # an instance method, as metadata is: it depends on the lease
        self, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        holding = sorted(m for m, meta in members.items() if meta.user_data == _HOLDING)
        holder = (holding or sorted(members))[0]
        topics = sorted({t for meta in members.values() for t in meta.subscription})
        partitions = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
        return {
            member: ConsumerProtocolMemberAssignment(self.version, partitions if member == holder else [], b"")
            for member in members
        }

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        user_data = _HOLDING if self._lease.claims() else b""
        return ConsumerProtocolMemberMetadata(self.version, list(topics), user_data)

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        """Nothing: :class:`LeaseListener` learns the assignment with the partitions."""


class LeaseListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the lease of each assignment, then ``on_assigned`` (the stage positions the partitions)."""

    def __init__(self, lease: Lease, on_assigned: Callable[[list[TopicPartition]], Awaitable[None]]) -> None:
        self._lease = lease
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing: a holder keeps sending through a rebalance while its lease is valid."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._lease.on_assigned(list(assigned))
        await self._on_assigned(list(assigned))
