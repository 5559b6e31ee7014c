"""The ingest stage: the emitter SDK services embed, and the Kafka producer the receivers share.

``from ingest import Emitter`` is all a service needs; ``ingest.demo`` generates synthetic traffic.
"""

from ingest.emitter import Emitter
from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.timer import Timer

__all__ = ["Emitter", "KafkaUnavailable", "RecordProducer", "RecordRejected", "Timer"]
