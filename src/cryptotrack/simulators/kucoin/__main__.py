"""Run the KuCoin simulator: ``python -m cryptotrack.simulators.kucoin --help``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cryptotrack.simulators.kucoin.app import KucoinSimApp
from cryptotrack.simulators.kucoin.keystore import KeyStore
from cryptotrack.simulators.serving import serve_forever


def _key(value: str) -> tuple[str, str, str]:
    parts = value.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("expected KEY:SECRET:PASSPHRASE")
    return parts[0], parts[1], parts[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cryptotrack.simulators.kucoin",
        description="KuCoin spot+futures API simulator (both base URLs on one port).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument(
        "--key",
        type=_key,
        action="append",
        default=[],
        metavar="KEY:SECRET:PASSPHRASE",
        help="create a key holding demo positions and balances (repeatable)",
    )
    parser.add_argument(
        "--permissions",
        default="General,Futures",
        help="comma-separated permissions of the --key keys (default: General,Futures)",
    )
    parser.add_argument(
        "--empty", action="store_true", help="create --key keys without demo holdings"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="quota per pool per window (default VIP0)"
    )
    parser.add_argument("--rate-window", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--clock-offset-ms", type=int, default=0)
    parser.add_argument(
        "--drift",
        nargs="?",
        type=float,
        const=0.0005,
        default=0.0,
        help="move mark prices randomly (relative std-dev per tick, default 0.0005)",
    )
    parser.add_argument("--drift-interval", type=float, default=1.0)
    parser.add_argument(
        "--keys-file",
        type=Path,
        default=None,
        help="keep keys registered through /_sim/keys in this JSON file, and register "
        "them again at start (make run: var/kucoin-simulator-keys.json)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-uvloop", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sim = KucoinSimApp(
        rate_limit=args.rate_limit,
        rate_limit_window=args.rate_window,
        clock_offset_ms=args.clock_offset_ms,
        drift=args.drift,
        drift_interval=args.drift_interval,
        seed=args.seed,
        key_store=KeyStore(args.keys_file) if args.keys_file else None,
    )
    if sim.key_store is not None:
        for body in sim.key_store.load():
            sim.register_key(body)
    permissions = [p.strip() for p in args.permissions.split(",") if p.strip()]
    for api_key, secret, passphrase in args.key:
        sim.state.add_key(api_key, secret, passphrase, permissions=permissions)
        if not args.empty:
            sim.state.add_demo_holdings(api_key)
    serve_forever(
        sim.build_app(),
        host=args.host,
        port=args.port,
        name="kucoin-simulator",
        use_uvloop=not args.no_uvloop,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
