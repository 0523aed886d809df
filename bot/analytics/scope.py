"""The time range and channel that every metric and process query is restricted to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement


@dataclass(frozen=True)
class Scope:
    """Conversations that started from `since` to `until` (both days included, UTC) on `channel`."""

    since: date | None = None
    until: date | None = None
    channel: str | None = None

    def where(self, table: Table) -> list[ColumnElement[Any]]:
        """Conditions on a table that has the `day` and `channel` columns of analytics."""
        conditions = []
        if self.since is not None:
            conditions.append(table.c.day >= self.since)
        if self.until is not None:
            conditions.append(table.c.day <= self.until)
        if self.channel:
            conditions.append(table.c.channel == self.channel)
        return conditions
