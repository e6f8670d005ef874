"""Where some tables stand, read in one statement: the key under which a page keeps figures it
computed from them, so that the next write to any of them is the next view's figures. Each mark
is a table and an aggregate that every write of the kind that matters moves: a history table's
MAX(history_id), a table's COUNT(*) and MAX(id)."""

from __future__ import annotations

from functools import cache

from django.db import connection, models


@cache
def _statement(marks: tuple[tuple[str, str], ...]) -> str:
    # Written once per set of marks: composing a subquery each through the ORM costs a page view
    # more than the database takes to answer them all.
    qn = connection.ops.quote_name
    return "SELECT " + ", ".join(f"(SELECT {agg} FROM {qn(table)})" for table, agg in marks)


def table_marks(*marks: tuple[type[models.Model], str]) -> str:
    """E.g. table_marks((Ticket, "COUNT(*)"), (Ticket, "MAX(id)")) -> "12:40"."""
    statement = _statement(tuple((model._meta.db_table, agg) for model, agg in marks))
    with connection.cursor() as cursor:
        cursor.execute(statement)
        row = cursor.fetchone()
    return ":".join(map(str, row))
