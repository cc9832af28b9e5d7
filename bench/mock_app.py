"""Apps the mock benchmark serves beside the mock itself.

- ``bare``: a bare Flask route answering the same page bytes as the mock (the Flask ceiling
  on the same server): ``python -m bench.mock_app bare --port P --body FILE``;
- ``mock_from_env()``: the seeded mock as a WSGI factory, for gunicorn
  (``gunicorn 'bench.mock_app:mock_from_env()'`` with ``BENCH_MOCK_SEED`` and ``BENCH_MOCK_TOKEN``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_app(body: bytes) -> Any:
    from flask import Flask, Response

    app = Flask("bare")

    @app.get("/api/v1/users")
    def users() -> Response:
        return Response(body, mimetype="application/json")

    return app


def mock_from_env() -> Any:
    from mock_solusvm import create_app

    seed = json.loads(Path(os.environ["BENCH_MOCK_SEED"]).read_text())
    return create_app({"API_TOKENS": [os.environ["BENCH_MOCK_TOKEN"]], "SEED": seed})


def main() -> None:
    from mock_solusvm.server import ThreadedServer

    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    server = ThreadedServer(bare_app(args.body.read_bytes()), "127.0.0.1", args.port)
    print(f"bare listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
