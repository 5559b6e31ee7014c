"""Timer: elapsed wall time as a distribution point, as a ``with`` block or a decorator."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from ingest.sdk.buffer import Series
    from ingest.sdk.emitter import Emitter

__all__ = ["Timer"]

F = TypeVar("F", bound=Callable[..., Any])


class Timer:
    """Records elapsed wall time in milliseconds as a distribution point of one series.

    Use as ``with``/``async with`` block (one block at a time per Timer object) or as a decorator of
    sync and async functions (each call timed on its own). The time is recorded also when the block
    or the call raises. Made by :meth:`Emitter.timer <ingest.sdk.emitter.Emitter.timer>`.
    """

    __slots__ = ("_emitter", "_series", "_start")

    def __init__(self, emitter: Emitter, series: Series) -> None:
        self._emitter = emitter
        self._series = series
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._emitter._append(self._series, (time.perf_counter() - self._start) * 1000.0, None)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()

    def __call__(self, func: F) -> F:
        emitter, series = self._emitter, self._series
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    emitter._append(series, (time.perf_counter() - start) * 1000.0, None)

            return cast(F, timed_async)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                emitter._append(series, (time.perf_counter() - start) * 1000.0, None)

        return cast(F, timed)
