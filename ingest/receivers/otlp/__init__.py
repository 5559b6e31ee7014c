"""The OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs`` (protobuf or JSON, gzip).

Include :data:`router` in an app whose ``state.ingest`` is an :class:`~ingest.receivers.http.IngestContext`,
or serve :func:`create_otlp_app` on OTLP's port 4318. One module per signal converts OTLP to
perfpulse's records (:mod:`~ingest.receivers.otlp.traces`, :mod:`~ingest.receivers.otlp.metrics`,
:mod:`~ingest.receivers.otlp.logs`);
:mod:`ingest.receivers.otlp.common` holds decoding, the response rules and attributes.
"""

from ingest.receivers.otlp.router import create_otlp_app, router

__all__ = ["create_otlp_app", "router"]
