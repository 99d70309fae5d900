"""Reservations: which annotator holds which item of a project, and until when.

Every function here runs inside a transaction its caller opened, so a grant and
the label check it depends on see the same database state. Nothing here knows
what a project is beyond its id.
"""

from __future__ import annotations

from collections.abc import Container, Iterable

import pandas as pd
from sqlalchemy import insert, select, update

from .schema import reservations

SQLITE_MAX_PARAMETERS = 500
"""Item ids per ``IN (...)`` clause: SQLite caps the parameters of one statement."""


class Reservations:
    """The reservation rows of one project.

    A hold ends at ``released_at`` or at ``expires_at``, whichever comes first;
    rows are kept after release as a record of who held which item when.
    """

    def __init__(self, project_id: int):
        self.project_id = project_id

    def _rows(self):
        return reservations.c.project_id == self.project_id

    def held(self, conn, now: float) -> dict[str, tuple[str, float]]:
        """Item id to (annotator, expires_at) for every hold still running at ``now``."""
        rows = conn.execute(
            select(reservations.c.item_id, reservations.c.annotator, reservations.c.expires_at)
            .where(self._rows())
            .where(reservations.c.released_at.is_(None))
            .where(reservations.c.expires_at > now)
        ).all()
        return {item: (who, expires) for item, who, expires in rows}

    def grant(
        self,
        conn,
        candidates: Iterable[str],
        *,
        annotator: str,
        ttl: float,
        now: float,
        unavailable: Container[str] = frozenset(),
    ) -> str | None:
        """Reserve the first candidate that is not ``unavailable`` and not held by someone else.

        Lapsed holds are closed first; the holds ``annotator`` had on other items are
        released; asking again for the item one holds extends it. Returns the item id,
        or None when every candidate is taken (the annotator then holds nothing).
        """
        conn.execute(  # lapsed holds are closed, keeping the open ones few
            update(reservations)
            .where(self._rows())
            .where(reservations.c.released_at.is_(None))
            .where(reservations.c.expires_at <= now)
            .values(released_at=reservations.c.expires_at)
        )
        held = self.held(conn, now)
        taken = {item for item, (who, _) in held.items() if who != annotator}
        mine = {item for item, (who, _) in held.items() if who == annotator}
        chosen = next((c for c in candidates if c not in taken and c not in unavailable), None)
        mine_open = (
            update(reservations)
            .where(self._rows())
            .where(reservations.c.annotator == annotator)
            .where(reservations.c.released_at.is_(None))
        )
        if others := mine - {chosen}:
            conn.execute(
                mine_open.where(reservations.c.item_id.in_(others)).values(released_at=now)
            )
        if chosen is None:
            return None
        if chosen in mine:
            extended = mine_open.where(reservations.c.item_id == chosen)
            conn.execute(extended.values(expires_at=now + ttl))
        else:
            conn.execute(
                insert(reservations).values(
                    project_id=self.project_id,
                    item_id=chosen,
                    annotator=annotator,
                    reserved_at=now,
                    expires_at=now + ttl,
                )
            )
        return chosen

    def release(self, conn, annotator: str, now: float) -> None:
        """End every hold of ``annotator``."""
        conn.execute(
            update(reservations)
            .where(self._rows())
            .where(reservations.c.annotator == annotator)
            .where(reservations.c.released_at.is_(None))
            .values(released_at=now)
        )

    def release_items(self, conn, item_ids: list[str], now: float) -> None:
        """End the running holds of these items (inside the transaction that labels them)."""
        open_rows = (
            update(reservations)
            .where(self._rows())
            .where(reservations.c.released_at.is_(None))
            .where(reservations.c.expires_at > now)
        )
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), SQLITE_MAX_PARAMETERS):
            chunk = unique[start : start + SQLITE_MAX_PARAMETERS]
            conn.execute(open_rows.where(reservations.c.item_id.in_(chunk)).values(released_at=now))

    def log(self, conn) -> pd.DataFrame:
        """Every hold ever granted, oldest first."""
        columns = ["item_id", "annotator", "reserved_at", "expires_at", "released_at"]
        rows = conn.execute(
            select(*(reservations.c[c] for c in columns))
            .where(self._rows())
            .order_by(reservations.c.id)
        ).all()
        return pd.DataFrame(rows, columns=columns)
