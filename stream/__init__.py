"""Stream stage: metric batches and spans from Kafka folded into windows of mergeable histograms
(count, sum, extremes and the percentile engine's histogram, schemas/sketch.py) -> ``rollups``, and
alert rules evaluated at window closes -> ``alerts``."""

from stream.caps import SeriesCaps
from stream.partition import PartitionWindows, TickResult
from stream.worker import StreamConfig, StreamWorker

__all__ = ["PartitionWindows", "SeriesCaps", "StreamConfig", "StreamWorker", "TickResult"]
