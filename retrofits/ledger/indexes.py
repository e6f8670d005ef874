"""Populating a table the way PostgreSQL's manual advises: without its indexes and constraints,
built and checked once at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def rebuilt_indexes(tables: list[str], *, foreign_keys: bool = True) -> Iterator[None]:
    """Drop the tables' secondary indexes, unique and foreign-key constraints, run the block, then
    create them again from their own definitions: each index is built by one sort and each foreign
    key checked by one join. Without `foreign_keys`, the foreign keys stay (the writer checks its
    rows' keys itself: store.LedgerStore.own_foreign_keys). PostgreSQL only; must run inside the
    transaction that writes, which the block may mark for rollback instead."""
    kinds = ["u", "f"] if foreign_keys else ["u"]
    with connection.cursor() as cursor:
        # Deferred checks still pending on these tables would forbid ALTER TABLE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype = ANY(%s) "
            "ORDER BY contype DESC",  # unique constraints first: a foreign key may lean on one
            [tables, kinds],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
            "AND c.conrelid = i.indrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        # Each batch in one round trip: a thread waiting for its next statement waits for Python.
        cursor.execute(
            ";".join(
                [
                    f"ALTER TABLE {table} DROP CONSTRAINT {name}"
                    for table, name, _ in reversed(constraints)
                ]
                + [f"DROP INDEX {name}" for name, _ in indexes]
            )
        )
    yield
    if transaction.get_rollback():
        return  # nothing the block wrote is kept, and the rollback brings all this back
    with connection.cursor() as cursor:
        cursor.execute(
            ";".join(
                [definition for _, definition in indexes]
                + [
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
                    for table, name, definition in constraints
                ]
            )
        )
