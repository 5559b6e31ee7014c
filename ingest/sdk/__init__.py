"""The emitter SDK a service embeds: metrics, spans and logs to Kafka, batched, never blocking.

``from ingest import Emitter`` re-exports what is here; this sub-package imports nothing of the
receivers, so an SDK-only install needs none of the server's dependencies.
"""
