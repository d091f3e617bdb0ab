"""The mock inside Django's own tests: ``python manage.py test mysite``.

Django's test runner sets ``DEBUG = False``, so the tests turn the mock on with
``SSE_MOCK_ENABLED``. The test client and the live servers both go through ``MIDDLEWARE``, where
``sse_mock.django.Middleware`` answers (a ``wsgi.py`` wrap would reach neither).
"""

import json
import urllib.request

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import LiveServerTestCase, SimpleTestCase, override_settings

from sse_mock.testing import read_events

REPLY = "Hello from the Django example! This reply is mocked."
ON = override_settings(SSE_MOCK_ENABLED=True, SSE_MOCK_DELAY=0)


@ON
class TestClient(SimpleTestCase):
    def test_the_test_client_streams_the_mock(self) -> None:
        response = self.client.get("/mock/stream")
        self.assertEqual(response["Content-Type"], "text/event-stream; charset=utf-8")
        events = read_events(response)
        self.assertEqual([e.data for e in events], [*REPLY.split(), "[DONE]"])

    def test_an_openai_request_through_the_test_client(self) -> None:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        response = self.client.post("/mock/v1/chat/completions", body,
                                    content_type="application/json")
        self.assertEqual(response.json()["choices"][0]["message"]["content"], REPLY)

    def test_the_project_still_routes(self) -> None:
        self.assertEqual(self.client.get("/hello/").json(), {"hello": "from Django"})


def fetch_events(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


@ON
class LiveServer(LiveServerTestCase):
    databases: set[str] = set()

    def test_the_live_server_streams_the_mock(self) -> None:
        self.assertEqual(fetch_events(self.live_server_url + "/mock/stream?reply=live+one"),
                         ["live", "one", "[DONE]"])


@ON
class StaticLiveServer(StaticLiveServerTestCase):
    databases: set[str] = set()

    def test_the_static_live_server_streams_the_mock(self) -> None:
        self.assertEqual(fetch_events(self.live_server_url + "/mock/stream?reply=static+two"),
                         ["static", "two", "[DONE]"])
        body = json.dumps({"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": "Hi"}]}).encode()
        request = urllib.request.Request(self.live_server_url + "/mock/v1/chat/completions",
                                         body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            self.assertEqual(json.load(r)["choices"][0]["message"]["content"], REPLY)
