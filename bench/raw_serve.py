"""The floor for ``sse-mock serve`` in bench/load.py: bench/raw_wsgi.py's generator on the very
server ``sse-mock serve`` runs (gevent's WSGI server with sse_mock's handler, sse_mock/serving.py),
with the same logging: ``serve`` prints an access line per request (sse_mock/cli.py ``_listen``),
which was 5 % of its samples at 5,000 paced streams (py-spy), and this floor, whose logging was
left unconfigured, did not.

``python -m bench.raw_serve PORT``
"""

import logging
import sys

from sse_mock.serving import make_server, use_gevent

if __name__ == "__main__":
    if not use_gevent():
        sys.exit("bench/raw_serve.py needs gevent (pip install -e '.[serve]')")
    from bench.raw_wsgi import app

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # as `sse-mock serve`
    make_server("127.0.0.1", int(sys.argv[1]), app, gevent=True).serve_forever()
