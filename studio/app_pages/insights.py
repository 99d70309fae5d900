"""Insights: progress, class balance, estimated accuracy, calibration, what the next labels buy."""

import html

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from sslcore.graph import normalized_affinity
from sslcore.insights import (
    acceptance_by_confidence,
    labels_over_time,
    learning_curve,
    next_labels_gain,
)
from sslcore.progress import describe_wait
from studio.agreement_view import draw_agreement
from studio.components import cached_for, md
from studio.live import project_engine, tuning_notice
from studio.state import require_project

CURVE_KEY = "learning-curve"

project = require_project()

st.title(f"Insights · {md(project.name)}")
live = project_engine(project)
predictions = live.refresh(tune=True)  # the model selection is shown below
events = project.events()
human = np.array([h is not None for h in predictions.human])

first, second, third = st.columns(3)
first.metric("Labeled", f"{int(human.sum()):,} / {len(human):,}")
second.metric(
    "Predictions changed by the last label",
    f"{live.changed_last_round:,}",
    help="How many items the model now puts in another class than before the latest label "
    "(or accept). Large numbers: the model is still finding its way; near zero: new labels "
    "change little, and Review's suggestions are stable.",
)
third.metric("Model round", live.round)
st.subheader("Labels over time")
timeline = labels_over_time(events)
if timeline.empty:
    st.caption("No labels yet.")
else:
    st.plotly_chart(px.line(timeline, x="time", y="labels", color="source", markers=True))

st.subheader("Class balance: people vs the model")
if predictions.proba.shape[1]:
    balance = (
        pd.DataFrame(
            {
                "class": np.concatenate([predictions.human[human], predictions.predicted[~human]]),
                "by": ["human"] * int(human.sum()) + ["model"] * int((~human).sum()),
            }
        )
        .value_counts()
        .rename("items")
        .reset_index()
    )
    balance["class"] = balance["class"].map(html.escape)  # plotly renders HTML in tick labels
    order = [
        html.escape(c) for c in project.class_names() if html.escape(c) in set(balance["class"])
    ]
    chart = px.bar(balance, x="class", y="items", color="by", barmode="group")
    # Class names are labels even when they look like numbers ("0"-"9"): one tick each.
    chart.update_xaxes(type="category", categoryorder="array", categoryarray=order)
    st.plotly_chart(chart)
else:
    st.caption("The model predicts once a class has labels.")

st.subheader('Is "90% confident" right 90% of the time?')
calibration = acceptance_by_confidence(events)
if calibration.empty:
    st.caption("Accept or reject suggestions on Review to see this.")
else:
    st.dataframe(
        calibration.style.format({"accepted": "{:.0%}", "mean_confidence": "{:.0%}"}),
        hide_index=True,
    )

st.subheader("Estimated accuracy as labels grow")
st.caption("Label spreading with the settings the model uses, cross-validated on the human "
           "labels in the order they were given.")  # fmt: skip
positions, codes = live.human_label_order()
if len(codes) < 10 or len(set(codes.tolist())) < 2:
    st.caption("Needs at least 10 human labels in two classes.")
else:
    version = (project.id, live.last_event_id)

    # The bar and then the chart share one place: the bar never says "done" beside a chart
    # that is not there yet.
    slot = st.empty()

    def estimate():
        bar = slot.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            done = fraction >= 1
            bar.progress(min(fraction, 0.99), text="Drawing the chart…" if done else message)

        engine = live.engine
        S = normalized_affinity(engine.graph)
        return learning_curve(
            S, positions, codes, settings=engine.spreading_config, progress=progress
        )

    curve = cached_for(CURVE_KEY, version)
    if curve is None and st.button("Estimate accuracy", key="estimate"):
        curve = cached_for(CURVE_KEY, version, estimate)
    if curve is not None:
        slot.plotly_chart(px.line(curve, x="labels", y="accuracy", error_y="std", markers=True,
                                  log_x=True, range_y=[0, 1]))  # fmt: skip
        gain = next_labels_gain(curve)
        if gain is not None:
            st.metric("Likely gain from the next 10 labels", f"+{gain:.1%} accuracy")

st.subheader("Which model, and why")
tuning = live.tuning
if tuning is None:
    st.caption("The model is chosen from the labels once two classes have labels; until then "
               "it spreads labels with the starting settings.")  # fmt: skip
else:
    st.text(f"In use: {tuning.choice.describe()}")
    st.caption(f"Chosen from {tuning.n_held:,} labels people gave ({tuning.n_evidence:,} of them "
               f"informative), in {tuning.seconds:.1f} s. Each candidate predicts every label "
               "with that label left out; it replaces the one in use only if it gets more of "
               "them right, by more than the noise.")  # fmt: skip
    st.dataframe(
        tuning.table().style.format({"score": "{:.3f}", "accuracy": "{:.1%}",
                                     "log_loss": "{:.3f}", "seconds": "{:.2f}"}),
        hide_index=True,
    )  # fmt: skip
tuning_notice(
    live, "Choosing again for the labels given since; the result is used when it is ready."
)
features_job = live.representations_job
if features_job is not None and not features_job.done:
    st.caption(f"Also computing features the model may be chosen on "
               f"({describe_wait(features_job.tracker)}); labeling goes on meanwhile.")  # fmt: skip
elif features_job is not None and features_job.error is not None:
    st.warning(f"The other features could not be computed, so the model stays on "
               f"{md(live.engine.features_in_use)}: {md(features_job.error)}")  # fmt: skip
else:
    st.caption(f"Features the model is chosen on: {', '.join(live.engine.tuner.feature_names)}.")

draw_agreement(project, live)
