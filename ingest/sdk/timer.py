"""Timer: elapsed wall time as a distribution point, as a ``with`` block or a decorator."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from ingest.sdk.buffer import Record

__all__ = ["Timer"]

F = TypeVar("F", bound=Callable[..., Any])


class Timer:
    """Records elapsed wall time in milliseconds as a distribution point of one series.

    Use as ``with``/``async with`` block (one block at a time per Timer object) or as a decorator of
    sync and async functions (each call timed on its own). The time is recorded also when the block
    or the call raises, stamped when it ends. Made by :meth:`Emitter.timer <ingest.sdk.emitter.Emitter.timer>`
    and :meth:`BoundDistribution.timer <ingest.sdk.instruments.BoundDistribution.timer>`.
    """

    __slots__ = ("_record", "_start")

    def __init__(self, record: Record) -> None:
        self._record = record  # of the series (PointBuffer.recorder)
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._record((time.perf_counter() - self._start) * 1000.0)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()

    def __call__(self, func: F) -> F:
        record = self._record
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    record((time.perf_counter() - start) * 1000.0)

            return cast(F, timed_async)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                record((time.perf_counter() - start) * 1000.0)

        return cast(F, timed)
