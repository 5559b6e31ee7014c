from __future__ import annotations

import os
from pathlib import Path

from alerting.rules import RuleSet, RulesWatcher

V1 = "alerts: [{name: a, condition: response_time.p95 > 200}]\n"
V2 = "alerts: [{name: a, condition: response_time.p95 > 300}, {name: b, condition: error_rate > 0.1}]\n"


def touch_later(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a visible mtime change


def test_poll_reloads_on_change_and_keeps_good_rules_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(V1)
    changes: list[tuple[RuleSet | None, RuleSet]] = []
    watcher = RulesWatcher(path, on_change=lambda old, new: changes.append((old, new)))
    assert watcher.poll() is True and watcher.current is not None
    assert watcher.poll() is False, "unchanged file: one stat, no reload"
    touch_later(path, V2)
    assert watcher.poll() is True
    assert [r.name for r in watcher.current.rules] == ["a", "b"] and len(changes) == 2
    touch_later(path, "alerts: [{name: a, condition: nonsense}]\n")
    assert watcher.poll() is False
    assert [r.name for r in watcher.current.rules] == ["a", "b"], "a bad file never replaces good rules"
    assert watcher.errors and watcher.errors[0].line == 1
    touch_later(path, V2)
    assert watcher.poll() is False and watcher.errors == (), "same content as in force: nothing to apply"


def test_replace_text_validates_then_writes_atomically(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(V1)
    watcher = RulesWatcher(path)
    watcher.reload()
    bad = watcher.replace_text("alerts: [{name: a}]\n")
    assert bad.rules is None and path.read_text() == V1
    good = watcher.replace_text(V2)
    assert good.rules is not None and path.read_text() == V2 and watcher.current is good.rules
    assert watcher.poll() is False, "our own write is not a change to reload"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.yaml"], "no temporary file left"


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    watcher = RulesWatcher(tmp_path / "nope.yaml")
    assert watcher.poll() is False and watcher.current is None
    assert "cannot read the rules file" in watcher.errors[0].reason
