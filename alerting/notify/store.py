"""What the notifier stage needs of storage, as a protocol the composition root satisfies.

The notifier never imports storage: ``perfpulse/`` hands it an object with these methods (storage's
``NotifierTables`` over ClickHouse), so it runs the same beside the API or in a process of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from schemas.notifier import AttemptRow, NotifierCommand

__all__ = ["NotifierStore"]


class NotifierStore(Protocol):
    """Durable state of one notifier (``name``), its delivery attempts and the API's commands."""

    def load_state(self, name: str) -> tuple[int, str] | None:
        """The newest saved ``(version, state JSON)`` of ``name``; None when never saved."""
        ...

    def save_state(self, name: str, version: int, state: str) -> None:
        """Save ``state`` as ``version`` (higher versions win). Raises ``StoreError``."""
        ...

    def insert_attempts(self, rows: Sequence[AttemptRow]) -> None:
        """Record delivery attempts (one statement). Raises ``StoreError``."""
        ...

    def commands_since(self, at_ms: int) -> list[NotifierCommand]:
        """Commands queued at or after ``at_ms``, in ``seq`` order."""
        ...
