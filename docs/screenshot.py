"""Make ``docs/_static/demo-chat.png``, the front page's picture of the demo chat streaming.

    python docs/screenshot.py          # needs playwright and Debian's /usr/bin/chromium

It serves ``create_app`` on a free port, asks a question that a rule answers with a tool call
(the page runs the agent round trip), asks another and takes the picture mid-stream.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sse_mock import create_app  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "demo-chat.png"
REPLY = ("Here is what a mocked model says, streamed token by token:\n"
         "- same bytes as the real API\n- faults on demand\n- no API bill")


def main() -> None:
    app = create_app(delay=0.06, reply=REPLY, rules=[
        {"match": {"contains": "weather"},
         "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 760, "height": 720},
                                    device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{server.port}/")
            page.fill("#delay", "0")
            page.fill("#prompt", "What's the weather in Paris?")
            page.click("#send")
            page.wait_for_function("() => !document.getElementById('send').disabled")
            page.fill("#delay", "")
            page.fill("#prompt", "And what are you?")
            page.click("#send")
            page.wait_for_function(
                "() => { const b = document.querySelectorAll('.msg.bot.streaming');"
                " return b.length && b[0].textContent.length > 70; }")
            page.screenshot(path=str(OUT))
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
