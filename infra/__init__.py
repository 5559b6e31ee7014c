"""Local real services for development, tests and the all-in-one runner: Kafka and Redis.

Production runs the shape in ``infra/compose.yaml`` instead (official images).
"""

from infra.kafka import KAFKA_VERSION, LocalKafka, kafka_reachable
from infra.process import InfraError
from infra.redis import LocalRedis

__all__ = ["KAFKA_VERSION", "InfraError", "LocalKafka", "LocalRedis", "kafka_reachable"]
