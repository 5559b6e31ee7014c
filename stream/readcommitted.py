"""A Faust Kafka transport whose worker consumer reads ``read_committed``.

The HTTP and OTLP receivers send each request's records in a Kafka transaction, and a request
answered 503 leaves its records in an aborted one: a consumer reading ``read_uncommitted`` would
count them, and the client's retry would count them again. faust-streaming (0.15) chooses the
consumer's isolation level from ``processing_guarantee`` alone (``read_committed`` only with
``exactly_once``, which also turns on its transactional producer and changelog machinery this stage
does not use: stream/partition.py), so :class:`ReadCommittedTransport` sets it on the aiokafka
consumer Faust builds, before it starts. Records written outside transactions (the SDK's, the
ticks) are read as before.
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["ReadCommittedTransport", "use_read_committed"]


class _Thread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads the level when start() builds its fetcher; Faust offers no setting for it.
        consumer._isolation_level = "read_committed"
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _Thread:
        return _Thread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, its worker consumer reading only committed records."""

    Consumer = _Consumer


def use_read_committed(app: faust.App) -> None:
    """Give ``app`` the read-committed transport; call before anything of ``app`` uses its transport
    (before its topics are declared)."""
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
