"""Reloading the rules file when it changes, through a poll or an API call, never half-applied.

Like Prometheus's reload: a file with errors is reported and the rules in force stay in force.
:meth:`RulesWatcher.poll` costs one ``stat``, so the stream stage can call it at every window close;
the API calls :meth:`RulesWatcher.reload` (force) or :meth:`RulesWatcher.replace_text` (validate,
write atomically, apply). :class:`FileStamp` is the change test, shared with the notifier's watcher
of the same file's channels.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from alerting.rules.ruleset import ParseResult, RuleError, RuleSet, parse_rules, read_rules_file

__all__ = ["FileStamp", "RulesWatcher"]

OnChange = Callable[[RuleSet | None, RuleSet], None]  # (previous, current), called after a change applies


class FileStamp:
    """Whether a file changed since it was last read, by its ``(mtime ns, size, inode)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None  # of the last read; None: never read, or missing

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        """True when the file differs from the last :meth:`mark`, or is missing (one ``stat``)."""
        stat = self._stat()
        return stat is None or stat != self._seen

    def mark(self) -> None:
        """Remember the file as it is now: call before reading it, or right after writing it."""
        self._seen = self._stat()


class RulesWatcher:
    """Holds the rules of one file. ``current`` is None until a load succeeds."""

    def __init__(self, path: str | Path, *, window_ms: int | None = None, on_change: OnChange | None = None) -> None:
        self.path = Path(path)
        self.current: RuleSet | None = None
        self.errors: tuple[RuleError, ...] = ()  # of the last load attempt; () when it succeeded
        self._window_ms = window_ms
        self._on_change = on_change
        self._stamp = FileStamp(self.path)
        self._applied = False  # whether the last load changed the rules in force

    def poll(self) -> bool:
        """Reload when the file changed since the last read; True when new rules were applied."""
        if not self._stamp.changed():
            return False
        self.reload()
        return self._applied

    def reload(self) -> ParseResult:
        """Read and validate the file now; apply it when valid and different from the rules in force."""
        self._applied = False
        self._stamp.mark()
        text, error = read_rules_file(self.path)
        if text is None:
            self.errors = (error,) if error else ()
            return ParseResult(None, self.errors)
        return self._apply(self.validate_text(text))

    def validate_text(self, text: str) -> ParseResult:
        """Validate ``text`` as a replacement of the file, without applying it."""
        return parse_rules(text, file=str(self.path), window_ms=self._window_ms)

    def replace_text(self, text: str) -> ParseResult:
        """Validate ``text``; when valid, write it over the file atomically and apply it."""
        result = self.validate_text(text)
        if result.rules is None:
            return result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp.mark()
        return self._apply(result)

    def _apply(self, result: ParseResult) -> ParseResult:
        self.errors = result.errors
        new = result.rules
        if new is None or (self.current is not None and self.current.digest == new.digest):
            return result
        previous, self.current = self.current, new
        self._applied = True
        if self._on_change is not None:
            self._on_change(previous, new)
        return result
