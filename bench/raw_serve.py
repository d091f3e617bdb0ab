"""The floor for ``sse-mock serve`` in bench/load.py: bench/raw_wsgi.py's generator on the very
server ``sse-mock serve`` runs (gevent's WSGI server with sse_mock's handler, sse_mock/serving.py).

``python -m bench.raw_serve PORT``
"""

import sys

from sse_mock.serving import make_server, use_gevent

if __name__ == "__main__":
    if not use_gevent():
        sys.exit("bench/raw_serve.py needs gevent (pip install -e '.[serve]')")
    from bench.raw_wsgi import app

    make_server("127.0.0.1", int(sys.argv[1]), app, gevent=True).serve_forever()
