"""Nothing is silent (issue 12.10): the 404 a misdirected SDK gets names the mock's prefix and the
route it meant; a refused CORS origin is logged once at WARNING with the key that would allow
it; a mistyped fault name gets "did you mean"."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from conftest import serve
from werkzeug.test import Client

from sse_mock import ConfigError, create_app
from sse_mock.testing import read_events


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(create_app(delay=0), "werkzeug") as url:
        yield url


def test_openai_sdk_without_the_prefix_is_told_where_the_mock_is(base: str) -> None:
    with openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0) as client, \
            pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": "Hi"}])
    message = str(info.value)
    assert "under the prefix /mock" in message
    assert "Did you mean /mock/v1/chat/completions?" in message
    assert f'base_url=\\"{base}/mock/v1\\"' in message or f'base_url="{base}/mock/v1"' in message


def test_anthropic_sdk_without_the_prefix_is_told_where_the_mock_is(base: str) -> None:
    with anthropic.Anthropic(base_url=base, api_key="x", max_retries=0) as client, \
            pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert "Did you mean /mock/v1/messages?" in str(info.value)


def test_the_demo_page_gets_no_favicon_404() -> None:
    assert Client(create_app()).get("/favicon.ico").status_code == 204


def test_a_refused_origin_is_logged_once_with_the_key(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(create_app(delay=0, cors={"origins": ["http://localhost:5173"]}))
    with caplog.at_level(logging.WARNING, logger="sse_mock"):
        for _ in range(3):
            r = client.get("/mock/stream", headers={"Origin": "http://localhost:3000"})
            assert "Access-Control-Allow-Origin" not in r.headers
            r.close()
        client.get("/mock/stream", headers={"Origin": "http://localhost:5173"}).close()
        client.get("/mock/stream", headers={"Origin": "http://127.0.0.1:8000",
                                            "Host": "127.0.0.1:8000"}).close()  # same origin
        client.get("/mock/stream", headers={"Origin": "null"}).close()
    refused = [r for r in caplog.records if "refused CORS" in r.getMessage()]
    assert [r.levelno for r in refused] == [logging.WARNING, logging.WARNING]
    assert "http://localhost:3000" in refused[0].getMessage()
    assert "cors.origins" in refused[0].getMessage()
    assert "cors.allow_null_origin" in refused[1].getMessage()


def test_refused_origins_logged_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(create_app(delay=0, cors={"origins": ["http://localhost:5173"]}))
    with caplog.at_level(logging.WARNING, logger="sse_mock"):
        for i in range(200):
            client.get("/mock/stream?reply=x", headers={"Origin": f"http://a{i}.test"}).close()
    assert 60 < len([r for r in caplog.records if "refused" in r.getMessage()]) < 70


@pytest.mark.parametrize(("fault", "hint"), [
    ("rate_limits", "did you mean 'rate_limit'?"),
    ("disconect_after:3", "did you mean 'disconnect_after'?"),
    ("timout:1", "did you mean 'timeout'?"),
])
def test_a_mistyped_fault_gets_did_you_mean(fault: str, hint: str) -> None:
    with pytest.raises(ConfigError, match="did you mean"):
        create_app(rules=[{"fault": fault}])
    with pytest.raises(ConfigError) as info:
        create_app(chaos={fault: 0.1})
    assert hint in str(info.value)
    r = Client(create_app(delay=0)).get("/mock/stream?fault=" + fault)
    assert r.status_code == 400 and hint in r.get_data(as_text=True)


# -- README snippets run as pasted (issue 12.9) ---------------------------------------------------


def readme_block(language: str, containing: str) -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return next(b for b in re.findall(rf"```{language}\n(.*?)```", text, re.S) if containing in b)


def test_readme_flask_snippet_runs_as_pasted() -> None:
    namespace: dict[str, Any] = {"__name__": "readme_flask"}
    exec(readme_block("python", "SSEMock(app)"), namespace)
    app = namespace["app"]
    app.config.update(TESTING=True)
    with app.test_client() as client:
        events = read_events(client.get("/mock/stream?delay=0&reply=it+works"))
    assert [e.data for e in events] == ["it", "works", "[DONE]"]


def test_readme_pyramid_ini_runs_as_pasted(tmp_path: Path) -> None:
    from paste.deploy.loadwsgi import NicerConfigParser
    from pyramid.config import Configurator
    from webtest import TestApp

    ini = tmp_path / "development.ini"
    ini.write_text(readme_block("ini", "sse_mock.pyramid"))
    parser = NicerConfigParser(str(ini))
    parser.read(str(ini))
    settings = dict(parser.items("app:main"))
    with Configurator(settings=settings) as config:  # as main() does: it reads pyramid.includes
        app = TestApp(config.make_wsgi_app())
    assert app.get("/mock/stream?delay=0").content_type == "text/event-stream"


def test_a_provider_path_without_the_prefix_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flask import Flask

    app = Flask(__name__)
    app.config.update(TESTING=True)
    from sse_mock.flask import SSEMock

    SSEMock(app)
    with caplog.at_level(logging.WARNING, logger="sse_mock"), app.test_client() as client:
        for _ in range(2):
            assert client.post("/v1/chat/completions", json={}).status_code == 404  # Flask's
        assert client.get("/v1/nothing-of-ours").status_code == 404
    lines = [r.getMessage() for r in caplog.records if "went to the application" in r.getMessage()]
    assert len(lines) == 1
    assert "/v1/chat/completions" in lines[0] and "/mock/v1/chat/completions" in lines[0]
