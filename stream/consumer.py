"""The Faust Kafka transport of the stream worker: its consumer reads ``read_committed`` and a
fetch waits at most :data:`FETCH_MAX_WAIT_MS` at the broker.

- **read_committed.** The HTTP and OTLP receivers send each request's records in a Kafka
  transaction, and a request answered 503 leaves its records in an aborted one: a consumer reading
  ``read_uncommitted`` would count them, and the client's retry would count them again.
  faust-streaming (0.15) chooses the consumer's isolation level from ``processing_guarantee`` alone
  (``read_committed`` only with ``exactly_once``, which also turns on its transactional producer
  and changelog machinery this stage does not use: stream/partition.py). Records written outside
  transactions (the SDK's, the ticks) are read as before.
- **The fetch wait.** faust-streaming builds the worker's aiokafka consumer with
  ``fetch_max_wait_ms=1500``, not a setting (faust/transport/drivers/aiokafka.py). aiokafka keeps
  one fetch in flight per broker and leaves out of it the partitions whose records are still
  buffered, so a fetch made only of partitions with nothing new (Faust's
  ``__assignor-__leader`` partition, held by one worker of the group) waits that long while the
  busy partitions' records pile up behind it. Seen in the alerts bench: the worker holding that
  partition stopped receiving for 0.4-1.3 s every ~2 s and ran 1.5-3 s behind, its alerts with it.

Both are set on the aiokafka consumer Faust builds, before it starts (aiokafka reads them when
``start()`` builds its fetcher).
"""

from __future__ import annotations

from typing import Any, Final

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["FETCH_MAX_WAIT_MS", "WorkerTransport", "use_worker_transport"]

# A window closes at a tick (stream/partition.py), ticks come every 100-500 ms: a fetch returning
# empty after 100 ms costs the broker and the worker ~10 requests a second when all is idle.
FETCH_MAX_WAIT_MS: Final = 100


class _Thread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _Thread:
        return _Thread(self, loop=self.loop, beacon=self.beacon)


class WorkerTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, its worker consumer reading only committed records and waiting
    at most :data:`FETCH_MAX_WAIT_MS` per fetch."""

    Consumer = _Consumer


def use_worker_transport(app: faust.App) -> None:
    """Give ``app`` the worker's transport; call before anything of ``app`` uses its transport
    (before its topics are declared)."""
    app.transport = WorkerTransport(app.conf.broker_consumer, app)
