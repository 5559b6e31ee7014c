"""The API's access to the notifier stage: read its saved state, queue commands, await their outcome.

The notifier may run in another process, so the API never touches a live notifier: it reads the
state the notifier saved (cached per saved version) through
:class:`~alerting.notify.view.NotifierView`, and asks for changes by queueing commands in storage.
Reads share one view for :data:`VIEW_TTL_S` (dashboards poll alerts and silences: any number of
them cost one storage read a second), then serve it while a new one is read (stale-while-revalidate,
up to :data:`~api.ttlcache.POLL_STALE_S`); a command queued here drops it, so this process reads its
own writes, and waiting for a command's outcome always reads storage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from alerting.notify.view import NotifierView, state_document
from api.ttlcache import POLL_STALE_S, TtlCache
from schemas.notifier import CommandKind, NotifierCommand
from storage import Store
from storage.alerts import commands_since, load_notifier_state, queue_command

__all__ = ["COMMAND_HORIZON_MS", "VIEW_TTL_S", "NotifierAccess"]

COMMAND_HORIZON_MS = 300_000  # as the notifier: commands this far behind its newest applied may still be pending
VIEW_TTL_S = 1.0


class NotifierAccess:
    """Reads and commands of one notifier (``name``: its consumer group, under which it saves)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self._cached: tuple[int, dict[str, Any]] | None = None  # (version, parsed state)
        self._views = TtlCache[NotifierView](VIEW_TTL_S, 1, stale_s=POLL_STALE_S)

    def _state(self) -> dict[str, Any] | None:
        loaded = load_notifier_state(self.store, self.name)
        if loaded is None:
            return None
        version, text = loaded
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, state_document(text))
        return self._cached[1]

    def _view(self) -> NotifierView:
        state = self._state()
        applied = {int(seq): int(at) for seq, at in (state or {}).get("commands", {}).get("applied", {}).items()}
        since = max(applied.values(), default=COMMAND_HORIZON_MS) - COMMAND_HORIZON_MS
        pending = [c for c in commands_since(self.store, since) if c.seq not in applied]
        return NotifierView(state, pending)

    async def view(self) -> NotifierView:
        """The saved state with the commands not applied yet, read at most :data:`VIEW_TTL_S` ago."""
        return await self._views.get(None, self._read_view)

    async def _read_view(self) -> NotifierView:
        """The newest saved state with the commands not applied yet (reads storage off the loop)."""
        return await asyncio.to_thread(self._view)

    async def queue(self, kind: CommandKind, body: dict[str, Any]) -> NotifierCommand:
        command = await asyncio.to_thread(queue_command, self.store, kind, body)
        self._views.clear()
        return command

    async def outcome(self, command: NotifierCommand, timeout_s: float) -> Any:
        """What the notifier recorded for ``command`` once it applied it; None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = (await self._read_view()).result(command.seq)
            if result is not None or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(0.2)
