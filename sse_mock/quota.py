"""Quotas that behave like the provider's: ``[ratelimit] requests_per_minute`` and
``tokens_per_minute`` per API key (per session when a request carries none), as token buckets in
the state seam (:mod:`sse_mock.state`), so every worker of every host shares them.

Over the limit, a 429 in the provider's shape with ``retry-after`` / ``retry-after-ms`` saying
truthfully when the request would pass (PROTOCOLS.md §2.6), and on every answer the rate-limit
headers counting down: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` (OpenAI, reset
as a Go duration, §2.2) or ``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}``
(reset as an RFC 3339 time, §4.1).

Divergence #1: a request takes its prompt's tokens (the mock's tokenizer) plus its
    ``max_tokens`` from the token bucket up front, as OpenAI estimates; nothing is given back
    when the answer is shorter. A request that needs more than the whole bucket can never pass:
    its 429 carries ``x-should-retry: false`` (the SDKs then raise at once).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from .config import RateLimitConfig
from .dialects.base import MockError, Prompt
from .state import Bucket, State, Taken
from .tokens import count_tokens

__all__ = ["Quotas", "go_duration"]


def go_duration(seconds: float) -> str:
    """Seconds as OpenAI writes them (§2.2): ``6ms``, ``1s``, ``17.4s``, ``6m0s``.

    >>> [go_duration(s) for s in (0.006, 1, 17.43, 360)]
    ['6ms', '1s', '17.4s', '6m0s']
    """
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    tenths = math.ceil(seconds * 10) / 10
    if tenths < 60:
        return f"{tenths:g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"


def _api_key(environ: Mapping[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return str(auth[7:].strip())
    for name in ("HTTP_X_API_KEY", "HTTP_X_GOOG_API_KEY"):
        value = environ.get(name, "").strip()
        if value:
            return str(value)
    return ""


class Quotas:
    """Takes each request's share of its caller's buckets; off when both limits are 0."""

    def __init__(self, ratelimit: RateLimitConfig, state: State) -> None:
        self.rpm = ratelimit.requests_per_minute
        self.tpm = ratelimit.tokens_per_minute
        self.enabled = bool(self.rpm or self.tpm)
        self.state = state

    def check(self, environ: Mapping[str, Any], session: str, prompt: Prompt,
              family: str) -> list[tuple[str, str]]:
        """Take this request's share; the rate-limit headers for its answer, or a 429
        :class:`~sse_mock.dialects.base.MockError` when a bucket is short."""
        if not self.enabled:
            return []
        key = _api_key(environ)
        who = "k" + key if key else "s" + session
        # Hashed: bounded key length whatever the request sends, and no API key in Redis.
        name = hashlib.sha256(who.encode("utf-8", "replace")).hexdigest()[:24]
        buckets: list[tuple[str, Bucket]] = []
        if self.rpm:
            buckets.append(("requests", Bucket(name + ":r", self.rpm, self.rpm / 60, 1)))
        if self.tpm:
            need = count_tokens(m.text for m in prompt.messages) + (prompt.max_tokens or 0)
            buckets.append(("tokens", Bucket(name + ":t", self.tpm, self.tpm / 60,
                                             max(1, need))))
        too_large = any(b.amount > b.capacity for _, b in buckets)
        taken = self.state.take([b for _, b in buckets]) if not too_large else [
            Taken.at(False, b, b.capacity) for _, b in buckets]
        headers = _headers(family, buckets, taken)
        if not taken[0].allowed:
            _refuse(buckets, taken, headers, too_large)
        return headers


def _refuse(buckets: list[tuple[str, Bucket]], taken: list[Taken],
        headers: list[tuple[str, str]], too_large: bool) -> NoReturn:
    # The bucket that makes the request wait longest names the limit (§2.6's message).
    (what, bucket), t = max(zip(buckets, taken, strict=True), key=lambda p: p[1].retry_after)
    if too_large:
        headers.append(("x-should-retry", "false"))
        message = (f"Request too large for {what} per min: Limit {bucket.capacity:g}, "
                   f"Requested {bucket.amount:g} (mocked by sse_mock).")
    else:
        wait = t.retry_after
        headers += [("retry-after", str(max(1, math.ceil(wait)))),
                    ("retry-after-ms", str(math.ceil(wait * 1000)))]
        used = bucket.capacity - t.remaining
        message = (
            f"Rate limit reached for {what} per min: Limit {bucket.capacity:g}, Used "
            f"{used:.0f}, Requested {bucket.amount:g}. Please try again in "
            f"{go_duration(wait)} (mocked by sse_mock).")
    raise MockError(429, message, kind="rate_limit", code="rate_limit_exceeded",
                    headers=headers)


def _headers(family: str, buckets: list[tuple[str, Bucket]],
             taken: list[Taken]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    now = datetime.now(UTC)
    for (what, bucket), t in zip(buckets, taken, strict=True):
        remaining = str(max(0, math.floor(t.remaining)))
        if family == "anthropic":  # §4.1: reset as an RFC 3339 time
            at = (now + timedelta(seconds=t.reset)).isoformat(timespec="seconds")
            out += [(f"anthropic-ratelimit-{what}-limit", f"{bucket.capacity:g}"),
                    (f"anthropic-ratelimit-{what}-remaining", remaining),
                    (f"anthropic-ratelimit-{what}-reset", at.replace("+00:00", "Z"))]
        else:  # §2.2: reset as a Go duration
            out += [(f"x-ratelimit-limit-{what}", f"{bucket.capacity:g}"),
                    (f"x-ratelimit-remaining-{what}", remaining),
                    (f"x-ratelimit-reset-{what}", go_duration(t.reset))]
    return out
