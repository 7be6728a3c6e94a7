"""The KuCoin simulator for benchmarks, in a process of its own, holding N bench keys.

``python -m bench._kucoin_sim --users N --port P``: key n is ``bench_credentials(n)``,
holding an XBTUSDTM long (and an ETHUSDTM short for odd n); rate limits off.
"""

from __future__ import annotations

import argparse

from cryptotrack.simulators.kucoin.app import KucoinSimApp
from cryptotrack.simulators.serving import serve_forever


def bench_credentials(n: int) -> tuple[str, str, str]:
    return f"bench-key-{n:06d}", f"bench-secret-{n:06d}", f"pass-{n}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sim = KucoinSimApp(rate_limit=10**9)
    for n in range(args.users):
        key = bench_credentials(n)
        sim.state.add_key(*key)
        sim.state.open_position(key[0], "XBTUSDTM", size=1 + n % 5)
        if n % 2:
            sim.state.open_position(key[0], "ETHUSDTM", side="short", size=2, margin_mode="cross")
    serve_forever(sim.build_app(), port=args.port, name="bench-kucoin-simulator")


if __name__ == "__main__":
    main()
