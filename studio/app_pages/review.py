"""Review suggestions: accept or reject the model's pseudo-labels, alone or in bulk."""

import numpy as np
import pandas as pd
import streamlit as st

from sslcore.bulk import DEFAULT_TARGET_PRECISION
from sslcore.review import likely_mistakes, pseudo_labels
from sslcore.session import bulk_plans, candidates_digest, describe_events, plan_rows
from studio.charts import mini_map
from studio.components import cached_for, items, md, show_item
from studio.live import labeling_session, tuning_notice
from studio.state import require_annotator, require_project

ALL = "(every class)"
TARGET_MIN = 80.0

project = require_project()
require_annotator()

st.title(f"Review suggestions · {md(project.name)}")
session = labeling_session(project)
live = session.live
predictions = live.refresh(tune=True)  # its suggestions and bounds need the calibration
dataset = project.dataset()
if predictions.proba.shape[1] == 0:
    st.info("Label a few items first: suggestions appear once the model has labels to spread.")
    st.stop()


def show(item_id: str) -> None:
    location = None
    if dataset.kind == "tabular":  # numbers alone do not say where the item is
        location = mini_map(live.layout()[0], live.engine.position(item_id))
    show_item(live.item(item_id), dataset.kind, dataset.feature_columns, location=location)


NOTE, LAST = f"review-note-{project.id}", f"review-last-{project.id}"


def decided(event_id: int | None, item_id: str, what: str) -> None:
    st.session_state[LAST] = event_id
    st.session_state[NOTE] = what if event_id else f"{item_id} was labeled meanwhile; left as is."


def accept(item_id: str, class_name: str, confidence: float) -> None:
    event = session.accept(item_id, class_name, confidence)
    decided(event, item_id, f"Accepted {item_id} → {class_name}.")


def reject(item_id: str, class_name: str, confidence: float) -> None:
    event = session.reject(item_id, class_name, confidence)
    decided(event, item_id, f"Rejected {class_name} for {item_id}: never suggested for it again.")


def percent_or_dash(share: float) -> str:
    return "–" if np.isnan(share) else f"{share:.1%}"


def slider_step(share: float) -> float:
    """``share`` in percent, rounded down to the target slider's 0.1 step (a target at the
    rounded value still qualifies what the unrounded bound does)."""
    return np.floor(1000 * share - 1e-9) / 10 if np.isfinite(share) else float("nan")


def set_target(percent: float) -> None:
    st.session_state["bulk_target"] = percent


def undo_decision() -> None:
    undone = session.undo_event(st.session_state.pop(LAST))
    st.session_state[NOTE] = f"Undid {describe_events(undone, project.class_names_by_id())}."


classes = [c for c in project.class_names() if c in predictions.classes]  # the project's order
chosen_class = st.sidebar.selectbox("Suggestions for", [ALL, *classes], key="review_class")
tuning_notice(
    live,
    "Choosing the model again for the labels given since: the suggestions, "
    "confidences and bounds below change when it is ready.",
)
# Tabs that track which is open, and only the open one is built: A, X and U must act on
# the suggestion on screen, never on one in a hidden tab (a fresh-eyes walk pressed X on
# Likely mistakes and rejected the suggestion it could not see).
suggestions, mistakes = st.tabs(["Suggestions", "Likely mistakes"], key="review_tab",
                                on_change="rerun")  # fmt: skip
if suggestions.open:
    if st.session_state.get(NOTE):
        note, undo_col = suggestions.columns([5, 1], vertical_alignment="center")
        note.success(md(st.session_state[NOTE]))
        if st.session_state.get(LAST):
            undo_col.button("Undo", on_click=undo_decision, shortcut="U", key="undo_decision")

    with suggestions:
        pseudo = pseudo_labels(predictions, live.engine.features, per_class=50)
        table = pd.DataFrame(
            [(p.item_id, p.class_name, p.confidence, p.support_ids) for p in pseudo],
            columns=["item_id", "class", "confidence", "support"],
        )
        if chosen_class != ALL:
            table = table[table["class"] == chosen_class]
        table = table.sort_values("confidence", ascending=False, kind="stable")
        if table.empty:
            st.success("No suggestions left for this class.")
        else:
            top = table.iloc[0]
            st.subheader(f"Suggested: {md(top['class'])} ({top['confidence']:.0%} confident)")
            st.caption(f"Item {md(top['item_id'])} · ranked first of the {len(table):,} most "
                       "confident")  # fmt: skip
            show(top["item_id"])
            args = (top["item_id"], top["class"], float(top["confidence"]))
            # Keyed by the suggestion: a press that reaches the server after the page moved
            # on to another (a label elsewhere, the model chosen again) belongs to a button
            # that no longer exists, and is dropped.
            shown = f"{project.id}-{top['item_id']}-{top['class']}"
            left, right, _ = st.columns([1, 1, 3])
            left.button("Accept", on_click=accept, args=args, shortcut="A", type="primary",
                        use_container_width=True, key=f"accept-{shown}")  # fmt: skip
            right.button("Reject", on_click=reject, args=args, shortcut="X",
                         use_container_width=True, key=f"reject-{shown}")  # fmt: skip
            st.caption("Confidence is the estimated probability that the suggestion is right, "
                       "learned from how often the model, fitted without them, predicts the labels "
                       "people gave.")  # fmt: skip
            st.caption("Keys: A accepts, X rejects, U undoes the last of them. A rejected class "
                       "is never suggested again for that item and weighs less around "
                       "it.")  # fmt: skip
            if top["support"]:
                st.caption(f"Why: the nearest items people labeled {md(top['class'])}")
                for column, support_id in zip(st.columns(len(top["support"])), top["support"],
                                              strict=True):  # fmt: skip
                    with column:
                        show(support_id)

        st.divider()
        st.subheader("Accept in bulk")
        # persist_state: the target and the class below are kept while Likely mistakes is
        # open (a widget not drawn in a run loses its value).
        target = st.slider("Target precision", TARGET_MIN, 99.9, 100 * DEFAULT_TARGET_PRECISION,
                           0.1, format="%.1f%%", key="bulk_target", persist_state="page",
                           help="Per class, the most confident suggestions are taken while their "
                           "precision stays at or above this even in the pessimistic case (95% "
                           "sure), given how few labels the calibration has seen.")  # fmt: skip
        target /= 100
        tuning = live.tuning
        plans = cached_for(
            f"bulk-plans-{project.id}",
            (live.last_event_id, id(tuning), target),
            lambda: bulk_plans(live.engine, target),
        )
        by_class = {p.class_name: p for p in plans}
        in_order = [by_class[c] for c in classes if c in by_class]  # the project's order
        plan_table = pd.DataFrame(
            [(p.class_name, p.candidates, p.count, p.expected_wrong, p.wrong_bound,
              percent_or_dash(p.precision_bound if p.count else np.nan),
              percent_or_dash(p.reachable))
             for p in in_order],
            columns=["class", "predicted", "qualify", "expected wrong", "at most wrong (95%)",
                     "precision at least", "highest target met"],
        )  # fmt: skip
        evidence = plans[0].evidence if plans else 0
        given = int(live.engine.label_set().held.sum())
        why = ""
        if evidence < given:
            why = ("; a label whose class has no other label, or given since the calibration "
                   "was learned, does not count yet")  # fmt: skip
        st.caption(f"At {target:.1%} target precision, per class. Calibrated on {evidence:,} "
                   f"labels people gave ({given:,} now), each predicted by a model fitted "
                   f"without it{why}; accepted items never count:")  # fmt: skip
        st.dataframe(
            plan_table.style.format({"expected wrong": "{:.1f}", "at most wrong (95%)": "{:.1f}"}),
            hide_index=True,
        )  # fmt: skip
        bulk_class = st.selectbox("Accept the class", classes, key="bulk_class",
                                  persist_state="page")  # fmt: skip
        plan = by_class.get(bulk_class)
        selected = plan_rows(live.engine, plan)  # the plan shown in the table, not a new one
        if selected.empty:
            reachable = slider_step(plan.reachable) if plan is not None else float("nan")
            if reachable >= TARGET_MIN:
                st.write(f"No suggestion of {md(bulk_class)} qualifies at {target:.1%}. For now "
                         f"the most a bulk accept of {md(bulk_class)} can promise is "
                         f"{reachable:.1f}%: lower the target to that, or label more items "
                         "until the calibration has seen enough.")  # fmt: skip
                st.button(f"Set the target to {reachable:.1f}%", on_click=set_target,
                          args=(reachable,), key="bulk_reachable")  # fmt: skip
            else:
                st.write(f"No suggestion of {md(bulk_class)} qualifies at any target this "
                         "slider offers yet: label more items until the calibration has seen "
                         "enough.")  # fmt: skip
        else:
            st.write(f"{items(len(selected))} predicted {md(bulk_class)} qualify: about "
                     f"{plan.expected_wrong:.1f} of them wrong, at most {plan.wrong_bound:.1f} "
                     "(95% sure). A sample:")  # fmt: skip
            sample = selected.sample(min(5, len(selected)), random_state=0)
            for column, item_id in zip(st.columns(len(sample)), sample["item_id"], strict=True):
                with column:
                    show(item_id)
        # The key holds a hash of the set shown: a click that reaches the server after the set
        # changed belongs to a button that no longer exists, and is dropped.
        digest = candidates_digest(selected)
        st.button(f"Accept {items(len(selected))} as {md(bulk_class)}",
                  on_click=session.bulk_accept, args=(selected,), kwargs={"digest": digest},
                  disabled=selected.empty, key=f"bulk_accept-{digest}")  # fmt: skip
        if session.last_bulk is not None:
            st.info(f"Accepted {items(session.last_bulk.count)} in bulk. They count as half a "
                    "label each and never as calibration evidence.")  # fmt: skip
            st.button("Undo this bulk accept", on_click=session.undo_bulk, key="undo_bulk")

if mistakes.open:
    with mistakes:
        found = likely_mistakes(live.engine)
        if not found:
            st.success("No human label stands out: a model fitted without each label agrees with "
                       "it, or is not sure enough to doubt it.")  # fmt: skip
        else:
            st.caption("Each label is checked against a model fitted without it (cross-fitted), "
                       "most likely mistake first.")  # fmt: skip
        for mistake in found[:20]:
            st.divider()
            st.caption(f"Item {md(mistake.item_id)}")
            show(mistake.item_id)
            st.text(f"Labeled {mistake.given}. Fitted without this label, the model says "
                    f"{mistake.predicted} ({mistake.confidence:.0%}) and {mistake.given} "
                    f"({mistake.p_given:.0%}); items people labeled {mistake.predicted} get "
                    f"{mistake.threshold:.0%} on average.")  # fmt: skip
            if mistake.support_ids:
                st.caption(f"The nearest items people labeled {md(mistake.predicted)}:")
                for column, support_id in zip(st.columns(len(mistake.support_ids)),
                                              mistake.support_ids, strict=True):  # fmt: skip
                    with column:
                        show(support_id)
            st.button(f"Change to {md(mistake.predicted)}", key=f"fix-{mistake.item_id}",
                      on_click=session.correct,
                      args=(mistake.item_id, mistake.predicted))  # fmt: skip
