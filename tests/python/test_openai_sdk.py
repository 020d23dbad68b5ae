"""OpenAI Python SDK compatibility tests against a running Switchyard router.

Environment:
  SWITCHYARD_URL            the router's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (required)
  SWITCHYARD_MODEL          a chat/completions model the router serves (default: sim-model)
  SWITCHYARD_EMBED_MODEL    an embeddings model the router serves
  SWITCHYARD_FAILING_MODEL  a model whose upstream fails in the middle of a stream
  SWITCHYARD_FAILING_URL    base URL for the failing model (default: SWITCHYARD_URL)
  SWITCHYARD_API_KEY        bearer token to send (default: sk-switchyard-test)
  CI                        when set, a missing variable above is a failure, not a skip

Run with tests/python/run.sh. Assertions follow the real OpenAI API and the behaviour of the pinned
openai package (see requirements.txt): for instance, the SDK raises openai.APIError while iterating
a stream when it receives an SSE event `data: {"error": {...}}` (openai/_streaming.py), and maps
HTTP 400/404 to BadRequestError/NotFoundError with `.body` set to the `error` object.
"""

from __future__ import annotations

import math
import os

import httpx
import openai
import pytest

MODEL = os.environ.get("SWITCHYARD_MODEL", "sim-model")
IN_CI = bool(os.environ.get("CI"))
MESSAGES = [{"role": "user", "content": "Say hello in a few words."}]


def require_env(name: str) -> str:
    """The variable's value; if it is missing, fail under CI and skip otherwise."""
    value = os.environ.get(name)
    if value:
        return value
    if IN_CI:
        pytest.fail(f"{name} is not set (required when CI is set)", pytrace=False)
    pytest.skip(f"{name} is not set")


def make_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key=os.environ.get("SWITCHYARD_API_KEY", "sk-switchyard-test"),
        max_retries=0,  # errors must surface as they are, and each test sends what it says
        timeout=60.0,
    )


@pytest.fixture(scope="session")
def base_url() -> str:
    return require_env("SWITCHYARD_URL").rstrip("/")


@pytest.fixture(scope="session")
def client(base_url: str) -> openai.OpenAI:
    c = make_client(base_url)
    yield c
    c.close()


def error_message(body: object) -> str:
    """The `message` of an OpenAI-style error object (the SDK passes body["error"] as `.body`)."""
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), f"error body has no message: {body!r}"
    return message


# ------------------------------------------------------------------------------- models


def test_models_list_contains_model(client: openai.OpenAI) -> None:
    models = list(client.models.list())
    assert models, "GET /models returned no models"
    ids = [m.id for m in models]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert MODEL in ids, f"{MODEL!r} not in {ids}"
    embed = os.environ.get("SWITCHYARD_EMBED_MODEL")
    if embed:
        assert embed in ids, f"{embed!r} not in {ids}"
    for m in models:
        assert m.object == "model", m


# ------------------------------------------------------------------------------- chat


def test_chat_completion(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=16)
    assert r.object == "chat.completion"
    assert isinstance(r.id, str) and r.id
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    u = r.usage
    assert u is not None, "no usage in a non-streamed response"
    assert u.prompt_tokens > 0
    assert u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.prompt_tokens_details is not None, "usage.prompt_tokens_details missing"
    cached = u.prompt_tokens_details.cached_tokens
    assert type(cached) is int, f"cached_tokens is {cached!r}"
    assert 0 <= cached <= u.prompt_tokens


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "the stream had no chunks"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "chunks of one stream carry different ids"

    choice_chunks = [c for c in chunks if c.choices]
    assert choice_chunks, "no chunk carried a choice"
    deltas = [c.choices[0].delta.content for c in choice_chunks if c.choices[0].delta.content]
    assert len(deltas) >= 1, "no content delta"
    assert all(isinstance(d, str) for d in deltas)
    assert choice_chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in choice_chunks[:-1]), \
        "finish_reason set before the last choice chunk"

    last = chunks[-1]
    assert last.choices == [], "the usage chunk must come last, with an empty choices list"
    assert last.usage is not None, "no usage chunk despite stream_options.include_usage"
    assert last.usage.prompt_tokens > 0
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1]), "usage sent before the final chunk"


def test_chat_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=8, stream=True))
    assert chunks
    assert all(c.choices for c in chunks), "a choice-less chunk was sent without include_usage"
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


# ------------------------------------------------------------------------------- completions


def test_completion(client: openai.OpenAI) -> None:
    r = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=8)
    assert r.object == "text_completion"
    assert len(r.choices) == 1
    assert isinstance(r.choices[0].text, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage is not None
    assert r.usage.prompt_tokens > 0
    assert 0 < r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_completion_stream(client: openai.OpenAI) -> None:
    stream = client.completions.create(
        model=MODEL,
        prompt="Once upon a time",
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks
    assert all(c.object == "text_completion" for c in chunks)
    choice_chunks = [c for c in chunks if c.choices]
    texts = [c.choices[0].text for c in choice_chunks if c.choices[0].text]
    assert len(texts) >= 1, "no text in the stream"
    assert choice_chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in choice_chunks[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, "no final usage chunk"
    assert last.usage.prompt_tokens > 0
    assert 0 < last.usage.completion_tokens <= 8


# ------------------------------------------------------------------------------- embeddings


def _check_vectors(r, n: int) -> int:
    assert r.object == "list"
    assert len(r.data) == n, f"{len(r.data)} vectors for {n} inputs"
    assert [d.index for d in r.data] == list(range(n))
    dims = {len(d.embedding) for d in r.data}
    assert len(dims) == 1, f"vectors of different sizes: {dims}"
    dim = dims.pop()
    assert dim > 0
    for d in r.data:
        assert d.object == "embedding"
        assert all(isinstance(x, float) and math.isfinite(x) for x in d.embedding)
    return dim


def test_embeddings_float(client: openai.OpenAI) -> None:
    model = require_env("SWITCHYARD_EMBED_MODEL")
    inputs = ["the quick brown fox", "jumps over", "the lazy dog"]
    r = client.embeddings.create(model=model, input=inputs, encoding_format="float")
    _check_vectors(r, 3)
    assert r.usage is not None and r.usage.prompt_tokens > 0


def test_embeddings_default_encoding_is_base64(client: openai.OpenAI) -> None:
    # Without encoding_format the SDK asks for "base64" and decodes it itself, so a router must
    # pass encoding_format through (or honour it) for plain SDK calls to work.
    model = require_env("SWITCHYARD_EMBED_MODEL")
    r3 = client.embeddings.create(model=model, input=["alpha", "beta", "gamma"])
    dim = _check_vectors(r3, 3)
    r1 = client.embeddings.create(model=model, input="a single string")
    assert _check_vectors(r1, 1) == dim


# ------------------------------------------------------------------------------- errors


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="no-such-model-7f3a", messages=MESSAGES, max_tokens=4)
    err = ei.value
    assert err.status_code == 404
    error_message(err.body)
    assert err.response.headers.get("content-type", "").startswith("application/json")


def test_unknown_model_stream_is_404(client: openai.OpenAI) -> None:
    # The status must be decided before the stream starts: the SDK raises from create().
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="no-such-model-7f3a", messages=MESSAGES, stream=True)
    assert ei.value.status_code == 404
    error_message(ei.value.body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"max_tokens": 4}, id="messages-missing"),
        pytest.param({"messages": None, "max_tokens": 4}, id="messages-null"),
        pytest.param({"messages": "hello", "max_tokens": 4}, id="messages-not-a-list"),
    ],
)
def test_malformed_chat_request_is_400(client: openai.OpenAI, body: dict) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.post("/chat/completions", body={"model": MODEL, **body}, cast_to=object)
    assert ei.value.status_code == 400
    error_message(ei.value.body)


def test_sdk_call_with_messages_none_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=MODEL, messages=None, max_tokens=4)  # type: ignore[arg-type]
    assert ei.value.status_code == 400
    error_message(ei.value.body)


def test_invalid_json_is_400(base_url: str) -> None:
    r = httpx.post(
        f"{base_url}/chat/completions",
        content=b'{"model": "x", "messages": [',
        headers={"content-type": "application/json",
                 "authorization": f"Bearer {os.environ.get('SWITCHYARD_API_KEY', 'sk-switchyard-test')}"},
        timeout=30,
    )
    assert r.status_code == 400, (r.status_code, r.text)
    error_message(r.json().get("error"))


# ------------------------------------------------------------------------------- request ids


def test_request_id_is_echoed(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, max_tokens=4, extra_headers={"x-request-id": "abc123"}
    )
    assert raw.headers.get("x-request-id") == "abc123"
    assert raw.request_id == "abc123"
    completion = raw.parse()
    assert isinstance(completion.choices[0].message.content, str)


def test_request_id_is_echoed_on_streams(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL,
        messages=MESSAGES,
        max_tokens=4,
        stream=True,
        extra_headers={"x-request-id": "abc123-stream"},
    ) as resp:
        assert resp.headers.get("x-request-id") == "abc123-stream"
        assert resp.headers.get("content-type", "").startswith("text/event-stream")
        chunks = list(resp.parse())
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")


# ------------------------------------------------------------------------------- mid-stream failure


def test_midstream_upstream_failure_raises_api_error(base_url: str) -> None:
    model = require_env("SWITCHYARD_FAILING_MODEL")
    client = make_client(os.environ.get("SWITCHYARD_FAILING_URL", base_url).rstrip("/"))
    try:
        try:
            stream = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=64, stream=True)
        except openai.APIStatusError as e:
            pytest.fail(f"the request failed before the stream started ({e.status_code}); "
                        f"{model!r} must fail in the middle of a stream")
        received = []
        with pytest.raises(openai.APIError) as ei:
            for chunk in stream:
                received.append(chunk)
        err = ei.value
        # A router that just closes the connection gives APIConnectionError; one that ends the
        # stream cleanly gives no error at all (pytest.raises fails). Neither tells the client.
        assert not isinstance(err, openai.APIConnectionError), \
            f"the stream was cut without an SSE error event: {err!r}"
        assert not isinstance(err, openai.APIStatusError)
        assert type(err) is openai.APIError
        error_message(err.body)
        assert received, "the error came before any chunk: that is not a mid-stream failure"
        assert any(c.choices and c.choices[0].delta.content for c in received), \
            "no content was streamed before the failure"
    finally:
        client.close()
