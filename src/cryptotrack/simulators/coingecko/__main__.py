"""``python -m cryptotrack.simulators.coingecko --port N``: serve it in the foreground.

Prints ``coingecko simulator listening on http://host:port`` once bound (``--port 0`` picks
a free port); the API base is that URL plus ``/api/v3``. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cryptotrack.simulators.coingecko.app import MALFORMED_BODY, build_app
from cryptotrack.simulators.coingecko.state import CoinGeckoState
from cryptotrack.simulators.faults import FaultInjector
from cryptotrack.simulators.serving import serve_forever


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m cryptotrack.simulators.coingecko")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="require this key (repeatable); default: any key or none",
    )
    parser.add_argument("--per-minute", type=int, default=None, help="calls per caller per minute")
    args = parser.parse_args(argv)
    state = CoinGeckoState(api_keys=args.api_keys, per_minute=args.per_minute)
    app = build_app(state, injector=FaultInjector(malformed_body=MALFORMED_BODY))
    serve_forever(app, host=args.host, port=args.port, name="coingecko simulator")


if __name__ == "__main__":
    main()
