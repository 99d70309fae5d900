"""Reservations: which annotator holds which item of a project, and until when.

Every function here runs inside a transaction its caller opened, so a grant and
the label check it depends on see the same database state. Nothing here knows
what a project is beyond its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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

    def holds(self, conn, now: float, item_id: str | None = None) -> list[tuple[str, str, float]]:
        """(item id, annotator, expires_at) of every hold still running at ``now``
        (of ``item_id`` only, if given), oldest grant first."""
        query = (
            select(reservations.c.item_id, reservations.c.annotator, reservations.c.expires_at)
            .where(self._rows())
            .where(reservations.c.released_at.is_(None))
            .where(reservations.c.expires_at > now)
            .order_by(reservations.c.id)
        )
        if item_id is not None:
            query = query.where(reservations.c.item_id == item_id)
        return [tuple(row) for row in conn.execute(query).all()]

    def held(self, conn, now: float) -> dict[str, tuple[str, float]]:
        """Item id to (annotator, expires_at) of its earliest hold still running at ``now``."""
        first = {}
        for item, who, expires in self.holds(conn, now):
            first.setdefault(item, (who, expires))
        return first

    def grant(
        self,
        conn,
        candidates: Iterable[str],
        *,
        annotator: str,
        ttl: float,
        clock: Callable[[], float],
        open_to: Callable[[str, set[str], bool], bool],
        lock: Callable[[str, bool], bool] = lambda item, wait: True,
    ) -> str | None:
        """Reserve for ``annotator`` the first candidate still open to them.

        ``open_to(item, others, fresh)`` says whether ``item`` may go to ``annotator``
        while ``others`` (other annotators) hold it; it is asked once from what was
        read so far, and once more with ``fresh=True`` after ``lock(item)`` succeeded,
        when it must read the item's labels again (holds are read again before it).
        ``lock(item, wait)`` returns False, without waiting, when another hand-out has
        the item: the candidate is passed over, and tried once more (waiting this
        time) only if no other candidate was free, so that a busy moment is never
        mistaken for "nothing left".

        Lapsed holds are closed first; the holds ``annotator`` had on other items are
        released; asking again for the item one holds extends it. Returns the item id,
        or None when every candidate is taken (the annotator then holds nothing).

        ``clock()`` is read at each step rather than once: waiting on a lock may take a
        while, and a hold must never be recorded as starting before the check that
        allowed it.
        """
        now = clock()
        # Lapsed holds are closed, keeping the open ones few. Only tidying (a lapsed hold
        # counts for nothing anyway), so rows another hand-out is closing right now are
        # skipped rather than waited for: SKIP LOCKED on PostgreSQL, ignored by SQLite.
        lapsed = (
            select(reservations.c.id)
            .where(self._rows())
            .where(reservations.c.released_at.is_(None))
            .where(reservations.c.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
        conn.execute(
            update(reservations)
            .where(reservations.c.id.in_(lapsed.scalar_subquery()))
            .values(released_at=reservations.c.expires_at)
        )
        holders: dict[str, set[str]] = {}
        for item, who, _ in self.holds(conn, now):
            holders.setdefault(item, set()).add(who)
        mine = {item for item, who in holders.items() if annotator in who}
        chosen = None
        busy = []
        for c in candidates:
            if not open_to(c, holders.get(c, set()) - {annotator}, False):
                continue
            if not lock(c, False):
                busy.append(c)
            elif self._still_open(conn, c, annotator, clock(), open_to):
                chosen = c
                break
        else:
            chosen = next(
                (
                    c
                    for c in busy
                    if lock(c, True) and self._still_open(conn, c, annotator, clock(), open_to)
                ),
                None,
            )
        mine_open = (
            update(reservations)
            .where(self._rows())
            .where(reservations.c.annotator == annotator)
            .where(reservations.c.released_at.is_(None))
        )
        now = clock()
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

    def _still_open(self, conn, item: str, annotator: str, now: float, open_to) -> bool:
        # Under the lock no other hand-out can grant the item. Holds first, then labels:
        # a label committed in between (which ends its hold) is seen as one or the
        # other, never as neither.
        others = {who for _, who, _ in self.holds(conn, now, item)} - {annotator}
        return open_to(item, others, True)

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
