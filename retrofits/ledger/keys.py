"""The store's own check of the household tables' foreign keys, in place of PostgreSQL's triggers
for its transaction (store.LedgerStore, which this mixes into)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError

if TYPE_CHECKING:
    from retrofits.ledger.store import CheckedRow


class OwnForeignKeys:
    """What LedgerStore gives it: the household tables, the columns of a checked row (after its
    sheet row number), the ids its rows refer to at each position that is a foreign key, the
    importing user, and the store's one way to run SQL."""

    postgres: bool
    tables: list[str]
    columns: list[str]
    user_id: int | None
    # Each key this import checks: its table and column, the referenced table.column, and where a
    # checked row holds it (None for the importing user).
    foreign_keys: list[tuple[str, str, str, int | None]]
    referenced: dict[int, set[int | None]]
    held: dict[str, set[int | None]]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def own_foreign_keys(self) -> bool:
        """Whether this import checks the household tables' foreign keys itself, for its own
        transaction: PostgreSQL fires a trigger for each key of each row written (seven a new
        household, two fifths of a city's regular import), where one statement a key checks a
        chunk (hold_references). It asks the database not to fire the tables' triggers
        (session_replication_role, a superuser's setting, reset when the transaction ends), and
        only where the keys' triggers are all the tables have and every key is one it knows;
        elsewhere the triggers check the rows as ever."""
        if not self.postgres or self.execute("SHOW is_superuser").fetchone()[0] != "on":
            return False
        tables = self.tables
        (others,) = self.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) "
            "AND NOT tgisinternal",
            [tables],
        ).fetchone()
        keys = self.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, r.attname,"
            " cardinality(c.conkey) FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1] "
            "WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])",
            [tables],
        ).fetchall()
        by_user = {"created_by_id", "updated_by_id", "history_user_id"}
        found: list[tuple[str, str, str, int | None]] = []
        for table, column, referenced, key, width in keys:
            if width != 1 or not (column in self.columns or column in by_user):
                return False  # a key this import does not know how to check
            at = 1 + self.columns.index(column) if column in self.columns else None
            if at is not None and at not in self.referenced:
                return False
            found.append((table, column, f"{referenced}.{key}", at))
        if others:
            return False
        self.foreign_keys = found
        self.execute("SET LOCAL session_replication_role = replica")
        return True

    def note_references(self, rows: list[CheckedRow]) -> None:
        """Keep the ids these rows refer to, for hold_references()."""
        for at in self.referenced:
            self.referenced[at].update(map(operator.itemgetter(at), rows))

    def hold_references(self) -> None:
        """What each foreign key's trigger would do for the rows noted (note_references), a
        statement a key: take a key-share lock on each row they refer to, which no other
        transaction may then delete or renumber until this one ends, and fail if one is missing,
        as the triggers would. Only where own_foreign_keys() turned the triggers off."""
        for table, column, referenced, at in self.foreign_keys:
            wanted = set(self.referenced[at]) if at is not None else {self.user_id}
            held = self.held.setdefault(referenced, set())
            wanted -= held
            wanted.discard(None)
            if not wanted:
                continue
            name, key = referenced.rsplit(".", 1)
            found = self.execute(
                f"SELECT {key} FROM {name} WHERE {key} = ANY(%s) FOR KEY SHARE", [list(wanted)]
            ).fetchall()
            if len(found) != len(wanted):
                raise IntegrityError(f"{table}.{column} refers to rows of {name} that do not exist")
            held |= wanted

    def triggers_back(self) -> None:
        """The tables' triggers again, after own_foreign_keys() turned them off for the writes."""
        if self.foreign_keys:
            self.execute("SET LOCAL session_replication_role = origin")
