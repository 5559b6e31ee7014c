"""Jobs of the RQ integration's test: importable by name, as an RQ worker finds a job's function."""

from __future__ import annotations

import time


def summarize(text: str) -> str:
    return text[:10]


def refuse(text: str) -> str:
    raise ValueError(f"model refused {text!r}")


def dawdle(seconds: float) -> None:
    time.sleep(seconds)
