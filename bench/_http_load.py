"""An HTTP/1.1 load client (asyncio + uvloop) over ``--connections`` keep-alive
connections. Closed loop by default: each connection sends its next request as soon as
the previous answer is read. With ``--rate R``, open loop: request *i* is due at
``i / R`` seconds, sent by whichever connection is free, and its latency counts from
when it was due — a server (or client) that falls behind shows it in the latencies
instead of quietly being offered less.

    python -m bench._http_load --port P --path /healthz --tokens FILE --connections 32 \
        --warmup 1 --duration 5 [--rate 500]

Each connection cycles through the tokens (one per line; none: no Authorization
header) from its own offset, so the requests spread over many users. Prints one JSON
line: answers counted in the measured window (and in all, warm-up included), answers by
status, and the latency of every counted answer in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench._http_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--tokens", type=Path)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s offered; 0: closed")
    return parser.parse_args(argv)


async def read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    return status


class Schedule:
    """When each request should be sent: at once (closed loop) or every ``1/rate`` s."""

    def __init__(self, rate: float, origin: float) -> None:
        self.rate, self.origin, self.next = rate, origin, 0

    async def wait_for_next(self) -> float:
        """Wait until the next request is due; return when it was due."""
        if not self.rate:
            return time.perf_counter()
        due = self.origin + self.next / self.rate
        self.next += 1
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        return due


async def connection(
    args: argparse.Namespace,
    requests: list[bytes],
    offset: int,
    window: tuple[float, float],
    schedule: Schedule,
    latencies: list[float],
    statuses: Counter[int],
    total: list[int],
    last: list[float],
) -> None:
    reader, writer = await asyncio.open_connection(args.host, args.port)
    start, end = window
    n = offset
    try:
        while (due := await schedule.wait_for_next()) < end:
            writer.write(requests[n % len(requests)])
            n += 1
            status = await read_answer(reader)
            done = time.perf_counter()
            total[0] += 1
            if start <= due:
                latencies.append(done - due)
                statuses[status] += 1
                last[0] = max(last[0], done)
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> dict[str, object]:
    tokens = args.tokens.read_text().split() if args.tokens else [""]
    requests = [
        (
            f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "\r\n"
        ).encode()
        for token in tokens
    ]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    total = [0]
    last = [0.0]  # when the last counted answer came in
    origin = time.perf_counter()
    start = origin + args.warmup
    window = (start, start + args.duration)
    schedule = Schedule(args.rate, origin)
    step = max(1, len(requests) // args.connections)
    await asyncio.gather(
        *(
            connection(args, requests, i * step, window, schedule, latencies, statuses, total, last)
            for i in range(args.connections)
        )
    )
    return {
        "answers": sum(statuses.values()),
        "answers_total": total[0],
        # Open loop: the requests due in the window may be answered well after it, when
        # the server is behind; the rate achieved counts to the last answer.
        "seconds": max(args.duration, last[0] - start),
        "statuses": {str(k): v for k, v in statuses.items()},
        "latencies": latencies,
    }


def main() -> None:
    import uvloop

    print(json.dumps(uvloop.run(run(parse_args()))), flush=True)


if __name__ == "__main__":
    main()
