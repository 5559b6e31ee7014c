"""What a caller of a transactional send learns before the commit: where its records went.

:class:`ingest.producer.RecordProducer` tells the witness set in :data:`WITNESS` (a context
variable, so the receivers' request handlers between the two need not carry it) where a call's
first record was placed once Kafka acknowledged all its records, before the transaction commits.
The idempotency keys of the receivers (:mod:`ingest.receivers.idempotency`) keep that place, so a
retry after the process died can read it back and learn whether the records were committed.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

__all__ = ["WITNESS", "Witness"]


class Witness(Protocol):
    """Told where a transactional call's records went, before they are committed."""

    replaying: bool  # the records were committed by a process that died before answering: send none

    async def before_commit(self, topic: str, partition: int, offset: int) -> None:
        """The call's first record is at ``offset`` of ``topic``'s ``partition``, acknowledged and
        not yet committed. Runs inside the transaction's deadline; must not raise."""


WITNESS: ContextVar[Witness | None] = ContextVar("perfpulse_ingest_witness", default=None)
