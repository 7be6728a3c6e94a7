"""Querysets compiled once by Django, run on the event loop by psycopg's async pool.

For the few reads an ASGI app ahead of Django must make without its request cycle (the
positions read while Redis is down, ``positions.fast_read``): the ORM's price there is
compiling the SQL again for every query and a thread hand-off for every call, several
times what PostgreSQL takes to answer. A :class:`LoopQuery` is a queryset compiled once,
with Django's own compiler: the SQL, and the plan that turns a row into instances
(``select_related`` included), are the ORM's, so the instances are those
``QuerySet.__iter__`` would give. Only the parameters change from call to call: the
queryset is built with sentinel values, and :meth:`LoopQuery.fetch` puts each call's
values where they were, on a connection of the caller's.

:class:`LoopDatabase` holds one connection pool per event loop (a pool belongs to the loop
that made it), opened on first use, with the connection parameters Django's own
connections use (its adapters too: the same Python values come back).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.models.query import get_related_populators
from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool

M = TypeVar("M", bound=models.Model)


class LoopQuery(Generic[M]):
    """``queryset`` compiled once; see the module docstring."""

    def __init__(
        self, queryset: models.QuerySet[M], *, params: dict[str, Any], using: str = "default"
    ) -> None:
        compiler = queryset.query.get_compiler(using=using)
        self.sql, compiled = compiler.as_sql()
        self._params = list(compiled)
        self._slots: dict[str, list[int]] = {}
        for name, sentinel in params.items():
            slots = [i for i, value in enumerate(compiled) if value == sentinel]
            if not slots:
                raise ValueError(f"{name}={sentinel!r} is not a parameter of {self.sql}")
            self._slots[name] = slots
        # As ModelIterable reads a compiled query (django/db/models/query.py).
        klass_info, select = compiler.klass_info, compiler.select
        if klass_info is None or compiler.annotation_col_map:
            raise ValueError("only plain model querysets can be compiled for the loop")
        self.model: type[M] = klass_info["model"]
        fields = klass_info["select_fields"]
        self._start, self._end = fields[0], fields[-1] + 1
        self._attnames = [column[0].target.attname for column in select[self._start : self._end]]
        # Django 5.2's signature (django-stubs follow 6.0, which adds a fetch mode): an
        # internal function, so tests/positions/test_loop_queries.py checks the result.
        self._populators = get_related_populators(klass_info, select, using)  # type: ignore[call-arg]
        self._converters = compiler.get_converters([column[0] for column in select])
        self._compiler = compiler
        self._using = using

    def parameters(self, **values: Any) -> list[Any]:
        """The compiled parameters with ``values`` in their places."""
        params = list(self._params)
        for name, value in values.items():
            for slot in self._slots[name]:
                params[slot] = value
        return params

    def instances(self, rows: Sequence[Sequence[Any]]) -> list[M]:
        """The rows as model instances, as the queryset would have made them."""
        if self._converters:
            rows = list(self._compiler.apply_converters(rows, self._converters))
        made = []
        for row in rows:
            instance = self.model.from_db(self._using, self._attnames, row[self._start : self._end])
            for populator in self._populators:
                populator.populate(row, instance)
            made.append(instance)
        return made

    async def execute(self, connection: AsyncConnection[Any], **values: Any) -> AsyncCursor[Any]:
        """Send the query with these parameter values (in a pipeline, several go at once);
        its rows are the cursor's, for :meth:`instances`."""
        return await connection.execute(self.sql, self.parameters(**values))

    async def fetch(self, connection: AsyncConnection[Any], **values: Any) -> list[M]:
        """The queryset's instances for these parameter values, read on the running loop."""
        cursor = await self.execute(connection, **values)
        return self.instances(await cursor.fetchall())


class LoopDatabase:
    """A psycopg pool per event loop, on the database of Django's ``using`` alias."""

    def __init__(self, *, size: int, timeout: float, using: str = "default") -> None:
        params = connections[using].get_connection_params()
        params.pop("cursor_factory", None)  # Django's sync cursor class; the pool's own here
        self._kwargs = {**params, "autocommit": True}
        self._size, self._timeout = size, timeout
        # By loop: the pool, once open; the task opening it, for callers meanwhile.
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool] = (
            weakref.WeakKeyDictionary()
        )
        self._opening: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[AsyncConnectionPool]
        ] = weakref.WeakKeyDictionary()

    async def pool(self) -> AsyncConnectionPool:
        """The running loop's pool, opened by the first caller (the others wait for it)."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            opening = self._opening.get(loop)
            if opening is None:
                opening = self._opening[loop] = loop.create_task(self._open())
            pool = self._pools[loop] = await opening
        return pool

    async def _open(self) -> AsyncConnectionPool:
        pool = AsyncConnectionPool(
            kwargs=self._kwargs,
            min_size=1,
            max_size=self._size,
            timeout=self._timeout,
            open=False,
            name="loop-queries",
        )
        await pool.open(wait=False)  # its first connection is made in the background
        return pool
