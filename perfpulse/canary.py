"""``perfpulse canary``: ask a running perfpulse API for a canary verdict, print it with its figures,
and turn it into the exit code a deploy pipeline acts on.

Exit codes: 0 pass, 1 fail, 2 not-enough-data, 3 no verdict (the API unreachable or refusing the
request, or unreadable labels). The key goes in the ``Authorization`` header only; no output
contains it.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

__all__ = ["EXIT_CODES", "NO_VERDICT", "CanaryError", "ask_verdict", "parse_labels", "render"]

EXIT_CODES = {"pass": 0, "fail": 1, "not-enough-data": 2}
NO_VERDICT = 3
_TIMEOUT_S = 60.0  # a verdict over 24 h of a busy metric reads many rows


class CanaryError(RuntimeError):
    """No verdict; the message says why."""


def parse_labels(option: str, text: str) -> dict[str, str]:
    """``"version=1.5"`` or ``"version=1.5,region=eu"`` -> a label mapping; ``CanaryError`` naming
    ``option`` and the part it cannot read."""
    labels: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        name, equals, value = part.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise CanaryError(f"cannot read {option} {text!r}: {part!r} is not name=value")
        labels[name.strip()] = value.strip()
    return labels


def ask_verdict(url: str, body: dict[str, Any], key: str | None, verify: ssl.SSLContext | bool) -> dict[str, Any]:
    """``POST {url}/api/v1/canary`` with ``body``; the answer, or ``CanaryError`` with the API's reasons."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    endpoint = f"{url.rstrip('/')}/api/v1/canary"
    try:
        response = httpx.post(endpoint, json=body, headers=headers, verify=verify, timeout=_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise CanaryError(f"cannot reach perfpulse at {endpoint}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        raise CanaryError(
            f"cannot read the answer of {endpoint}: {response.status_code} {response.text[:200]}"
        ) from None
    if response.status_code != 200:
        details = "; ".join(f"{d.get('loc')}: {d.get('msg')}" for d in answer.get("details", []))
        hint = " (pass a read key with --key or PERFPULSE_API_KEY)" if response.status_code in (401, 403) else ""
        raise CanaryError(
            f"perfpulse refused the canary request: {response.status_code} {answer.get('error')} {details}{hint}"
        )
    if not isinstance(answer, dict) or answer.get("verdict") not in EXIT_CODES:
        raise CanaryError(f"cannot read the answer of {endpoint}: no verdict in it")
    return answer


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(answer: dict[str, Any]) -> list[str]:
    """The verdict, its reasons, and a table of both sides' figures and the change, as lines."""
    base, cand, change = answer["baseline"], answer["candidate"], answer["change"]
    where = f" of {answer['service']}" if answer.get("service") else ""
    lines = [f"canary {answer['verdict']}: {answer['metric']}{where}", *(f"  {why}" for why in answer["reasons"])]

    def labels(side: dict[str, Any]) -> str:
        return ",".join(f"{k}={v}" for k, v in side["labels"].items())

    rows = [
        ("", f"baseline {labels(base)}", f"candidate {labels(cand)}", "change"),
        ("count", str(base["count"]), str(cand["count"]), ""),
        ("errors", str(base["errors"]), str(cand["errors"]), ""),
        ("error rate", _number(base["error_rate"], ".3%"), _number(cand["error_rate"], ".3%"),
         _number(change["error_rate"], "+.3%")),
        *((f"{level} ms", _number(base[level], ".3f"), _number(cand[level], ".3f"), _number(change[level], "+.1%"))
          for level in ("p50", "p95", "p99")),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines += [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    tests = answer.get("tests")
    if tests:
        lines.append(
            f"  KS D+ {tests['ks_d_plus']:.4f} (p={tests['ks_p_value']:.3g}); "
            f"error z {tests['error_z']:.2f} (p={tests['error_p_value']:.3g}); alpha {answer['policy']['alpha']}"
        )
    lines.append(f"  window {answer['start']}..{answer['end']} (epoch ms)")
    return lines
