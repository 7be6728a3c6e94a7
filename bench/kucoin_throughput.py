"""Measure the KuCoin simulator's throughput on loopback, or our client's CPU per request.

``python -m bench kucoin_throughput -- [--seconds 5] [--concurrency 32] [--keys 50]
[--client kucoin|aiohttp|poller] [--batch 100]`` starts the simulator as a
subprocess (uvloop, rate limits raised), gives each of ``--keys`` keys the demo portfolio
(two positions), and fires signed ``GET /api/v1/positions`` for ``--seconds`` from one load
process. With ``--client aiohttp`` the load generator signs inline and uses aiohttp
(measures the simulator); with ``--client kucoin`` it uses one :class:`KucoinClient`
(measures the client + simulator); ``--client poller`` mimics the position poller: one
``asyncio.run`` per batch of ``--batch`` calls, a fresh client per batch, ``--concurrency``
in flight. Prints requests per second and the load process's CPU seconds per 1000 requests.

It lives here, not beside the simulator, because it drives the production client: the
simulators share no code with the clients they referee.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import subprocess
import sys
import time

import aiohttp

from cryptotrack.exchanges.kucoin import KucoinClient, KucoinCredentials

SECRET, PASSPHRASE = "bench-secret", "bench-pass"


def _headers(key: str) -> dict[str, str]:
    ts = str(int(time.time() * 1000))
    prehash = f"{ts}GET/api/v1/positions".encode()
    return {
        "KC-API-KEY": key,
        "KC-API-SIGN": base64.b64encode(
            hmac.new(SECRET.encode(), prehash, hashlib.sha256).digest()
        ).decode(),
        "KC-API-TIMESTAMP": ts,
        "KC-API-PASSPHRASE": base64.b64encode(
            hmac.new(SECRET.encode(), PASSPHRASE.encode(), hashlib.sha256).digest()
        ).decode(),
        "KC-API-KEY-VERSION": "2",
    }


async def _load(url: str, args: argparse.Namespace) -> int:
    done = 0
    deadline = time.monotonic() + args.seconds

    if args.client == "aiohttp":
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def raw_worker(n: int) -> None:
                nonlocal done
                key = f"bench-{n % args.keys}"
                while time.monotonic() < deadline:
                    async with session.get(url + "/api/v1/positions", headers=_headers(key)) as r:
                        body = await r.json()
                        if r.status != 200 or len(body["data"]) != 2:
                            raise RuntimeError(f"unexpected answer {r.status}: {body}")
                    done += 1

            await asyncio.gather(*(raw_worker(n) for n in range(args.concurrency)))
        return done

    async with KucoinClient(spot_url=url, futures_url=url, timeout=5) as client:

        async def client_worker(n: int) -> None:
            nonlocal done
            credentials = KucoinCredentials(f"bench-{n % args.keys}", SECRET, PASSPHRASE)
            while time.monotonic() < deadline:
                if len(await client.futures_positions(credentials)) != 2:
                    raise RuntimeError("expected the two demo positions")
                done += 1

        await asyncio.gather(*(client_worker(n) for n in range(args.concurrency)))
    return done


def _poll_batches(url: str, args: argparse.Namespace) -> int:
    """Like ``positions.polling``: a loop and a client per batch, ``concurrency`` in flight."""

    async def batch(first: int) -> None:
        limit = asyncio.Semaphore(args.concurrency)
        async with KucoinClient(
            spot_url=url,
            futures_url=url,
            timeout=5,
            max_attempts=2,
            max_connections=args.concurrency,
        ) as client:

            async def poll(n: int) -> None:
                credentials = KucoinCredentials(f"bench-{n % args.keys}", SECRET, PASSPHRASE)
                async with limit:
                    if len(await client.futures_positions(credentials)) != 2:
                        raise RuntimeError("expected the two demo positions")

            await asyncio.gather(*(poll(first + n) for n in range(args.batch)))

    done = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        asyncio.run(batch(done))
        done += args.batch
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench kucoin_throughput --")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--client", choices=["aiohttp", "kucoin", "poller"], default="aiohttp")
    parser.add_argument("--batch", type=int, default=100, help="calls per batch (poller)")
    args = parser.parse_args(argv)

    command = [sys.executable, "-m", "cryptotrack.simulators.kucoin", "--port", "0"]
    command += ["--rate-limit", "1000000000"]
    for n in range(args.keys):
        command += ["--key", f"bench-{n}:{SECRET}:{PASSPHRASE}"]
    simulator = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert simulator.stdout is not None
        url = simulator.stdout.readline().rsplit(" ", 1)[-1].strip()
        started, cpu_started = time.monotonic(), time.process_time()
        done = (
            _poll_batches(url, args) if args.client == "poller" else asyncio.run(_load(url, args))
        )
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    print(
        f"{done / elapsed:,.0f} signed GET /api/v1/positions per second, "
        f"{cpu / done * 1000:.3f} CPU s per 1000 in the load process "
        f"({args.client} load, {args.concurrency} concurrent, {args.keys} keys, "
        "2 positions each)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
