"""Label events and their replay: an item's current label is derived, never stored.

Events are append-only. The last labeling event of an item that has not been
undone sets its label; an undo is a new event pointing at the one it cancels;
a rejection marks an (item, class) pair the model must not suggest again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from .schema import label_events

# Where a label came from. "undo" events cancel an earlier event.
SOURCES = ("human", "accepted", "rejected", "bulk", "imported", "undo")
LABELING_SOURCES = ("human", "accepted", "bulk", "imported")
"""Sources that give an item a label (the others reject a suggestion or cancel an event)."""


@dataclass(frozen=True)
class LabelEvent:
    id: int
    item_id: str
    class_id: int | None
    source: str
    annotator: str
    created_at: float
    model_round: int | None = None
    confidence: float | None = None
    batch_id: str | None = None
    undoes: int | None = None


@dataclass
class LabelState:
    """Labels derived from a stream of events, updated one event at a time.

    ``labels`` maps item id to class id for every labeled item; ``rejected``
    holds the (item id, class id) pairs a person rejected.
    """

    last_event_id: int = 0
    _history: dict[str, list[LabelEvent]] = field(default_factory=lambda: defaultdict(list))
    _rejections: dict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    _events: dict[int, LabelEvent] = field(default_factory=dict)
    _undone: set[int] = field(default_factory=set)

    def apply(self, ev: LabelEvent) -> None:
        self._events[ev.id] = ev
        self.last_event_id = max(self.last_event_id, ev.id)
        if ev.source == "undo":
            target = self._events.get(ev.undoes)
            if target is None or ev.undoes in self._undone:
                return
            self._undone.add(target.id)
            if target.source == "rejected":
                self._rejections[(target.item_id, target.class_id)].discard(target.id)
            else:
                history = self._history[target.item_id]
                history[:] = [e for e in history if e.id != target.id]
        elif ev.source == "rejected":
            self._rejections[(ev.item_id, ev.class_id)].add(ev.id)
        else:
            self._history[ev.item_id].append(ev)

    def current(self) -> dict[str, LabelEvent]:
        """The event that set each labeled item's current label."""
        return {
            item: history[-1]
            for item, history in self._history.items()
            if history and history[-1].class_id is not None
        }

    @property
    def labels(self) -> dict[str, int]:
        return {item: ev.class_id for item, ev in self.current().items()}

    @property
    def rejected(self) -> set[tuple[str, int]]:
        return {pair for pair, ids in self._rejections.items() if ids}

    def event(self, event_id: int) -> LabelEvent | None:
        return self._events.get(event_id)

    def is_undone(self, event_id: int) -> bool:
        return event_id in self._undone

    def events(self) -> list[LabelEvent]:
        return [self._events[i] for i in sorted(self._events)]


def derive_labels(events: Iterable[LabelEvent]) -> LabelState:
    """Replay events (in id order) into the current labels and rejections."""
    state = LabelState()
    for ev in sorted(events, key=lambda e: e.id):
        state.apply(ev)
    return state


def read_events(conn, project_id: int, after: int = 0) -> Iterator[LabelEvent]:
    """A project's events with an id above ``after``, in id order."""
    rows = conn.execute(
        select(label_events)
        .where(label_events.c.project_id == project_id)
        .where(label_events.c.id > after)
        .order_by(label_events.c.id)
    ).mappings()
    for r in rows:
        yield LabelEvent(**{name: r[name] for name in LabelEvent.__dataclass_fields__})
