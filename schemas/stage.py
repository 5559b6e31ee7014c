"""The shape every stage has: built from settings, run until stopped, report its health.

The composition root (``perfpulse/``) decides which stages run in which process and supervises
them through this shape alone, so a stage never knows whether it shares its process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Health", "Stage"]


@dataclass(frozen=True, slots=True)
class Health:
    """What a stage says of itself: ``ok`` when it does its job now, ``detail`` says why not (or what
    it is doing)."""

    stage: str
    ok: bool
    detail: str = ""


class Stage(Protocol):
    """A stage of the data flow (sink, stream worker, notifier, API server)."""

    name: str  # e.g. "sink", "notifier"

    async def run(self, stop: asyncio.Event) -> None:
        """Do the stage's work until ``stop`` is set, then release what it holds and return.
        Raises when it cannot go on; the composition root restarts it with backoff."""
        ...

    def health(self) -> Health:
        """The stage's health now (cheap: called on every readiness probe)."""
        ...
