"""The receivers: HTTP ingest endpoints (``http``) and OTLP/HTTP (``otlp``) -> Kafka.

Run inside a server process (the composition root mounts their routers); they share the Kafka
producer of ``ingest.producer`` with the SDK.
"""
