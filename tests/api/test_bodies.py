"""Rendered bodies kept by the objects they were made from (api/bodies.py)."""

from __future__ import annotations

from api.bodies import Bodies, Rendered, etag_of


def rendered(body: bytes) -> Rendered:
    return Rendered(body, etag_of(body))


def test_a_body_is_found_only_for_the_same_sources() -> None:
    bodies = Bodies(1_000)
    first, second = ["a"], ["a"]  # equal, not the same objects
    kept = rendered(b'{"a":1}')
    bodies.put("q", (first,), kept)
    assert bodies.get("q", (first,)) is kept
    assert bodies.get("q", (second,)) is None  # equal parts read again: another object
    assert bodies.get("q", (first, second)) is None and bodies.get("q", ()) is None
    assert bodies.get("other", (first,)) is None


def test_bodies_are_bounded_in_bytes_least_recently_used_out() -> None:
    bodies = Bodies(25)
    sources = (object(),)
    for key in ("a", "b", "c"):
        bodies.put(key, sources, rendered(b"x" * 10))
    assert (len(bodies), bodies.bytes) == (2, 20) and bodies.get("a", sources) is None
    bodies.get("b", sources)  # used: "c" is now the oldest
    bodies.put("d", sources, rendered(b"y" * 10))
    assert bodies.get("c", sources) is None and bodies.get("b", sources) is not None
    bodies.put("b", sources, rendered(b"z" * 5))  # replaced: its bytes counted once
    assert bodies.bytes == 15
    bodies.put("huge", sources, rendered(b"h" * 26))  # larger than the bound: not kept
    assert bodies.get("huge", sources) is None and bodies.bytes == 15


def test_the_etag_is_a_hash_of_the_bytes() -> None:
    assert etag_of(b"x") == etag_of(b"x") != etag_of(b"y")
    assert etag_of(b"x").startswith('W/"')
