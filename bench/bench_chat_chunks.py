"""How fast does OpenAIChatDialect render a stream, compared with the seed's raw events?

Run from the repository root::

    python bench/bench_chat_chunks.py

It renders a 1000-token answer, in one run and with the best of several repeats each:

(a) the seed's stream: ``text.split()``, then ``f"data: {t}\\n\\n".encode()`` per word;
(b) ``OpenAIChatDialect().stream(...)``: the whole ``chat.completion.chunk`` stream (role chunk,
    one chunk per token, finish chunk, ``[DONE]``), each token's chunk a ``Frame``;

for two texts: ``lorem(1000)``, the load-test text, streamed again and again as a load test
does (the dialect remembers the tokenization of recent short replies and, within one stream,
reuses the frame of a repeated token), and 1000 all-different tokens in an 18 KB text (the worst
case: nothing is reused, every chunk is tokenized, rendered and wrapped in a Frame afresh).
Events/s counts token events only. Target: (b) reaches at least 0.5x the events/s of (a) on
the load-test text; the worst case is reported beside it.
Timings depend on the machine and its load: treat a MISS as a reason to look, not as proof.
"""

from __future__ import annotations

import sys
import timeit
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run without installing

from sse_mock.dialects.base import Reply  # noqa: E402
from sse_mock.dialects.openai_chat import OpenAIChatDialect  # noqa: E402
from sse_mock.tokens import lorem, tokenize  # noqa: E402

TOKENS = 1000
TARGET = 0.5  # (b) / (a)
REPEATS = 7
NUMBER = 100  # whole streams per repeat


def raw_seed(text: str) -> Iterator[bytes]:
    """The seed's generator: split the reply into words, one raw ``data:`` event per word."""
    for t in text.split():
        yield f"data: {t}\n\n".encode()


def events_per_second(make: Callable[[], Iterator[object]], events: int) -> float:
    """Token events per second in the fastest of REPEATS repeats (the least disturbed)."""
    def run() -> None:
        deque(make(), maxlen=0)

    best = min(timeit.repeat(run, repeat=REPEATS, number=NUMBER))
    return events * NUMBER / best


def measure(label: str, text: str) -> float:
    dialect = OpenAIChatDialect()
    prompt = dialect.parse({"model": "gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "Hi"}]})
    reply = Reply(text)
    ctx = dialect.new_context(prompt)
    tokens = tokenize(text)
    assert len(tokens) == TOKENS, len(tokens)
    frames = list(dialect.stream(reply, prompt, ctx))
    assert sum(f.token for f in frames) == TOKENS  # one content chunk per token

    assert len(text.split()) == TOKENS
    seed = events_per_second(lambda: raw_seed(text), TOKENS)
    ours = events_per_second(lambda: dialect.stream(reply, prompt, ctx), TOKENS)
    ratio = ours / seed
    print(f"{label}")
    print(f"  (a) seed: text.split() + f'data: {{t}}\\n\\n'.encode()  {seed:>12,.0f} events/s")
    print(f"  (b) OpenAIChatDialect.stream                         {ours:>12,.0f} events/s"
          f"   ({1e9 / ours:,.0f} ns per chunk)")
    print(f"  ratio (b)/(a) = {ratio:.2f}x")
    return ratio


def main() -> int:
    print(f"{TOKENS}-token chat.completion.chunk streams, best of {REPEATS} x {NUMBER} streams\n")
    load = measure("lorem(1000), the load-test text (repeated words)", lorem(TOKENS))
    print()
    # Over 16 KB, so its tokenization is not remembered either: every run starts cold.
    distinct = " ".join(f"token{i:012d}" for i in range(TOKENS))
    assert len(distinct) > 16384
    worst = measure("1000 distinct tokens, 18 KB (worst case: nothing reused)", distinct)
    print()
    verdict = "PASS" if load >= TARGET else "MISS"
    print(f"target >= {TARGET}x on the load-test text: {load:.2f}x {verdict}"
          f"  (worst case {worst:.2f}x {'PASS' if worst >= TARGET else 'MISS'})")
    return 0 if load >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
