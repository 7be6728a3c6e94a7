"""The dispatcher's tick has a queue of its own: it never waits behind poll batches."""

from __future__ import annotations

from cryptotrack.celery import app, dispatch_queue
from cryptotrack.positions.tasks import dispatch_due_subscriptions, poll_subscriptions


def test_dispatcher_and_poll_batches_each_land_on_their_own_queue() -> None:
    default = app.conf.task_default_queue
    queues = (default, dispatch_queue(default))
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue(channel).declare()  # bound as a worker binds them at its start
        redis = channel.client
        before = [redis.llen(name) for name in queues]

        poll_subscriptions.apply_async(args=([],))
        dispatch_due_subscriptions.apply_async()

        added = [redis.llen(name) - count for name, count in zip(queues, before, strict=True)]
        for name, count in zip(queues, added, strict=True):
            for _ in range(count):
                redis.lpop(name)  # ours are the newest (kombu pushes left, workers pop right)

    assert added == [1, 1]


def test_each_consumed_queue_is_bound_by_its_own_name() -> None:
    """Bound with the default queue's key, the dispatch queue would get every poll batch."""
    bindings = {queue.name: queue.routing_key for queue in app.amqp.queues.values()}

    default = app.conf.task_default_queue
    assert bindings == {default: default, dispatch_queue(default): dispatch_queue(default)}
