"""Label events and their replay: an item's current label is derived, never stored.

Events are append-only. An undo is a new event pointing at the one it cancels;
a rejection marks an (item, class) pair the model must not suggest again.

What an item's label is depends on the project's overlap (how many people label
each item):

* overlap 1 (the default): the last labeling event not undone sets the label; a
  second person's label is a correction and replaces the first;
* overlap 2 or more: each annotator's last labeling event not undone is that
  person's *vote*; the item's label is the class every vote names (even while
  fewer votes than the overlap are in). When the votes name different classes
  the item is *disputed*, and it counts as unlabeled (the model neither learns
  from it nor counts it as done) until a reviewer resolves it.

Either way a resolution (a "resolved" event a reviewer writes) settles an item's
label until it is undone; nothing it overrules is edited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from .schema import label_events

# Where a label came from. "undo" events cancel an earlier event.
SOURCES = ("human", "accepted", "rejected", "bulk", "imported", "resolved", "undo")
LABELING_SOURCES = ("human", "accepted", "bulk", "imported", "resolved")
"""Sources that give an item a label (the others reject a suggestion or cancel an event)."""
VOTING_SOURCES = ("human", "accepted", "bulk", "imported")
"""Sources of an annotator's own label of an item (a resolution settles, it does not vote)."""
PICKED = ("doubt", "random")
"""Why a labeled item was on screen, when a strategy chose it in a way the calibration must
know: for the model's doubt (its hardest cases, not a fair sample) or drawn at random (a fair
sample that also shows how often an item's class is one nobody labeled). Empty otherwise."""


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
    picked: str | None = None


@dataclass
class LabelState:
    """Labels derived from a stream of events, updated one event at a time.

    ``labels`` maps item id to class id for every labeled item (the last label
    wins); :meth:`current` with ``consensus=True`` gives the labels votes agree
    on instead. ``rejected`` holds the (item id, class id) pairs a person rejected.
    """

    last_event_id: int = 0
    _history: dict[str, list[LabelEvent]] = field(default_factory=lambda: defaultdict(list))
    _resolutions: dict[str, list[LabelEvent]] = field(default_factory=lambda: defaultdict(list))
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
                kept = self._resolutions if target.source == "resolved" else self._history
                history = kept[target.item_id]
                history[:] = [e for e in history if e.id != target.id]
        elif ev.source == "rejected":
            self._rejections[(ev.item_id, ev.class_id)].add(ev.id)
        elif ev.source == "resolved":
            self._resolutions[ev.item_id].append(ev)
        else:
            self._history[ev.item_id].append(ev)

    def current(
        self, *, consensus: bool = False, reads_as: Callable[[int], object] | None = None
    ) -> dict[str, LabelEvent]:
        """The event that set each labeled item's current label.

        With ``consensus=False`` the last labeling event wins; with ``consensus=True``
        an item is labeled only when its votes agree (the latest vote stands for
        them), two class ids agreeing when ``reads_as`` maps them to the same value
        (e.g. after a merge). A resolution wins over both.
        """
        chosen = {}
        for item, history in self._history.items():
            if not history:
                continue
            if not consensus:
                if history[-1].class_id is not None:
                    chosen[item] = history[-1]
                continue
            votes = _votes(history)
            if len(_classes(votes, reads_as)) == 1:
                chosen[item] = max(votes.values(), key=lambda e: e.id)
        for item, resolutions in self._resolutions.items():
            if resolutions:
                chosen[item] = resolutions[-1]
        return chosen

    def is_labeled(self, item_id: str) -> bool:
        """Whether the last labeling event of ``item_id`` gave it a class, or a resolution did."""
        history = self._history.get(item_id)
        return bool(
            self._resolutions.get(item_id) or (history and history[-1].class_id is not None)
        )

    def votes(self, item_id: str | None = None) -> dict[str, dict[str, LabelEvent]]:
        """Item id to {annotator: the event of their current vote}, for items with votes
        (or only ``item_id``). A person who cleared their label has no vote."""
        items = self._history if item_id is None else [item_id]
        found = {item: _votes(self._history.get(item, ())) for item in items}
        return {item: votes for item, votes in found.items() if votes}

    def resolution(self, item_id: str) -> LabelEvent | None:
        """The resolution that settles ``item_id``, if any."""
        resolutions = self._resolutions.get(item_id)
        return resolutions[-1] if resolutions else None

    def disputed(self, reads_as: Callable[[int], object] | None = None) -> set[str]:
        """Items whose votes name different classes and that no resolution settles."""
        return {
            item
            for item, history in self._history.items()
            if not self._resolutions.get(item) and len(_classes(_votes(history), reads_as)) > 1
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


def _votes(history: Iterable[LabelEvent]) -> dict[str, LabelEvent]:
    latest = {}
    for ev in history:  # in id order: a later event of the same person replaces theirs
        latest[ev.annotator] = ev
    return {who: ev for who, ev in latest.items() if ev.class_id is not None}


def _classes(votes: dict[str, LabelEvent], reads_as) -> set:
    return {e.class_id if reads_as is None else reads_as(e.class_id) for e in votes.values()}


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
