"""The SDK's middleware tests run against a real perfpulse: the end-to-end tests' deployment
(worker and API with its sink as processes on the session's Kafka)."""

from __future__ import annotations

from tests.e2e.conftest import deployment

__all__ = ["deployment"]
