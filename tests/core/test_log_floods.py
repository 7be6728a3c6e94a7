"""A Redis outage and an idle dispatcher, as beat and a worker log them: a few lines, not
a line per tick and a traceback per failure."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.processes import CeleryWorker, RedisServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TICK = 0.2  # DISPATCH_TICK_SECONDS: five dispatcher ticks a second
OUTAGE = 8  # seconds without Redis: ~40 failed ticks


def _new_lines(process: CeleryWorker, since: int) -> list[str]:
    return process.log().splitlines()[since:]


def test_a_redis_outage_logs_one_warning_when_it_starts_and_one_when_it_ends(
    live_env: dict[str, str],
) -> None:
    with RedisServer() as redis:
        env = {**live_env, "REDIS_URL": redis.url, "DISPATCH_TICK_SECONDS": str(TICK)}
        with CeleryWorker(env, beat=True) as worker:
            time.sleep(3)  # ~15 idle dispatcher ticks, received and run by the worker
            idle = worker.log().splitlines()

            redis.kill(signal.SIGKILL)
            time.sleep(OUTAGE)
            outage = _new_lines(worker, len(idle))

            idle_ticks = [line for line in idle if "dispatch" in line and " INFO " in line]
            assert idle_ticks == [], idle_ticks[:5]
            assert not any("Traceback" in line for line in outage), "\n".join(outage[:40])
            warnings = [line for line in outage if " WARNING " in line or " ERROR " in line]
            assert sum("Broker unreachable" in line for line in warnings) == 1, warnings
            # Besides beat's line: the worker's own "Connection to broker lost" (and the
            # multi-line Celery deprecation notice that comes with it) — a stated margin,
            # not a count per tick (40 failed ticks here).
            assert len(outage) <= 15, "\n".join(outage)

            with RedisServer(port=redis.port):  # Redis is back, on the same port
                wait_until(
                    lambda: "Broker reachable again" in worker.log(), timeout=30, what="back"
                )
                back = len(worker.log().splitlines())
                time.sleep(2)  # ticks flow again
                after_back = _new_lines(worker, back)

    assert sum("Broker reachable again" in line for line in worker.log().splitlines()) == 1
    assert not any("dispatch" in line and " INFO " in line for line in after_back), after_back
