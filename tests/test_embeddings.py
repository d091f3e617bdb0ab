"""Deterministic embeddings (sse_mock/embeddings.py) and OpenAI's /v1/embeddings through the
official SDK (PROTOCOLS.md §2.10). Gemini's and Ollama's are in tests/sdk/test_*_sdk.py."""

from __future__ import annotations

import base64
import json
import math
from array import array
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from conftest import serve
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_mock import create_app
from sse_mock.embeddings import vector, vector_base64, vector_json
from sse_mock.tokens import count_tokens


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=50), dims=st.integers(1, 300), seed=st.integers(-10**6, 10**6))
def test_unit_vectors_deterministic_and_prefix_consistent(text: str, dims: int, seed: int) -> None:
    v = vector(text, dims, seed)
    assert len(v) == dims and v == vector(text, dims, seed)
    assert math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-12)
    assert json.loads(vector_json(text, dims, seed)) == v  # exact round trip (Divergence #2)
    floats = array("f", base64.b64decode(vector_base64(text, dims, seed)))
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(floats, v,
                                                                             strict=True))
    # A shorter vector is the longer one's prefix, renormalized (OpenAI `dimensions`).
    longer = vector(text, dims + 5, seed)
    norm = math.sqrt(math.fsum(x * x for x in longer[:dims]))
    assert all(math.isclose(a, b / norm, rel_tol=1e-9) for a, b in zip(v, longer, strict=False))


def test_texts_and_seeds_give_different_vectors() -> None:
    assert vector("a cat", 64) != vector("a dog", 64)
    assert vector("a cat", 64, seed=1) != vector("a cat", 64, seed=2)
    assert all(x != 0 for x in vector("x", 2048))


# -- OpenAI SDK ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    with serve(create_app(delay=0), "werkzeug") as base:
        c = openai.OpenAI(base_url=base + "/mock/v1", api_key="x", max_retries=0, timeout=10)
        yield c
        c.close()


def test_single_and_batch(client: openai.OpenAI) -> None:
    one = client.embeddings.create(model="text-embedding-3-small", input="a cat")
    assert one.object == "list" and one.model == "text-embedding-3-small"
    assert len(one.data) == 1 and len(one.data[0].embedding) == 1536
    assert one.usage.prompt_tokens == one.usage.total_tokens == count_tokens("a cat") == 2
    batch = client.embeddings.create(model="text-embedding-3-large", input=["a cat", "b", "a cat"])
    assert [d.index for d in batch.data] == [0, 1, 2]
    vectors = [d.embedding for d in batch.data]
    assert [len(v) for v in vectors] == [3072] * 3 and vectors[0] == vectors[2] != vectors[1]
    # openai-python asks for base64 when no format is given and decodes float32 (§2.10).
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
               for a, b in zip(vector("a cat", 3072), vectors[0], strict=True))


def test_dimensions_and_base64(client: openai.OpenAI) -> None:
    short = client.embeddings.create(model="text-embedding-3-small", input="a cat",
                                     dimensions=256)
    assert len(short.data[0].embedding) == 256
    raw = client.embeddings.create(model="text-embedding-3-small", input="a cat",
                                   dimensions=256, encoding_format="base64")
    encoded: Any = raw.data[0].embedding
    assert isinstance(encoded, str)
    floats = array("f", base64.b64decode(encoded))
    assert len(floats) == 256
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(floats, short.data[0].embedding,
                                                                strict=True))


def test_seed_control_changes_vectors_reproducibly(client: openai.OpenAI) -> None:
    def emb(seed: str) -> list[float]:
        return client.embeddings.create(model="text-embedding-3-small", input="a cat",
                                        extra_headers={"X-Mock-Seed": seed}).data[0].embedding
    assert emb("7") == emb("7") != emb("8")


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["x"] * 2049}, "input"),
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "dimensions": 5000}, "dimensions"),
    ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "x", "dimensions": 8, "model": "text-embedding-ada-002"}, "dimensions"),
])
def test_bad_requests(client: openai.OpenAI, kwargs: dict[str, Any], param: str) -> None:
    kwargs.setdefault("model", "text-embedding-3-small")
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(**kwargs)
    assert info.value.body["param"] == param  # type: ignore[index]


def test_faults_and_journal() -> None:
    mw = create_app(delay=0)
    with serve(mw, "werkzeug") as base:
        c = openai.OpenAI(base_url=base + "/mock/v1", api_key="x", max_retries=0, timeout=10)
        with pytest.raises(openai.RateLimitError):
            c.embeddings.create(model="text-embedding-3-small", input="x",
                                extra_headers={"X-Mock-Fault": "rate_limit"})
        c.embeddings.create(model="text-embedding-3-small", input="x")
        c.close()
    entries = mw.journal.entries()
    assert [(e.route, e.status, e.outcome) for e in entries] == [
        ("openai-embeddings", 429, "fault"), ("openai-embeddings", 200, "completed")]


def test_big_answers_leave_vector_by_vector(client: openai.OpenAI) -> None:
    """300 x 4,096 components: chunked, one vector per chunk (bounded memory), still one JSON."""
    from werkzeug.test import Client

    texts = [f"chunk {i}" for i in range(300)]
    resp = Client(create_app(delay=0)).post(
        "/mock/v1/embeddings", json={"model": "text-embedding-3-large", "input": texts,
                                     "dimensions": 4096, "encoding_format": "float"})
    try:
        assert "Content-Length" not in resp.headers
        assert resp.headers["Content-Type"] == "application/json"
        sizes = []
        body = b""
        for chunk in resp.response:
            sizes.append(len(chunk))
            body += chunk
    finally:
        resp.close()
    assert len(sizes) == 302 and max(sizes) < 120_000
    assert [d["index"] for d in json.loads(body)["data"]] == list(range(300))
    out = client.embeddings.create(model="text-embedding-3-large", input=texts, dimensions=4096,
                                   encoding_format="base64")  # over a socket, chunked
    encoded: Any = out.data[5].embedding
    assert len(out.data) == 300 and encoded == vector_base64("chunk 5", 4096)
