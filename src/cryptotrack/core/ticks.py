"""Periodic work without log floods: beat's scheduler and a filter for the workers' lines.

Beat ticks the positions dispatcher every second. Left to Celery, that is three INFO lines
a second while there is nothing to do (beat's "Sending due task", the worker's "received"
and "succeeded"), and during a broker outage beat logs every failed tick with two
tracebacks — thousands of lines for half a minute without Redis. Here:

- :class:`QuietScheduler` (``CELERY_BEAT_SCHEDULER``) sends the ticks of
  :data:`QUIET_TASKS` at DEBUG, and turns a broker outage into one WARNING when it starts
  and one when the broker answers again;
- :class:`QuietTicksFilter` (on the log handler) moves the worker's "received" /
  "succeeded" / "Discarding revoked" (expired) lines of those tasks to DEBUG, and its
  repeated "Cannot connect … Trying again" lines during an outage too (its one
  "Connection to broker lost" WARNING stays).

What a dispatcher tick did is still logged when it did something: "dispatched N
subscription(s)" at INFO (``positions/dispatch.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry, SchedulingError
from celery.worker.consumer.consumer import CONNECTION_ERROR  # type: ignore[attr-defined]
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# Tasks beat runs every few seconds whose every run is not news.
QUIET_TASKS = frozenset({"cryptotrack.positions.tasks.dispatch_due_subscriptions"})
_BROKER_DOWN_ERRORS = (OperationalError, ConnectionError, OSError)


def _broker_unreachable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, _BROKER_DOWN_ERRORS)


class QuietScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, logging as the module docstring says."""

    broker_down = False

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        level = logging.DEBUG if entry.task in QUIET_TASKS else logging.INFO
        logger.log(level, "Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except SchedulingError as exc:
            if not _broker_unreachable(exc):
                logger.exception("Could not send the scheduled task %s", entry.name)
            elif not self.broker_down:
                self.broker_down = True
                logger.warning(
                    "Broker unreachable (%s): scheduled tasks are not sent until it answers",
                    exc.__cause__ or exc.__context__,
                )
            return
        if self.broker_down:
            self.broker_down = False
            logger.warning("Broker reachable again: scheduled tasks are sent")


class QuietTicksFilter(logging.Filter):
    """Moves a worker's routine lines (see the module docstring) to DEBUG."""

    _ROUTINE_LOGGERS = frozenset({"celery.worker.strategy", "celery.app.trace"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name in self._ROUTINE_LOGGERS:
            data = getattr(record, "data", None)
            if isinstance(data, dict) and data.get("name") in QUIET_TASKS:
                return self._demote(record)
        if (
            record.name == "celery.worker.request"
            and record.levelno < logging.WARNING
            and isinstance(record.args, tuple)
            and record.args[:1] in {(name,) for name in QUIET_TASKS}
        ):
            # "Discarding revoked task": a tick that expired in the queue (the next one
            # supersedes it: it expires after two ticks by design, celery.py).
            return self._demote(record)
        if record.name == "celery.worker.consumer.consumer" and record.msg == CONNECTION_ERROR:
            return self._demote(record)
        return True

    @staticmethod
    def _demote(record: logging.LogRecord) -> bool:
        """DEBUG from now on: kept only where DEBUG is logged."""
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
