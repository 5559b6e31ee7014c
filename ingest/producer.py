"""The Kafka adapter of the ingest stage: metric batches in, acknowledged ``metrics`` records out.

:class:`RecordProducer` is shared by the emitter SDK and the HTTP/OTLP receivers. It answers only
after Kafka acknowledged every record (``acks=all``), so a receiver may answer 2xx on return, and it
maps aiokafka's exceptions to two of ours: :class:`KafkaUnavailable` (retry later) and
:class:`RecordRejected` (retrying the same record cannot succeed).

Why a failed call tears the underlying producer down: with idempotence on, aiokafka never expires
a batch it could not deliver, it retries it until the broker answers. A call that gave up and told
its caller so must not have its records delivered later behind the caller's back, because the
caller's own retry would then duplicate them. Retries *inside* one call (a leader change, a broker
restart shorter than the call's timeout) keep their sequence numbers and are de-duplicated by the
broker, which is why a caller that can afford to wait passes a long ``timeout_s``.

With a ``transactional_id`` (the HTTP and OTLP receivers) a call is all or nothing: its records
are sent inside a Kafka transaction, shared with the calls that arrived while the previous one ran
(:mod:`ingest.groupcommit`), and a failed transaction is never committed, so a ``read_committed``
consumer sees none of its records, even those Kafka had acknowledged. A failed transaction tears
the producer down too; the next one, of the same ``transactional_id``, fences it at start and
Kafka aborts what it left open (or, when no producer comes, after ``transaction_timeout_s``). With
``transactions_at_once`` above 1, that many producers (*lanes*, ``transactional_id`` and
``transactional_id-2``, ...) each run a transaction, so a call arriving while one commits starts the
next at once on another; each lane is a producer of its own in everything said here.

A broker stopped while it completed a commit can record the transaction as committed without
having written its marker to every partition (Kafka 4.3.1 in controlled shutdown; the class of
KAFKA-12671). ``read_committed`` readers of such a partition stop at that transaction's first record
until a later marker of the same producer id closes it; and when the next transaction also held the
partition and failed with the broker, Kafka aborts it at the restart, and that abort marker closes
the acknowledged transaction as aborted. So the producer that replaces a failed one first takes care
of the last transaction committed before the failure (:meth:`RecordProducer._recheck`): it commits
an empty transaction over its partitions (:func:`_commit_markers`: the same producer id, so a marker
closes a transaction left open), reads each partition's first record of it back
``read_committed``, and sends again, in a transaction of their own, the records of a partition read
back aborted: their clients were answered 2xx and will not send them again.

A caller that must know, after its own process died, whether its records were committed (the
idempotency keys of the receivers) sets :data:`ingest.witness.WITNESS` around its call: the
witness is told where the call's first record was placed once Kafka acknowledged all, before the
commit, and :meth:`RecordProducer.committed` later reads that place back ``read_committed``. A
witness that is ``replaying`` stands for records an earlier process already committed: the call
sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError

from ingest.groupcommit import GroupCommit
from ingest.witness import WITNESS, Witness
from schemas import MetricBatch, RecordType, Topics, encode_metric_batch, type_headers
from schemas.kafka_security import PLAINTEXT, KafkaSecurity
from schemas.logs import LogRecord, encode_logs
from schemas.spans import Span, encode_spans

__all__ = [
    "KafkaUnavailable",
    "Record",
    "RecordProducer",
    "RecordRejected",
    "log_records",
    "metric_records",
    "span_records",
]

log = logging.getLogger("perfpulse.ingest.producer")

_REJECTED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
_RECORD_OVERHEAD_BYTES = 128  # batch and record headers around key and value, generously
_SPANS_PER_RECORD = 500  # ~250 KB with typical tags: well under a broker's default 1 MiB


Record = tuple[bytes, bytes, str]  # a Kafka record: key, value, and what it holds (for messages)
_RECHECK_S = 5.0  # at most this long reading back the last committed records after a failure
# One call's share of a transaction: topic, headers, records, and its caller's witness.
_Part = tuple[str, list[tuple[str, bytes]], Sequence[Record], Witness | None]


class _Placed(NamedTuple):
    """A record of a committed transaction and where Kafka placed it."""

    topic: str
    headers: list[tuple[str, bytes]]
    record: Record
    place: TopicPartition
    offset: int


def metric_records(batches: Sequence[MetricBatch]) -> list[Record]:
    """One ``metrics`` record per batch, keyed by its service."""
    return [(batch.service.encode(), encode_metric_batch(batch), f"{batch.n_points} points") for batch in batches]


def span_records(batches: Sequence[Sequence[Span]]) -> list[Record]:
    """``spans`` records keyed by service (a batch holding several services is split): a service's
    spans share a partition, so its span-derived RED metrics are whole in one partition."""
    by_service: dict[str, list[Span]] = {}
    for batch in batches:
        for span in batch:
            by_service.setdefault(span.service, []).append(span)
    records = []
    for service, part in by_service.items():
        for i in range(0, len(part), _SPANS_PER_RECORD):
            chunk = part[i : i + _SPANS_PER_RECORD]
            records.append((service.encode(), encode_spans(chunk), f"{len(chunk)} spans"))
    return records


def log_records(batches: Sequence[Sequence[LogRecord]]) -> list[Record]:
    """One ``logs`` record per non-empty batch, keyed by its first record's service."""
    return [
        (batch[0].service.encode(), encode_logs(list(batch)), f"{len(batch)} log records") for batch in batches if batch
    ]


class KafkaUnavailable(RuntimeError):
    """Kafka did not acknowledge in time (unreachable, restarting, too slow); retrying later may work."""


class RecordRejected(ValueError):
    """Kafka refused a record for what it is (too large); sending it again cannot succeed."""


class RecordProducer:
    """Sends encoded records (metric batches, spans, log records) to their topics and waits for
    Kafka's acknowledgement.

    Start is lazy and repeatable: :meth:`send_metrics` (re)starts the producer when it is not
    running, so a process that booted while Kafka was down recovers when Kafka comes back. Safe for
    concurrent use by many coroutines of one event loop (the loop that first uses it).
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        client_id: str = "perfpulse-ingest",
        request_timeout_s: float = 10.0,
        *,
        linger_ms: float = 5.0,
        max_request_bytes: int = 1_048_576,
        security: KafkaSecurity = PLAINTEXT,
        transactional_id: str | None = None,
        transaction_timeout_s: float = 10.0,
        transactions_at_once: int = 1,
    ) -> None:
        """``request_timeout_s`` bounds :meth:`start` and, separately, the send phase of each
        :meth:`send_metrics` call. ``max_request_bytes`` is the largest encoded record accepted: the
        broker's default ``message.max.bytes`` is about 1 MiB, a 2,000-point record ~60-80 kB.

        ``transactional_id``: send each call's records in a transaction (see the module doc). It
        must be stable across restarts of one process and unique among live ones: a producer
        starting with it fences any other. ``transaction_timeout_s`` is how long Kafka keeps a
        transaction open whose producer went silent (crashed): consumers reading ``read_committed``
        wait that long at most for the records behind it. ``transactions_at_once``: how many
        transactions may run at a time, each on a producer of its own (see the module doc)."""
        self.bootstrap = bootstrap
        self.topics = topics
        self.client_id = client_id
        self.security = security  # how the producer connects (SASL, TLS); never logged but by describe()
        self.request_timeout_s = request_timeout_s
        self._linger_ms = linger_ms
        self._max_request_bytes = max_request_bytes
        self._producer: Any = None  # AIOKafkaProducer when started (aiokafka is untyped)
        self._start_lock: asyncio.Lock | None = None
        self._teardowns: set[asyncio.Task[None]] = set()
        self._start_attempts = 0
        self._start_error: KafkaUnavailable | None = None  # of the last attempt, when it failed
        self.transactional_id = transactional_id
        self._transaction_timeout_s = transaction_timeout_s
        if transactions_at_once < 1:
            raise ValueError(f"transactions_at_once must be at least 1, got {transactions_at_once}")
        # The other lanes: producers of their own transactional ids, started with this one.
        self._lanes = [
            RecordProducer(
                bootstrap,
                topics,
                f"{client_id}-{lane}",
                request_timeout_s,
                max_request_bytes=max_request_bytes,
                security=security,
                transactional_id=f"{transactional_id}-{lane}",
                transaction_timeout_s=transaction_timeout_s,
            )
            for lane in range(2, transactions_at_once + 1)
            if transactional_id is not None
        ]
        self._transactions: GroupCommit[_Part] = GroupCommit(self._commit, *(lane._commit for lane in self._lanes))
        self.transactions_committed = 0  # by this producer, not its lanes
        self._last_committed: list[_Placed] = []  # the records of the last transaction committed
        # The records of the last transaction committed before a producer was discarded: the next
        # producer writes a commit marker to each of their partitions, reads them back and sends
        # again those Kafka aborted after all, before its first transaction (see the module doc).
        self._to_check: list[_Placed] = []

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect to Kafka, every lane too (a transactional producer fences its predecessor of the
        same id as it starts); idempotent. Raises :class:`KafkaUnavailable` after
        ``request_timeout_s`` at most per producer when Kafka cannot be reached (a later call tries
        again)."""
        await self._start_producer()
        for lane in self._lanes:
            await lane.start()

    async def _start_producer(self) -> None:
        """Start this lane's own producer (see :meth:`start`)."""
        if self._producer is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        attempt = self._start_attempts
        async with self._start_lock:
            if self._producer is not None:
                return
            if self._start_attempts != attempt and self._start_error is not None:
                # An attempt failed while this call waited for it: fail too rather than queue up
                # one more full timeout behind it (many concurrent requests while Kafka is down).
                raise KafkaUnavailable(str(self._start_error)) from self._start_error
            self._start_attempts += 1
            timeout_ms = max(1, int(self.request_timeout_s * 1000))
            transactional = (
                {
                    "transactional_id": self.transactional_id,
                    "transaction_timeout_ms": max(1, int(self._transaction_timeout_s * 1000)),
                }
                if self.transactional_id is not None
                else {}
            )
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,  # a retry after a broker restart must not duplicate
                # A transaction's records are all handed over before it waits on them: lingering
                # batches nothing more and delays every commit (1,034-1,060 -> 1,564-1,715 sends/s
                # of 10 points from 16 callers without it).
                linger_ms=0 if self.transactional_id is not None else self._linger_ms,
                # Several records share one produce request; aiokafka keeps one request in flight per
                # partition, so bigger batches are what lets one service's partition keep up.
                max_batch_size=min(512 * 1024, self._max_request_bytes),
                max_request_size=self._max_request_bytes,
                request_timeout_ms=timeout_ms,
                retry_backoff_ms=100,
                **transactional,
                **self.security.client_options(),
            )
            try:
                # Idempotent producers wait for a producer id without a deadline of their own.
                # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.)
                async with asyncio.timeout(self.request_timeout_s):
                    await producer.start()
            except (KafkaError, OSError, TimeoutError) as exc:
                await _teardown(producer, self.request_timeout_s)
                self._start_error = self._unavailable(exc)
                raise self._start_error from exc
            except BaseException:
                await _teardown(producer, self.request_timeout_s)
                raise
            self._producer = producer
            self._start_error = None

    async def stop(self, timeout_s: float | None = None) -> None:
        """Deliver what is in flight, waiting at most ``timeout_s`` (default ``request_timeout_s``),
        and close the connections. A later :meth:`send_metrics` starts the producer again."""
        producer, self._producer = self._producer, None
        if producer is not None:
            wait_s = self.request_timeout_s if timeout_s is None else max(0.0, timeout_s)
            with contextlib.suppress(TimeoutError, KafkaError, OSError):
                async with asyncio.timeout(wait_s):
                    await producer.flush()
            await _teardown(producer, self.request_timeout_s)
        if self._teardowns:
            await asyncio.gather(*self._teardowns, return_exceptions=True)
        await asyncio.gather(*(lane.stop(timeout_s) for lane in self._lanes))

    async def send_metrics(self, batches: Sequence[MetricBatch], *, timeout_s: float | None = None) -> None:
        """Send each batch as one ``metrics`` record (key: its service); see :meth:`send`."""
        await self.send(self.topics.metrics, RecordType.METRICS, metric_records(batches), timeout_s=timeout_s)

    async def send_spans(self, batches: Sequence[Sequence[Span]], *, timeout_s: float | None = None) -> None:
        """Send the spans as ``spans`` records keyed by service (:func:`span_records`): a service's
        span-derived RED metrics are then whole in the partition where the stream stage evaluates
        its alert rules. See :meth:`send`."""
        await self.send(self.topics.spans, RecordType.SPANS, span_records(batches), timeout_s=timeout_s)

    async def send_logs(self, batches: Sequence[Sequence[LogRecord]], *, timeout_s: float | None = None) -> None:
        """Send each batch as one ``logs`` record (key: its first record's service); see :meth:`send`."""
        await self.send(self.topics.logs, RecordType.LOGS, log_records(batches), timeout_s=timeout_s)

    async def send(
        self,
        topic: str,
        kind: RecordType,
        records: Sequence[Record],
        *,
        timeout_s: float | None = None,
    ) -> None:
        """Send ``(key, value, what)`` records of type ``kind`` (their type header) to ``topic``;
        return once Kafka acknowledged all.

        Raises :class:`KafkaUnavailable` when Kafka is unreachable or does not acknowledge within
        ``timeout_s`` (default ``request_timeout_s``; then none of the records still unacknowledged
        will be delivered later by this producer, and some may have been delivered), and
        :class:`RecordRejected` when a record is larger than Kafka accepts (checked before anything
        is sent for records over ``max_request_bytes``; ``what`` names its content). A caller that
        can wait (the emitter) passes a long ``timeout_s``: the producer's own retries across a
        broker restart keep their sequence numbers, so they cannot duplicate, where a new call could.

        With a ``transactional_id`` the records are committed in one transaction with those of the
        calls that joined it, bounded by ``request_timeout_s`` (``timeout_s`` is not used); on any
        error none of them is committed, and every call of the transaction raises.
        """
        if not records:
            return
        for key, value, what in records:
            if len(value) + len(key) + _RECORD_OVERHEAD_BYTES > self._max_request_bytes:
                raise RecordRejected(
                    f"cannot send a record of {len(value)} bytes ({what}): the limit is {self._max_request_bytes} bytes"
                )
        if self.transactional_id is not None:
            witness = WITNESS.get()
            if witness is None or not witness.replaying:
                await self._transactions.submit((topic, type_headers(kind), records, witness))
            return
        await self.start()
        producer = self._producer
        try:
            async with asyncio.timeout(self.request_timeout_s if timeout_s is None else timeout_s):
                headers = type_headers(kind)
                futures = [await producer.send(topic, value, key=key, headers=headers) for key, value, _ in records]
                results = await asyncio.gather(*futures, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        except _REJECTED as exc:  # that record only: the producer is fine, keep it for the others
            raise RecordRejected(f"cannot send to Kafka at {self.bootstrap}: {exc!r}") from exc
        except (KafkaError, OSError, TimeoutError) as exc:
            self._discard(producer)
            raise self._unavailable(exc, timeout_s) from exc

    async def _commit(self, parts: list[_Part]) -> list[BaseException | None]:
        """Send ``parts`` (the calls of one group) in one transaction: ``None`` each once committed,
        otherwise each part's error, :class:`RecordRejected` for a part whose record Kafka refused
        and :class:`KafkaUnavailable` for the others (nothing of the transaction is committed)."""
        try:
            await self._start_producer()  # this lane's own: another lane's state is not this one's concern
        except KafkaUnavailable as exc:
            return [exc] * len(parts)
        producer = self._producer
        try:
            async with asyncio.timeout(self.request_timeout_s):
                if self._to_check:
                    await self._recheck(producer, self._to_check)
                    self._to_check = []
                await producer.begin_transaction()
                sent = [
                    [await producer.send(topic, value, key=key, headers=headers) for key, value, _ in records]
                    for topic, headers, records, _ in parts
                ]
                results = [await asyncio.gather(*futures, return_exceptions=True) for futures in sent]
                failed = [next((r for r in part if isinstance(r, BaseException)), None) for part in results]
                if not any(failed):
                    told = []
                    for (_, _, _, witness), part in zip(parts, results, strict=True):
                        first: Any = part[0]  # RecordMetadata: no part failed
                        if witness is not None:
                            told.append(witness.before_commit(first.topic, first.partition, first.offset))
                    await asyncio.gather(*told)
                    # A timeout past this point leaves the outcome unknown to us (README: Guarantees).
                    await producer.commit_transaction()
                    self.transactions_committed += 1
                    self._last_committed = [
                        _Placed(topic, headers, record, TopicPartition(m.topic, m.partition), m.offset)
                        for (topic, headers, records, _), part in zip(parts, results, strict=True)
                        for record, m in zip(records, cast(list[Any], part), strict=True)  # RecordMetadata: none failed
                    ]
                    return [None] * len(parts)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._discard(producer)  # the transaction stays open until the next producer fences it
            unavailable = self._unavailable(exc)
            log.warning("a transaction of %d requests was not committed: %s", len(parts), unavailable)
            return [unavailable] * len(parts)
        self._discard(producer)
        cause = next(exc for exc in failed if exc is not None)
        log.warning("a transaction of %d requests was not committed: a record failed (%r)", len(parts), cause)
        shared = KafkaUnavailable(
            f"cannot send to Kafka at {self.security.at(self.bootstrap)}: the transaction this request shared "
            f"failed ({cause!r}); nothing of it was committed"
        )
        return [
            RecordRejected(f"cannot send to Kafka at {self.bootstrap}: {exc!r}")
            if isinstance(exc, _REJECTED)
            else shared
            if exc is None
            else self._unavailable(exc)
            for exc in failed
        ]

    async def committed(self, topic: str, partition: int, offset: int, timeout_s: float = 5.0) -> bool | None:
        """Whether the record at ``offset`` of ``topic``'s ``partition`` (a place a :class:`Witness`
        was told) was committed: True, False (its transaction was aborted), or None when that is not
        known within ``timeout_s`` (Kafka unreachable, or the transaction still open: a producer of
        another ``transactional_id`` that died leaves it open up to its ``transaction_timeout_s``).

        Starts this producer and its lanes first (those not running): with the dead producers'
        transactional ids that fences them, and Kafka completes the commits they had asked for or
        aborts what they left open."""
        place = TopicPartition(topic, partition)
        told: dict[TopicPartition, bool] = {}
        try:
            async with asyncio.timeout(timeout_s):
                await self.start()
                await self._read_back({place: offset}, told)
        except (KafkaError, KafkaUnavailable, OSError, TimeoutError) as exc:
            log.info("cannot tell whether %s/%d@%d was committed: %r", topic, partition, offset, exc)
        return told.get(place)

    async def _read_back(self, places: dict[TopicPartition, int], told: dict[TopicPartition, bool]) -> None:
        """Fill ``told``: for each partition, whether its record at the given offset reads back
        committed (True) or aborted (False), read ``read_committed``; returns once every partition is
        told (the caller bounds the wait: what was told by then stays in ``told``)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-committed",
            isolation_level="read_committed",  # an aborted record is skipped: the position passes it
            enable_auto_commit=False,
            request_timeout_ms=max(1, int(self.request_timeout_s * 1000)),
            **self.security.client_options(),
        )
        try:
            await consumer.start()
            consumer.assign(list(places))
            for place, offset in places.items():
                consumer.seek(place, offset)
            while len(told) < len(places):
                for place, records in (await consumer.getmany(timeout_ms=200)).items():
                    if place not in told and records:
                        told[place] = records[0].offset == places[place]
                for place, offset in places.items():
                    if place not in told and await consumer.position(place) > offset:
                        told[place] = False
                consumer.pause(*told)
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()

    async def _recheck(self, producer: Any, placed: list[_Placed]) -> None:
        """After a failure, the last committed transaction's records (see the module doc): a commit
        marker on each of their partitions, then each partition's first record read back, and the
        records of a partition read back aborted sent again, in a transaction of their own. A
        partition not told within :data:`_RECHECK_S` (another producer's open transaction holds it)
        is logged and left as it is."""
        await _commit_markers(producer, {entry.place for entry in placed})
        firsts: dict[TopicPartition, int] = {}
        for entry in placed:
            firsts[entry.place] = min(entry.offset, firsts.get(entry.place, entry.offset))
        told: dict[TopicPartition, bool] = {}
        try:
            async with asyncio.timeout(min(_RECHECK_S, self.request_timeout_s / 2)):
                await self._read_back(firsts, told)
        except TimeoutError:
            untold = sorted(f"{p.topic}/{p.partition}@{firsts[p]}" for p in firsts if p not in told)
            log.warning("cannot read back the last committed records in %s; left as they are", ", ".join(untold))
        lost = [entry for entry in placed if told.get(entry.place) is False]
        if not lost:
            return
        where = sorted({f"{entry.place.topic}/{entry.place.partition}" for entry in lost})
        log.warning(
            "%d records of the last committed transaction read back aborted in %s (Kafka wrote no commit "
            "marker and a later abort closed them): sending them again",
            len(lost),
            ", ".join(where),
        )
        await producer.begin_transaction()
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, headers, (key, value, _), _, _ in lost
        ]
        await asyncio.gather(*futures)
        await producer.commit_transaction()

    def _unavailable(self, exc: BaseException, timeout_s: float | None = None) -> KafkaUnavailable:
        if isinstance(exc, TimeoutError):
            cause = f"no answer within {self.request_timeout_s if timeout_s is None else timeout_s:g} s"
        else:
            name, text = type(exc).__name__, str(exc)
            cause = text if text.startswith(name) else f"{name}: {text}" if text else name
        return KafkaUnavailable(f"cannot send to Kafka at {self.security.at(self.bootstrap)}: {cause}")

    def _discard(self, producer: Any) -> None:
        """Forget a producer that failed a call and tear it down in the background (see module doc)."""
        if producer is None or self._producer is not producer:
            return  # another call already discarded it
        self._producer = None
        self._to_check += self._last_committed
        self._last_committed = []
        _fail_pending(producer)
        task = asyncio.get_running_loop().create_task(_teardown(producer, self.request_timeout_s))
        self._teardowns.add(task)
        task.add_done_callback(self._teardowns.discard)


async def _commit_markers(producer: Any, partitions: set[TopicPartition]) -> None:
    """Commit a transaction of no records over ``partitions``: Kafka writes a commit marker to each,
    closing a transaction of this producer id that a partition was left without (module doc).

    The marker commits whatever that open transaction holds, as the next commit on the partition
    would; only partitions whose last transaction was committed are given. aiokafka adds a partition
    to a transaction only when a record is sent to it; ``maybe_add_partition_to_txn`` is what its
    ``send`` calls, and then the commit sends AddPartitionsToTxn and EndTxn (what kcl's ``admin txn
    unstick-lso`` does for a partition of KAFKA-12671).
    """
    await producer.begin_transaction()
    for partition in partitions:
        producer._txn_manager.maybe_add_partition_to_txn(partition)
    await producer.commit_transaction()


def _fail_pending(producer: Any) -> None:
    """Fail every record the producer still holds, so none is delivered after we gave up on it.

    aiokafka has no public abort; its accumulator's ``fail_all`` is what its own sender uses when it
    dies. Without that attribute (another aiokafka version) we fall back to a plain stop.
    """
    accumulator = getattr(producer, "_message_accumulator", None)
    fail_all = getattr(accumulator, "fail_all", None)
    if callable(fail_all):
        fail_all(KafkaError("producer discarded after a failed send"))


async def _teardown(producer: Any, timeout_s: float) -> None:
    """Close a producer without waiting on a broker that may never answer."""
    _fail_pending(producer)
    try:
        async with asyncio.timeout(max(timeout_s, 1.0)):
            await producer.stop()
    except (KafkaError, OSError, TimeoutError) as exc:
        log.debug("cannot stop Kafka producer cleanly: %r", exc)
