"""Several local KRaft nodes on loopback as one Kafka cluster, for replication and broker-failure
tests: each node is a :class:`~infra.kafka.LocalKafka` (broker and controller) with its own ports and
data dir; the controller quorum is static (every node's controller port is in every config)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from infra.kafka import LocalKafka, new_cluster_id

__all__ = ["LocalKafkaCluster"]


@dataclass(frozen=True)
class LocalKafkaCluster:
    """Nodes 1..n on ``ports`` (each node's controller on its port + 100), state under ``home``."""

    home: Path
    ports: tuple[int, ...]
    heap_mb: int = 384  # per node
    cluster_id: str = field(default_factory=new_cluster_id)

    def __post_init__(self) -> None:
        if len(self.ports) < 2 or len(set(self.ports)) != len(self.ports):
            raise ValueError(f"cannot make a cluster of the ports {self.ports}: two or more distinct ports")

    @property
    def nodes(self) -> tuple[LocalKafka, ...]:
        voters = tuple(port + 100 for port in self.ports)
        return tuple(
            LocalKafka(
                self.home / f"node-{node_id}",
                port=port,
                heap_mb=self.heap_mb,
                node_id=node_id,
                voters=voters,
                cluster_id=self.cluster_id,
            )
            for node_id, port in enumerate(self.ports, start=1)
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout_s: float = 120.0) -> None:
        """Start every node at once (none serves metadata before a majority of controllers is up, so
        one at a time would wait for ever on the first) and wait until each serves metadata. When one
        cannot start, the others are stopped and its error is raised."""
        nodes = self.nodes
        with ThreadPoolExecutor(len(nodes)) as pool:
            starts = [pool.submit(node.start, timeout_s) for node in nodes]
        for start in starts:
            failure = start.exception()
            if failure is not None:
                self.stop()
                raise failure

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every node this cluster started, all at once; a node still running after ``timeout_s``
        is killed (a node whose controllers are gone cannot finish its controlled shutdown, and
        waited out the whole default minute when stopped one after another)."""
        with ThreadPoolExecutor(len(self.ports)) as pool:
            list(pool.map(lambda node: node.stop(timeout_s), self.nodes))
