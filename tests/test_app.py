"""The studio's pages driven by Streamlit's AppTest, with the store in a temp dir."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sslcore.demos import DEMO_PREFIX
from sslcore.store import Store
from studio.components import md

ROOT = Path(__file__).parents[1]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path))
    # AppTest runs each page once, without the timer that reruns it when a background
    # build ends: wait for the engine instead (tests of the wait itself lower this).
    monkeypatch.setattr("studio.live.BUILD_WAIT_SECONDS", 600.0)
    return tmp_path


def app(page: str, project: str | None = None, annotator: str | None = "tester") -> AppTest:
    """The studio (app.py, its frame and navigation) set to open ``page`` on its first run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if project:
        at.session_state["project_name"] = project
    if annotator:
        at.session_state["annotator"] = annotator
    return at.switch_page(f"studio/app_pages/{page}.py")


def run_page(page: str, project: str | None = None) -> AppTest:
    """Run the studio on ``page`` (e.g. "label") with the annotator "tester"."""
    return app(page, project).run()


def item_on_screen(at: AppTest, project_id: int) -> str:
    """The item on screen on the Label page."""
    return at.session_state[f"labeling-session-{project_id}"].current.item_id


def test_first_start_lists_the_demo_projects(data_dir):
    at = run_page("projects")
    assert not at.exception
    names = list(at.dataframe[0].value["name"])
    assert names == [DEMO_PREFIX + d for d in ("digits", "moons", "tickets")]


def test_label_buttons_write_events(data_dir):
    at = run_page("label", DEMO_PREFIX + "digits")
    assert not at.exception
    buttons = {b.label: b for b in at.button}
    assert {str(d) for d in range(10)} <= set(buttons)
    shown = item_on_screen(at, 1)
    buttons["7"].click().run()
    project = Store(data_dir).open_project(DEMO_PREFIX + "digits")
    assert project.labels() == {shown: "7"}
    events = project.events()
    assert list(events["annotator"]) == ["tester"]
    assert item_on_screen(at, 1) != shown


def test_undo_restores_the_item_and_removes_the_label(data_dir):
    at = run_page("label", DEMO_PREFIX + "moons")
    shown = item_on_screen(at, 2)
    next(b for b in at.button if b.label == "upper").click().run()
    next(b for b in at.button if b.label == "Undo last").click().run()
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    assert project.labels() == {}
    assert item_on_screen(at, 2) == shown


def test_text_items_are_shown_as_plain_text(data_dir):
    hostile = "<script>alert(1)</script> ![x](http://example.com/a.png) **bold**"
    store = Store(data_dir)
    import pandas as pd

    from sslcore.dataset import Dataset

    items = pd.DataFrame({"item_id": ["a"], "text": [hostile], "label": ["x"]})
    store.create_project("hostile", Dataset("hostile", "text", items))
    at = run_page("label", "hostile")
    assert not at.exception
    # Labeled already, so the page shows "every item is labeled"; undo nothing.
    project = store.open_project("hostile")
    project.label("a", None, annotator="tester")
    at = run_page("label", "hostile")
    assert [t.value for t in at.text][0] == hostile
    assert all(hostile not in m.value for m in at.markdown)


def test_creating_a_demo_project_from_the_projects_page(data_dir):
    at = run_page("projects")
    next(s for s in at.selectbox if s.label == "Demo").set_value("moons").run()
    at.text_input(key="demo_name").set_value("my moons").run()
    next(b for b in at.button if b.label == "Create demo project").click().run()
    assert not at.exception
    assert "my moons" in Store(data_dir).project_names()
    assert at.success
    assert at.session_state["project_name"] == "my moons"


def test_deleting_a_project(data_dir):
    at = run_page("projects", DEMO_PREFIX + "tickets")
    next(b for b in at.button if b.label == "Delete project").click().run()
    assert not at.exception
    assert DEMO_PREFIX + "tickets" not in Store(data_dir).project_names()


def test_adding_and_renaming_classes(data_dir):
    at = run_page("projects", DEMO_PREFIX + "moons")
    next(t for t in at.text_input if t.label == "New class").set_value("middle")
    next(b for b in at.button if b.label == "Add class").click().run()
    assert not at.exception
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    assert project.class_names() == ["lower", "upper", "middle"]


def test_app_entry_opens_the_label_page(data_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["annotator"] = "tester"
    at.run()
    assert not at.exception
    assert at.title[0].value.startswith("Label")


def test_export_page_offers_every_format_and_the_model(data_dir):
    run_page("export", DEMO_PREFIX + "moons")  # the first start creates the demos
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    project.label("point-0500", "upper", annotator="tester")
    project.label("point-0900", "lower", annotator="tester")
    at = run_page("export", DEMO_PREFIX + "moons")
    assert not at.exception
    preview = at.dataframe[1].value
    assert list(preview["item_id"][:2]) == ["point-0500", "point-0900"]  # labeled rows first
    assert set(preview["label"][2:]) == {"unlabeled"}
    assert set(preview["picked"]) == {""}  # empty, as in the file, not "None"
    at.button(key="train").click().run()
    labels = [b.label for b in at.get("download_button")]
    assert labels == [
        "Download CSV", "Download PARQUET", "Download JSONL", "Download model (.joblib)"
    ]  # fmt: skip


def _labeled_moons(data_dir, first=None):
    """Moons with four labels, those of class ``first`` (if given) before the others."""
    run_page("projects")  # the first start creates the demos
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    from sslcore.demos import load_demo

    truth = load_demo("moons").items.set_index("item_id")["label"]
    items = ["point-0000", "point-0001", "point-0002", "point-0003"]
    for item_id in sorted(items, key=lambda item_id: truth[item_id] != first):
        project.label(item_id, truth[item_id], annotator="tester")
    return project


def _suggested_item(at: AppTest) -> str:
    """The item of the suggestion on the Review page ("Item point-0123 · ranked first...")."""
    caption = next(c.value for c in at.caption if c.value.startswith("Item "))
    return caption.split()[1].replace("\\", "")  # markdown escapes '-'


def test_an_accept_pressed_after_the_suggestion_changed_is_dropped(data_dir):
    project = _labeled_moons(data_dir)
    at = run_page("review", DEMO_PREFIX + "moons")
    shown = _suggested_item(at)
    accept = next(b for b in at.button if b.label == "Accept")
    # Another label, and a rerun (as when the model was chosen again) that draws the next
    # suggestion, all before the press on the one the person saw reaches the server.
    project.label(shown, "lower", annotator="someone else")
    at.run()
    assert _suggested_item(at) != shown
    accept.click().run()
    assert not at.exception
    events = Store(data_dir).open_project(project.id).events()
    assert "accepted" not in set(events["source"])  # not given to the next suggestion


def test_review_accept_and_reject_write_events(data_dir):
    project = _labeled_moons(data_dir)
    at = run_page("review", DEMO_PREFIX + "moons")
    assert not at.exception
    first = at.subheader[0].value
    next(b for b in at.button if b.label == "Accept").click().run()
    events = Store(data_dir).open_project(project.id).events()
    assert events["source"].iloc[-1] == "accepted"
    assert first.startswith(f"Suggested: {events['class_name'].iloc[-1]}")
    next(b for b in at.button if b.label == "Reject").click().run()
    rejected = Store(data_dir).open_project(project.id).rejections()
    assert len(rejected) == 1
    ((item_id, class_name),) = rejected
    assert not at.exception
    # The rejected pair is never suggested again (with two classes the item may come back
    # with the other class).
    same_item = _suggested_item(at) == item_id
    assert not (same_item and at.subheader[0].value.startswith(f"Suggested: {class_name} "))


def _moons_with_labels(data_dir, every=25, first=None):
    """Moons with every ``every``-th item labeled (40 by default): enough for a bulk accept
    at 90% precision to qualify items; the first label is of class ``first`` if given."""
    project = _labeled_moons(data_dir, first)
    from sslcore.demos import load_demo

    truth = load_demo("moons").items.set_index("item_id")["label"]
    for item_id in truth.index[::every]:
        project.label(item_id, truth[item_id], annotator="tester")
    return project


def _tuned(at: AppTest, data_dir, project) -> AppTest:
    """Wait for the model selection the page started in the background, then rerun."""
    from studio.live import _jobs

    jobs, _ = _jobs(str(Path(data_dir).resolve()))
    jobs[project.id].result().wait_for_tuning()
    return at.run()


def _plan(at: AppTest):
    return next(d.value for d in at.dataframe if "qualify" in d.value.columns)


def _bounds_read_as_percent_or_dash(plan) -> None:
    """A class with nothing qualifying says so with a dash, not "None" (seen on SMS)."""
    for qualify, bound in zip(plan["qualify"], plan["precision at least"], strict=True):
        assert bound == "–" if qualify == 0 else bound.endswith("%"), (qualify, bound)


def _bulk_button(at: AppTest):
    return next(b for b in at.button if (b.key or "").startswith("bulk_accept-"))


def test_bulk_accept_and_its_undo(data_dir):
    project = _moons_with_labels(data_dir)
    labeled = len(project.labels())
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    assert at.slider(key="bulk_target").value == pytest.approx(98.0)
    assert list(_plan(at).columns[:3]) == ["class", "predicted", "qualify"]
    _bounds_read_as_percent_or_dash(_plan(at))
    said = next(c.value for c in at.caption if "Calibrated on" in c.value)
    counts = re.search(r"Calibrated on (\d+) labels people gave \((\d+) now\)", said)
    evidence, given = map(int, counts.groups())
    assert given == labeled and 0 < evidence <= given
    at.slider(key="bulk_target").set_value(90.0).run()
    button = _bulk_button(at)
    count = int(button.label.split()[1].replace(",", ""))
    qualify = _plan(at).set_index("class")["qualify"]
    _bounds_read_as_percent_or_dash(_plan(at))
    assert count > 0 and count == qualify[at.selectbox(key="bulk_class").value]
    assert any("of them wrong, at most" in m.value for m in at.markdown)
    button.click().run()
    reopened = Store(data_dir).open_project(project.id)
    assert len(reopened.labels()) == labeled + count
    assert set(reopened.events()["source"].iloc[-count:]) == {"bulk"}
    at.button(key="undo_bulk").click().run()
    assert len(Store(data_dir).open_project(project.id).labels()) == labeled


def test_a_target_nothing_meets_offers_the_highest_one_something_does(data_dir):
    project = _moons_with_labels(data_dir, first="upper")
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    assert list(_plan(at)["class"]) == project.class_names()  # not the order labels came in
    at.slider(key="bulk_target").set_value(99.9).run()
    bulk_class = at.selectbox(key="bulk_class").value
    assert _plan(at).set_index("class")["qualify"][bulk_class] == 0
    assert _bulk_button(at).disabled
    highest = float(_plan(at).set_index("class")["highest target met"][bulk_class].rstrip("%"))
    offer = at.button(key="bulk_reachable")
    offered = float(offer.label.removeprefix("Set the target to ").rstrip("%"))
    # The table rounds to the nearest 0.1%, the offer down to the slider's 0.1 step.
    assert highest - 0.1 - 1e-9 <= offered <= highest + 1e-9
    offer.click().run()
    assert at.slider(key="bulk_target").value == pytest.approx(offered)
    count = int(_bulk_button(at).label.split()[1].replace(",", ""))
    assert count > 0 and count == _plan(at).set_index("class")["qualify"][bulk_class]


def test_review_says_while_the_model_is_chosen_again(data_dir, monkeypatch, request):
    import threading

    from sslcore.selection import Tuner

    gate, tune = threading.Event(), Tuner.tune
    request.addfinalizer(gate.set)  # never leave the selection waiting

    def held_back(self, *args, **kwargs):
        gate.wait(60)
        return tune(self, *args, **kwargs)

    monkeypatch.setattr(Tuner, "tune", held_back)
    project = _moons_with_labels(data_dir)
    at = run_page("review", DEMO_PREFIX + "moons")
    notice = "Choosing the model again for the labels given since"
    assert any(c.value.startswith(notice) for c in at.caption)
    gate.set()
    at = _tuned(at, data_dir, project)
    assert not any(c.value.startswith(notice) for c in at.caption)


def test_the_bulk_target_and_class_stay_while_likely_mistakes_is_open(data_dir):
    project = _moons_with_labels(data_dir)
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    at.slider(key="bulk_target").set_value(90.0).run()
    at.selectbox(key="bulk_class").set_value("upper").run()
    at.session_state["review_tab"] = "Likely mistakes"
    at.run()
    at.session_state["review_tab"] = "Suggestions"
    at.run()
    assert at.slider(key="bulk_target").value == pytest.approx(90.0)
    assert at.selectbox(key="bulk_class").value == "upper"


def test_bulk_button_key_follows_the_candidate_set(data_dir):
    project = _moons_with_labels(data_dir)
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    at.slider(key="bulk_target").set_value(90.0).run()
    before = _bulk_button(at).key
    at.run()
    assert _bulk_button(at).key == before  # the same set, the same button
    from sslcore.session import bulk_candidates
    from studio.live import _jobs

    live = _jobs(str(Path(data_dir).resolve()))[0][project.id].result()
    bulk_class = at.selectbox(key="bulk_class").value
    taken = bulk_candidates(live.engine, bulk_class, 0.9)["item_id"].iloc[-1]
    project.label(taken, bulk_class, annotator="someone else")
    at.run()
    assert _bulk_button(at).key != before  # another set, another button


def test_bulk_accept_leaves_labels_given_since_the_preview(data_dir):
    from sslcore.session import bulk_candidates
    from studio.live import _jobs

    project = _moons_with_labels(data_dir)
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    at.slider(key="bulk_target").set_value(90.0).run()
    bulk_class = at.selectbox(key="bulk_class").value
    other = next(c for c in project.class_names() if c != bulk_class)
    count = int(_bulk_button(at).label.split()[1].replace(",", ""))
    live = _jobs(str(Path(data_dir).resolve()))[0][project.id].result()
    previewed = list(bulk_candidates(live.engine, bulk_class, 0.9)["item_id"])
    assert len(previewed) == count
    taken = previewed[0]
    before = (project.events()["source"] == "bulk").sum()
    _bulk_button(at).click()
    project.label(taken, other, annotator="someone else")  # lands before the click
    at.run()
    events = Store(data_dir).open_project(project.id).events()
    assert Store(data_dir).open_project(project.id).labels()[taken] == other
    assert (events["source"] == "bulk").sum() - before == count - 1


def test_likely_mistakes_show_the_evidence(data_dir):
    project = _moons_with_labels(data_dir)
    from sslcore.demos import load_demo

    truth = load_demo("moons").items.set_index("item_id")["label"]
    wrong = truth.index[100]  # labeled by _moons_with_labels; give it the other class
    other = next(c for c in project.class_names() if c != truth[wrong])
    project.label(wrong, other, annotator="tester")
    at = _tuned(run_page("review", DEMO_PREFIX + "moons"), data_dir, project)
    assert not at.exception
    assert not [t for t in at.text if t.value.startswith("Labeled ")]  # only the open tab is built
    assert {"accept", "reject"} <= {b.label.lower() for b in at.button}
    at.session_state["review_tab"] = "Likely mistakes"
    at.run()
    # No Accept / Reject (keys A and X) while their suggestion is hidden.
    assert not {"accept", "reject"} & {b.label.lower() for b in at.button}
    evidence = [t.value for t in at.text if t.value.startswith(f"Labeled {other}.")]
    assert evidence and f"the model says {truth[wrong]}" in evidence[0]
    assert any(b.key == f"fix-{wrong}" for b in at.button)
    assert any(c.value == f"The nearest items people labeled {truth[wrong]}:" for c in at.caption)


def test_insights_show_the_candidates_of_the_model_selection(data_dir):
    project = _moons_with_labels(data_dir)
    at = _tuned(run_page("insights", DEMO_PREFIX + "moons"), data_dir, project)
    assert not at.exception
    # The features are named by their method (moons is a table), and said to be the only ones.
    assert any(t.value.startswith("In use: spreading on tabular") for t in at.text)
    assert "Features the model is chosen on: tabular." in [c.value for c in at.caption]
    table = next(d.value for d in at.dataframe if "stage" in d.value.columns)
    assert {"name", "score", "accuracy", "chosen"} <= set(table.columns)
    assert table["chosen"].sum() == 1 and len(table) > 3


def test_map_page_draws_the_map_with_the_decision_field(data_dir):
    _labeled_moons(data_dir)
    at = run_page("map", DEMO_PREFIX + "moons")
    assert not at.exception
    figure = at.get("plotly_chart")[0].proto.spec
    import json

    spec = json.loads(figure)
    names = [trace["name"] for trace in spec["data"]]
    assert "lower (human)" in names and "upper (model)" in names
    assert spec["layout"]["images"][0]["source"].startswith("data:image/png;base64,")
    shown_ids = [i for trace in spec["data"] for i in trace["customdata"]]
    assert len(shown_ids) == 1000 and len(set(shown_ids)) == 1000


def test_insights_page_estimates_accuracy(data_dir):
    run_page("projects")
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    from sslcore.demos import load_demo

    truth = load_demo("moons").items.set_index("item_id")["label"]
    for item_id in truth.index[:24]:
        project.label(item_id, truth[item_id], annotator="tester")
    at = run_page("insights", DEMO_PREFIX + "moons")
    assert not at.exception
    assert at.metric[0].value == "24 / 1,000"
    at.button(key="estimate").click().run()
    assert not at.exception
    curve = at.session_state["learning-curve"][1]
    assert curve["labels"].iloc[-1] == 24
    assert curve["accuracy"].between(0, 1).all()
    assert curve["accuracy"].iloc[-1] > 0.8  # moons with 24 labels is an easy case


def test_two_annotators_are_never_shown_the_same_item(data_dir):
    first = run_page("label", DEMO_PREFIX + "digits")
    second = app("label", DEMO_PREFIX + "digits", annotator="someone else").run()
    mine, theirs = item_on_screen(first, 1), item_on_screen(second, 1)
    assert mine != theirs
    held = Store(data_dir).open_project(DEMO_PREFIX + "digits").reservations()
    assert held[mine][0] == "tester" and held[theirs][0] == "someone else"


def test_user_strings_are_inert_in_markdown(data_dir):
    """Class names, ids and project names never become links, images or HTML."""
    import pandas as pd

    from sslcore.dataset import Dataset

    evil = "![x](http://example.com/a.png)"
    items = pd.DataFrame({"item_id": ["[id](http://example.com)"], "text": ["hi"],
                          "label": [None]})  # fmt: skip
    project = Store(data_dir).create_project(
        "**bold** <b>p</b>", Dataset("d", "text", items), class_names=[evil, "<b>x</b>"]
    )
    at = run_page("label", project.name)
    assert not at.exception
    labels = [b.label for b in at.button]
    joiner = "\u2060"  # between "http" and "://": no autolink (studio.components.md)
    assert r"\!\[x\]\(http" + joiner + r"://example\.com/a\.png\)" in labels
    assert r"\<b\>x\</b\>" in labels
    assert at.title[0].value.endswith(r"\*\*bold\*\* \<b\>p\</b\>")
    assert r"Item \[id\]\(http" + joiner + r"://example\.com\)" in [c.value for c in at.caption]


def test_the_annotator_is_asked_once_per_session(data_dir):
    at = app("label", annotator=None).run()
    assert not at.exception
    assert at.subheader[0].value == "Who is labeling?"
    assert not any(b.label in {str(d) for d in range(10)} for b in at.button)
    at.text_input[0].set_value("Ada")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert at.session_state["annotator"] == "Ada"
    assert any(b.label == "7" for b in at.button)


def test_keys_per_class_are_saved_and_used_on_the_label_page(data_dir):
    at = run_page("projects", DEMO_PREFIX + "moons")
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    lower, upper = project.classes()
    at.text_input(key=f"key-{lower.id}").set_value("l")
    at.text_input(key=f"key-{upper.id}").set_value("u")
    next(b for b in at.button if b.label == "Save keys").click().run()
    assert "The key 'U' of class 'upper' is taken by Undo" in at.error[0].value
    at.text_input(key=f"key-{upper.id}").set_value("p")
    next(b for b in at.button if b.label == "Save keys").click().run()
    assert not at.exception and not at.error
    at = run_page("label", DEMO_PREFIX + "moons")
    shortcuts = {b.label: b.proto.shortcut.upper() for b in at.button}
    assert shortcuts["lower"] == "L" and shortcuts["upper"] == "P"


def test_the_label_page_shows_a_build_in_progress_and_labels_meanwhile(data_dir, monkeypatch):
    import threading

    from sslcore.session import ProjectEngine

    release = threading.Event()
    build = ProjectEngine.build

    def slow_build(*args, **kwargs):
        release.wait(60)
        return build(*args, **kwargs)

    monkeypatch.setattr("studio.live.BUILD_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(ProjectEngine, "build", slow_build)
    at = run_page("label", DEMO_PREFIX + "moons")
    assert not at.exception
    assert at.get("progress")[0].proto.text.startswith("Preparing the model:")
    shown = item_on_screen(at, 2)
    next(b for b in at.button if b.label == "upper").click().run()
    assert Store(data_dir).open_project(DEMO_PREFIX + "moons").labels() == {shown: "upper"}
    release.set()


def test_the_map_legend_follows_the_project_class_order(data_dir):
    import json

    run_page("projects")  # the first start creates the demos
    project = Store(data_dir).open_project(DEMO_PREFIX + "moons")
    assert project.class_names() == ["lower", "upper"]
    project.label("point-0001", "upper", annotator="tester")  # first labeled: upper
    project.label("point-0000", "lower", annotator="tester")
    at = run_page("map", DEMO_PREFIX + "moons")
    assert not at.exception
    names = [t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]]
    assert names == ["lower (model)", "upper (model)", "lower (human)", "upper (human)"]


def test_map_hover_rounds_numbers_and_names_the_models_guess():
    import numpy as np

    from sslcore.demos import load_demo
    from studio.charts import hover_texts, map_figure

    moons = load_demo("moons")
    texts = hover_texts(moons)
    assert texts[0] == "x={:.4g}, y={:.4g}".format(*moons.items[["x", "y"]].iloc[0])
    figure = map_figure(
        np.zeros((2, 2)), np.array(["a", "b"]), np.array([None, None]),
        np.array(["<b>x</b>", "y"]), np.array([0.9, 0.6]), ["<b>x</b>", "y"],
        {"<b>x</b>": "#000000", "y": "#111111"}, hover=["one", "two"],
    )  # fmt: skip
    hovers = [t for trace in figure.data for t in trace.text]
    assert hovers == ["a<br>one<br>model: &lt;b&gt;x&lt;/b&gt; (90%)", "b<br>two<br>model: y (60%)"]


def test_review_confirms_an_accept_and_undoes_it(data_dir):
    project = _labeled_moons(data_dir)
    at = run_page("review", DEMO_PREFIX + "moons")
    next(b for b in at.button if b.label == "Accept").click().run()
    ((item_id, class_name),) = [
        (i, c) for i, c in Store(data_dir).open_project(project.id).labels().items()
        if i not in {"point-0000", "point-0001", "point-0002", "point-0003"}
    ]  # fmt: skip
    assert at.success[0].value == md(f"Accepted {item_id} → {class_name}.")
    at.button(key="undo_decision").click().run()
    assert item_id not in Store(data_dir).open_project(project.id).labels()
    assert at.success[0].value == md(f"Undid the accepted suggestion {item_id} → {class_name}.")
    next(b for b in at.button if b.label == "Reject").click().run()
    assert at.success[0].value.startswith("Rejected ")
    at.button(key="undo_decision").click().run()
    assert not Store(data_dir).open_project(project.id).rejections()


def test_class_balance_has_one_tick_per_class_in_project_order(data_dir):
    import json

    run_page("projects")
    project = Store(data_dir).open_project(DEMO_PREFIX + "digits")
    from sslcore.demos import load_demo

    truth = load_demo("digits").items.set_index("item_id")["label"]
    for item_id in truth.index[:30]:
        project.label(item_id, truth[item_id], annotator="tester")
    at = run_page("insights", DEMO_PREFIX + "digits")
    assert not at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    balance = next(c for c in charts if c["data"][0]["type"] == "bar")
    assert balance["layout"]["xaxis"]["type"] == "category"
    assert balance["layout"]["xaxis"]["categoryarray"] == [str(d) for d in range(10)]


def test_a_table_row_shows_where_it_sits_on_the_map(data_dir):
    import io

    import numpy as np
    from PIL import Image

    from studio.charts import mini_map

    coords = np.array([[0.0, 0.0], [10.0, 10.0], [10.0, 0.0]])
    picture = np.asarray(Image.open(io.BytesIO(mini_map(coords, 2, size=100))))
    red = np.argwhere((picture[..., 0] > 200) & (picture[..., 1] < 80))
    row, column = red.mean(axis=0)
    assert column > 80 and row > 80  # bottom right: x high, y low
    at = run_page("label", DEMO_PREFIX + "moons")
    assert not at.exception
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    assert captions == ["Where it sits on the map (red ring)"]


def test_grid_labels_all_but_the_items_left_out(data_dir):
    project = _labeled_moons(data_dir)
    at = run_page("grid", DEMO_PREFIX + "moons")
    assert not at.exception
    assert at.subheader[0].value == "24 items the model is most sure are 'lower'"
    toggles = [b for b in at.button if b.label == "Leave out"]
    assert len(toggles) == 24
    shown = [b.key.removeprefix(f"grid-toggle-{project.id}-") for b in toggles]
    toggles[3].click().run()
    assert sum(b.label == "Put back" for b in at.button) == 1
    next(b for b in at.button if b.label == "Label 23 items as lower").click().run()
    labels = Store(data_dir).open_project(project.id).labels()
    assert shown[3] not in labels
    assert all(labels[i] == "lower" for i in shown if i != shown[3])
    events = Store(data_dir).open_project(project.id).events()
    assert events["batch_id"].iloc[-23:].nunique() == 1
    following = [b.key.removeprefix(f"grid-toggle-{project.id}-") for b in at.button
                 if b.label == "Leave out"]  # fmt: skip
    assert following and not set(following) & set(shown)  # the next grid: new items
    note = "Labeled 23 items as lower; left out 1. U undoes them at once."
    assert at.success[0].value == md(note)
