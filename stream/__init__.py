"""Stream stage: metric batches from Kafka folded into windows of mergeable t-digests -> ``rollups``."""

from stream.partition import PartitionWindows, TickResult
from stream.worker import StreamConfig, StreamWorker

__all__ = ["PartitionWindows", "StreamConfig", "StreamWorker", "TickResult"]
