"""The senders of ``python -m bench.compare``, each run as a process of its own:

- ``vm URL``: the samples as VictoriaMetrics JSON-lines ``/api/v1/import`` bodies of 100,000
  samples, posted over ``--connections`` connections at once;
- ``perfpulse``: the samples through the SDK to Kafka, ``observe_many`` with the values and
  timestamps of one series, 2,000 at a time (one Kafka record each), series after series in time
  order: the SDK's fastest way in (``make bench`` measured 1.38M acknowledged points/s with
  ``observe_many`` against ~4.5 µs per ``observe`` call).

Both regenerate the samples from ``--samples``, ``--seed`` and ``--t0`` (:mod:`bench.compare_data`),
build every body or chunk before the first send, and print one JSON line when all were accepted
(VictoriaMetrics answered every body 204; Kafka acknowledged every record): ``first_send`` and
``done`` (epoch s), ``sent`` and, for perfpulse, ``dropped``."""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson

from bench.compare_data import SERIES, Samples, generate
from bench.vm import import_bodies
from ingest import Emitter

PER_BODY = 100_000
PER_CALL = 2_000
BUFFERED_MAX = 1_500_000  # points an emitter may hold before the sender waits for Kafka


def send_vm(samples: Samples, url: str, connections: int) -> dict[str, float]:
    """Post every body; a body answered other than 204 ends the run with VictoriaMetrics' answer."""
    labels = [{"service": service, "route": route} for service, route in SERIES]
    bodies = import_bodies(samples.ts_ms, samples.values, labels, samples.series, PER_BODY)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    with httpx.Client(timeout=300, limits=limits) as client:

        def post(body: bytes) -> None:
            response = client.post(f"{url}/api/v1/import", content=body)
            if response.status_code != 204:
                raise RuntimeError(f"VictoriaMetrics import answered {response.status_code}: {response.text[:500]}")

        first = time.time()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(post, bodies))
    return {"first_send": first, "done": time.time(), "sent": len(samples.values)}


def send_perfpulse(samples: Samples, bootstrap: str, prefix: str) -> dict[str, float]:
    """Record every sample and wait until Kafka acknowledged them (up to 900 s)."""
    emitters = {
        service: Emitter(
            service, bootstrap, topic_prefix=prefix, batch_size=PER_CALL, linger_ms=50, max_buffer=2_000_000
        )
        for service in dict.fromkeys(s for s, _ in SERIES)
    }
    per_series = []
    for k, (service, route) in enumerate(SERIES):
        mask = samples.series == k
        per_series.append((emitters[service], route, samples.values[mask], samples.ts_ms[mask]))
    longest = max(len(values) for _, _, values, _ in per_series)
    calls = [
        (emitter, route, values[start : start + PER_CALL], ts[start : start + PER_CALL])
        for start in range(0, longest, PER_CALL)
        for emitter, route, values, ts in per_series
        if start < len(values)
    ]
    first = time.time()
    for emitter, route, values, ts in calls:
        while emitter.buffered > BUFFERED_MAX:
            time.sleep(0.01)
        emitter.observe_many("http.server.duration", values, ts_ms=ts, route=route)
    for service, emitter in emitters.items():
        if not emitter.flush(timeout=900):
            raise RuntimeError(f"Kafka did not acknowledge all points of {service} within 900 s")
    done = time.time()
    out = {"first_send": first, "done": done, "sent": sum(e.sent for e in emitters.values()),
           "dropped": sum(e.dropped for e in emitters.values())}  # fmt: skip
    for emitter in emitters.values():
        emitter.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system", choices=["vm", "perfpulse"])
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--t0", type=int, required=True, help="first timestamp, epoch ms")
    parser.add_argument("--url", help="VictoriaMetrics, e.g. http://127.0.0.1:28428")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--bootstrap", help="Kafka of perfpulse")
    parser.add_argument("--prefix", help="perfpulse's topic prefix")
    args = parser.parse_args()
    samples = generate(args.samples, args.seed, args.t0)
    if args.system == "vm":
        if not args.url:
            parser.error("vm needs --url")
        out = send_vm(samples, args.url, args.connections)
    else:
        if not (args.bootstrap and args.prefix):
            parser.error("perfpulse needs --bootstrap and --prefix")
        out = send_perfpulse(samples, args.bootstrap, args.prefix)
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    main()
