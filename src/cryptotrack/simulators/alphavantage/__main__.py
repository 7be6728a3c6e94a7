"""``python -m cryptotrack.simulators.alphavantage --port N``: serve it in the foreground.

Prints ``alphavantage simulator listening on http://host:port`` once bound (``--port 0``
picks a free port); the endpoint is that URL plus ``/query``. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cryptotrack.simulators.alphavantage.app import MALFORMED_BODY, build_app
from cryptotrack.simulators.alphavantage.state import AlphaVantageState
from cryptotrack.simulators.faults import FaultInjector
from cryptotrack.simulators.serving import serve_forever


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m cryptotrack.simulators.alphavantage")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accept only this key (repeatable); default: any non-empty key",
    )
    parser.add_argument("--per-minute", type=int, default=None, help="calls per key per minute")
    parser.add_argument("--per-day", type=int, default=None, help="calls per key per UTC day")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rates' random walk")
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument("--volatility", type=float, default=0.0005)
    parser.add_argument("--no-bid-ask", action="store_true", help="answer the older 7-field shape")
    args = parser.parse_args(argv)
    state = AlphaVantageState(
        seed=args.seed,
        step_seconds=args.step_seconds,
        volatility=args.volatility,
        api_keys=args.api_keys,
        per_minute=args.per_minute,
        per_day=args.per_day,
    )
    app = build_app(
        state,
        injector=FaultInjector(malformed_body=MALFORMED_BODY),
        include_bid_ask=not args.no_bid_ask,
    )
    serve_forever(app, host=args.host, port=args.port, name="alphavantage simulator")


if __name__ == "__main__":
    main()
