"""The agreement block of the Insights page: how far annotators agree, with each other, with
the consensus and with the model."""

from __future__ import annotations

import streamlit as st

from sslcore.agreement import (
    agreement_with,
    agreement_with_consensus,
    krippendorff_alpha,
    pairwise_kappa,
    per_class_alpha,
)
from sslcore.session import ProjectEngine
from sslcore.store import Project

FORMAT = {"kappa": "{:.2f}", "alpha": "{:.2f}", "agreement": "{:.0%}"}


def draw_agreement(project: Project, live: ProjectEngine) -> None:
    """Krippendorff's alpha overall and per class, Cohen's kappa per pair of annotators, and
    each annotator against the consensus of the others and against the model."""
    st.subheader("Agreement between annotators")
    votes = project.votes()
    shared = votes.groupby("item_id")["annotator"].transform("size") > 1
    if not shared.any():
        st.caption(
            "No item has labels from two people yet. Ask for several annotators per item "
            "(on the Conflicts page) to measure agreement."
        )
        return
    st.metric(
        "Krippendorff's alpha (all annotators)",
        f"{krippendorff_alpha(votes):.2f}",
        help="1 is perfect agreement, 0 is what chance would give; items with one vote "
        "are left out. Cohen's kappa below compares two people at a time.",
    )
    by_class, by_pair = st.columns(2)
    with by_class:
        st.caption("Per class (this class or not)")
        st.dataframe(per_class_alpha(votes).rename_axis("class").reset_index().style.format(FORMAT),
                     hide_index=True)  # fmt: skip
    with by_pair:
        st.caption("Cohen's kappa per pair, on the items both labeled")
        st.dataframe(pairwise_kappa(votes).style.format(FORMAT), hide_index=True)
    state, names = project.state(), project.class_names_by_id()
    resolved = {
        item: names[ev.class_id]
        for item in votes["item_id"].unique()
        if (ev := state.resolution(item)) is not None
    }
    predictions = live.predictions
    model = dict(zip(predictions.item_ids, predictions.predicted, strict=True))
    consensus = agreement_with_consensus(votes, resolved).set_index("annotator")
    with_model = agreement_with(votes, model).set_index("annotator")
    table = consensus.merge(
        with_model, how="left", left_index=True, right_index=True,
        suffixes=(" vs consensus", " vs model"),
    )  # fmt: skip
    st.caption(
        "Each annotator against the consensus of the others (a resolution, else what most "
        "of the others said) and against the model's class"
    )
    st.dataframe(
        table.style.format("{:.2f}", subset=[c for c in table.columns if "kappa" in c]).format(
            "{:.0%}", subset=[c for c in table.columns if c.startswith("agreement")]
        ),
        use_container_width=False,
    )
