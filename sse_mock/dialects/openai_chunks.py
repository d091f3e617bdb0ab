"""Pre-rendered OpenAI chunk bytes: the envelope rendered once per stream, each token's JSON
rendered once per process, and the token cache (PROTOCOLS.md §2.3–§2.5).

The hot loop of every OpenAI stream (one event per token) is here, apart from the dialects'
shapes and validation: ``openai_chat`` says *what* a chunk holds, this module makes its bytes
cheaply.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: a chat stream's middle chunks — content and tool-argument fragments, the bulk of
    every stream — carry the required envelope only (``id``, ``object``, ``created``, ``model``;
    §2.3) and ``"finish_reason":null``, without ``"system_fingerprint"`` and ``"logprobs":null``.
    Both are optional (§2.3), and the real API's repeating them is 18 % of a 100-word stream's
    bytes (bench/results/load.md). The first chunk and the last one (the finish chunk, or the
    usage chunk with ``include_usage``) keep both: openai-python's stream helper takes
    ``system_fingerprint`` from the last chunk (``completion_snapshot.system_fingerprint =
    chunk.system_fingerprint``), a client reading raw chunks finds it in the first, and a missing
    ``logprobs`` is read as null by every SDK.
Divergence #2: a token's JSON string is cached per process (at most ``TOKEN_CACHE`` distinct
    tokens of ≤ 64 characters), not per stream: a mock streams the same few replies over and
    over, and ``json.encoder.encode_basestring_ascii`` per token was a third of a chunk's cost.
Divergence #3: a stream of up to ``EAGER_PIECES`` pieces renders all its token frames when it
    starts, into a list, rather than one at a time from a generator as they leave. The work is
    the same and done while the memory is warm; a paced write then only takes the next frame
    from a list, where a generator's resume, cache and frame construction each touched memory
    gone cold in the second since the last write (a server holds thousands of such streams;
    bench/bench_open_streams.py, issue 13). A chat text answer keeps them as bytes
    (:func:`token_bytes`, in a Steady stream: pacing.py, Divergence #3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring_ascii

from ..tokens import tokenize
from .base import Frame

__all__ = ["ChatChunks", "escape", "reply_tokens", "token_bytes", "token_frame",
           "token_frames"]

#: JSON string literal of a str, ASCII only (the C encoder behind ``json.dumps``); the same
#: output as ``dumps(text)`` (§1.8 F-13: no raw line separators on the wire).
escape: Callable[[str], str] = encode_basestring_ascii

#: Distinct tokens whose JSON form is remembered (Divergence #2).
TOKEN_CACHE = 4096

#: Streams of at most this many token pieces render their frames when they start (Divergence
#: #3); an open stream holds at most this many rendered frames before they leave.
EAGER_PIECES = 256


def token_frame(data: bytes) -> Frame:
    """``Frame(data, token=True)``: one content event."""
    return Frame(data, True)


@functools.lru_cache(maxsize=32)
def _cached_tokens(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


def reply_tokens(text: str) -> Sequence[str]:
    """``tokenize(text)``, remembered for short texts: a mock streams the same few replies
    over and over (the default reply, a rule's reply, a load test's lorem), and the regex
    costs about as much per token as rendering the chunk. At most 32 texts of ≤ 16 KB."""
    if len(text) <= 16384:
        return _cached_tokens(text)
    return tokenize(text)


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _quoted(piece: str) -> bytes:
    return escape(piece).encode()


def quoted(piece: str) -> bytes:
    """``escape(piece)`` as bytes; cached for short pieces (Divergence #2)."""
    if len(piece) <= 64:
        return _quoted(piece)
    return escape(piece).encode()


def token_frames(pieces: Sequence[str], before: list[bytes], after: bytes
                 ) -> list[Frame] | Iterator[Frame]:
    """One token frame per piece: ``before[i] + <piece as JSON> + after`` for each choice i.

    Up to :data:`EAGER_PIECES` pieces, every frame is rendered now, into a list (Divergence
    #3); a longer stream's frames come from an iterator that renders each as it leaves, and a
    piece seen before in it reuses its frame (frames are immutable).
    """
    if len(pieces) > EAGER_PIECES:
        return _lazy_frames(pieces, before, after)
    return [Frame(data, True) for data in token_bytes(pieces, before, after)]


def token_bytes(pieces: Sequence[str], before: list[bytes], after: bytes) -> list[bytes]:
    """The bytes of each token frame, rendered now (Divergence #3): at most
    :data:`EAGER_PIECES` pieces, for a :class:`~sse_mock.dialects.base.Steady` stream."""
    if len(before) == 1:
        # The hot loop of every chat stream, quoted() inlined.
        pre, cached = before[0], _quoted
        return [pre + (cached(p) if len(p) <= 64 else escape(p).encode()) + after
                for p in pieces]
    return [_choices(before, quoted(piece), after) for piece in pieces]


def _choices(before: list[bytes], quoted_piece: bytes, after: bytes) -> bytes:
    """One token's chunk for each of n choices, back to back (Divergence #5 of openai_chat)."""
    return b"".join([pre + quoted_piece + after for pre in before])


def _lazy_frames(pieces: Sequence[str], before: list[bytes], after: bytes) -> Iterator[Frame]:
    cache: dict[str, Frame] = {}
    get = cache.get
    if len(before) == 1:
        # The hot loop of every chat stream: locals only, one dict lookup per token.
        pre = before[0]
        for piece in pieces:
            frame = get(piece)
            if frame is None:
                frame = cache[piece] = Frame(pre + quoted(piece) + after, True)
            yield frame
        return
    for piece in pieces:
        frame = get(piece)
        if frame is None:
            frame = cache[piece] = Frame(_choices(before, quoted(piece), after), True)
        yield frame


class ChatChunks:
    """The envelope of one ``chat.completion.chunk`` stream, rendered once (§2.3: the same
    ``id``, ``created``, ``model`` in every chunk); only the choice in the middle changes.

    ``full(choice)``: a whole chunk with ``system_fingerprint`` (first and last chunks);
    ``lean_before(index)`` / ``lean_after``: the bytes around a middle chunk's delta value
    (Divergence #1).
    """

    __slots__ = ("_full_head", "_lean_head", "_tail")

    def __init__(self, id: str, created: int, model: str, fingerprint: str,
                 usage_null: bool) -> None:
        envelope = (f'data: {{"id":{escape(id)},"object":"chat.completion.chunk",'
                    f'"created":{created},"model":{escape(model)},')
        self._full_head = envelope + f'"system_fingerprint":{escape(fingerprint)},"choices":['
        self._lean_head = (envelope + '"choices":[').encode()
        # §2.4 R4: "usage":null on every chunk but the usage chunk, with include_usage only.
        self._tail = '],"usage":null}\n\n' if usage_null else "]}\n\n"

    def full(self, choices: Sequence[str]) -> bytes:
        """Whole chunks, one per choice object (each a JSON object as text)."""
        head, tail = self._full_head, self._tail
        return "".join(head + c + tail for c in choices).encode()

    def lean_before(self, index: int, delta_key: str) -> bytes:
        """A middle chunk up to its delta value: ``…"choices":[{"index":i,"delta":{<key>:``."""
        return self._lean_head + f'{{"index":{index},"delta":{{{delta_key}:'.encode()

    def lean_after(self, closing: str) -> bytes:
        """A middle chunk after its delta value: `closing` ends the delta."""
        return (closing + ',"finish_reason":null}' + self._tail).encode()
