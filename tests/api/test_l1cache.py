"""The L1 cache alone: bounded in bytes (least recently used out first), expired entries not
answered, and a stored window drops exactly the entries whose cells it touches."""

from __future__ import annotations

from api.cachecell import Cell
from api.l1cache import L1Cache
from schemas.events import StoredWindow

OVERHEAD = 200  # bytes counted per entry besides its value (api/l1cache.py)


def cell(metric: str = "m", services: tuple[str, ...] = (), start: int = 0, end: int = 60_000) -> Cell:
    return Cell(metric, services, start, end)


def test_the_least_recently_used_goes_first_when_the_bound_is_reached() -> None:
    cache = L1Cache[bytes](max_bytes=3 * (1_000 + OVERHEAD), size_of=len)
    for key in "abc":
        cache.put(key, b"x" * 1_000, cell(), ttl_s=60)
    assert cache.get("a") == b"x" * 1_000  # now b is the least recently used
    cache.put("d", b"y" * 1_000, cell(), ttl_s=60)
    assert [cache.get(k) is not None for k in "abcd"] == [True, False, True, True]
    assert (cache.bytes, cache.evictions, len(cache)) == (3 * (1_000 + OVERHEAD), 1, 3)


def test_a_value_larger_than_the_bound_is_not_kept_and_replacing_counts_once() -> None:
    cache = L1Cache[bytes](max_bytes=1_000, size_of=len)
    cache.put("big", b"z" * 1_000, cell(), ttl_s=60)
    assert cache.get("big") is None and cache.bytes == 0
    cache.put("k", b"1", cell(), ttl_s=60)
    cache.put("k", b"22", cell(), ttl_s=60)
    assert (cache.get("k"), cache.bytes, len(cache)) == (b"22", 2 + OVERHEAD, 1)


def test_an_expired_entry_is_not_answered() -> None:
    cache = L1Cache[bytes](max_bytes=10_000, size_of=len)
    cache.put("gone", b"v", cell(), ttl_s=0)
    assert cache.get("gone") is None
    assert (cache.bytes, cache.evictions) == (0, 1)


def test_a_stored_window_drops_exactly_the_cells_it_touches() -> None:
    cache = L1Cache[bytes](max_bytes=100_000, size_of=len)
    cells = {
        "all": cell(),
        "gateway": cell(services=("gateway",)),
        "checkout": cell(services=("checkout",)),
        "later": cell(start=60_000, end=120_000),
        "other": cell(metric="n"),
    }
    for key, c in cells.items():
        cache.put(key, b"v", c, ttl_s=60)
    dropped = cache.drop([StoredWindow("m", "gateway", 50_000, 10_000, True)])
    assert dropped == {"all": (b"v", cells["all"]), "gateway": (b"v", cells["gateway"])}
    assert sorted(k for k in cells if cache.get(k) is not None) == ["checkout", "later", "other"]
    assert len(cache.drop([StoredWindow("m", "gateway", 60_000, 10_000, False)])) == 1  # the window starts in "later"
    assert cache.bytes == 2 * (1 + OVERHEAD)
