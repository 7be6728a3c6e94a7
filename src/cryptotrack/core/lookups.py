"""``field__any_of=[...]``: ``IN``, as one array parameter on PostgreSQL.

``field__in=ids`` writes a placeholder per value: for a flush of a thousand polled
accounts, Django prepares a thousand parameters and psycopg parses a query thousands of
characters long — for each of the flush's ten such queries, every second (11 % of a
tracking worker's CPU at 40,000 users, by py-spy). ``field = ANY(%s)`` with the values as
one array is the same condition to PostgreSQL, and its text is the same whatever the
list's length. Other databases (SQLite, the embedded default) get Django's ``IN``.

Registered on every field in ``CoreConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(In):
    lookup_name = "any_of"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        if self.rhs_is_direct_value():
            lhs, lhs_params = self.process_lhs(compiler, connection)
            field = self.lhs.output_field
            # As In.process_rhs: no None (it matches nothing), each value once.
            values = [
                field.get_db_prep_value(value, connection, prepared=True)
                for value in dict.fromkeys(self.rhs)
                if value is not None
            ]
            if not values:
                raise EmptyResultSet
            cast = field.cast_db_type(connection)
            return f"{lhs} = ANY(%s::{cast}[])", (*lhs_params, values)
        return self.as_sql(compiler, connection)  # a subquery: Django's IN (SELECT ...)
