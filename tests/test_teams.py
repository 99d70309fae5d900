"""Teams in the studio and the command line: accounts, sign-in and roles, the listening
check, the Conflicts page and the agreement block on Insights."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import BACKENDS, sql
from streamlit.testing.v1 import AppTest

from sslcore.accounts import Accounts, exposure_refusal, hash_password, verify_password
from sslcore.cli import main
from sslcore.demos import DEMO_PREFIX, ensure_demo_projects
from sslcore.errors import StoreError
from sslcore.store import Store

BACKENDS = BACKENDS
ROOT = Path(__file__).parents[1]
MOONS = DEMO_PREFIX + "moons"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SSLABEL_DATABASE_URL", raising=False)
    store = Store(tmp_path)
    ensure_demo_projects(store, ["moons"])
    store.close()
    return tmp_path


def studio(page: str, annotator: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["project_name"] = MOONS
    if annotator:
        at.session_state["annotator"] = annotator
    return at.switch_page(f"studio/app_pages/{page}.py")


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


# Accounts ------------------------------------------------------------------------------


def test_passwords_are_stored_salted_and_never_in_clear(store):
    Accounts(store).add("ann", "owner", "long enough")
    ((stored,),) = sql(store, "SELECT password_hash FROM accounts")
    assert "long enough" not in stored and verify_password("long enough", stored)
    assert hash_password("same words") != hash_password("same words")  # a salt each time


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda a: a.add("bob", "boss", "long enough"), "Unknown role 'boss'"),
        (lambda a: a.add("bob", "owner", "short"), "at least 8 characters"),
        (lambda a: a.add("ann", "owner", "long enough"), "account 'ann' already"),
        (lambda a: a.add(" ", "owner", "long enough"), "name of 1 to 80"),
        (lambda a: a.remove("zed"), "no account 'zed'"),
    ],
)
def test_bad_account_calls_are_refused(store, call, match):
    team = Accounts(store)
    team.add("ann", "owner", "long enough")
    with pytest.raises(StoreError, match=match):
        call(team)
    assert list(team.table()["name"]) == ["ann"]


def test_users_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert main(["users", "add", "ann", "--role", "reviewer", "--password-stdin",
                 "--data-dir", str(tmp_path)]) == 0  # fmt: skip
    assert main(["users", "list", "--data-dir", str(tmp_path)]) == 0
    assert ["ann", "reviewer"] in [line.split() for line in capsys.readouterr().out.splitlines()]
    assert Accounts(Store(tmp_path)).sign_in("ann", "s3cret-pass") == "reviewer"
    assert main(["users", "remove", "ann", "--data-dir", str(tmp_path)]) == 0
    assert main(["users", "remove", "ann", "--data-dir", str(tmp_path)]) == 2
    assert "There is no account 'ann'" in capsys.readouterr().err


def test_cli_database_url_reaches_the_shared_store(tmp_path, capsys, monkeypatch, database_url):
    if database_url is None:
        pytest.skip("PostgreSQL only")
    url = ["--database-url", database_url]
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert main([*url, "users", "add", "ann", "--password-stdin",
                 "--data-dir", str(tmp_path / "one")]) == 0  # fmt: skip
    assert main(["users", "list", *url, "--data-dir", str(tmp_path / "two")]) == 0
    assert ["ann", "annotator"] in [line.split() for line in capsys.readouterr().out.splitlines()]


def test_cli_refuses_a_database_it_cannot_use(tmp_path, capsys):
    assert main(["--database-url", "mysql://u@h/db", "--data-dir", str(tmp_path), "projects"]) == 2
    assert "sslabel stores projects in SQLite or PostgreSQL, not in 'mysql'" in (
        capsys.readouterr().err
    )


# Listening beyond this machine -----------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "studio.example.org"])
def test_app_refuses_to_listen_beyond_loopback_without_sign_in(tmp_path, capsys, host):
    assert main(["app", "--host", host, "--no-demos", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"refusing to listen on {host} without sign-in" in err
    assert "sslabel users add" in err and "--no-sign-in" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_sign_in(host):
    assert exposure_refusal(host, sign_in=False, open_ok=False) is None


def test_an_account_or_an_explicit_opt_out_allows_other_addresses():
    assert exposure_refusal("0.0.0.0", sign_in=True, open_ok=False) is None
    assert exposure_refusal("0.0.0.0", sign_in=False, open_ok=True) is None


# Sign-in and roles in the studio ---------------------------------------------------------


def test_without_accounts_the_studio_is_open(data_dir):
    at = studio("label", annotator="ann").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Label · Demo: moons"]


def test_with_an_account_everyone_signs_in_first(data_dir):
    Accounts(Store(data_dir)).add("ann", "annotator", "s3cret-pass")
    at = studio("label", annotator="someone").run()
    assert [t.value for t in at.title] == ["Sign in"]
    at = sign_in(at, "ann", "wrong-pass")
    assert [e.value for e in at.error] == ["Wrong name or password."]
    at = sign_in(at, "ann", "s3cret-pass")
    assert not at.exception
    assert at.session_state["annotator"] == "ann"  # labels go under the account's name
    assert at.sidebar.text_input[0].disabled
    next(b for b in at.button if b.label == "upper").click().run()
    events = Store(data_dir).open_project(MOONS).events()
    assert list(events["annotator"]) == ["ann"]


@pytest.mark.parametrize(
    "role, allowed", [("annotator", False), ("reviewer", True), ("owner", True)]
)
def test_review_page_is_for_reviewers(data_dir, role, allowed):
    Accounts(Store(data_dir)).add("ann", role, "s3cret-pass")
    at = sign_in(studio("review").run(), "ann", "s3cret-pass")
    assert not at.exception
    titles = [t.value for t in at.title]
    assert (titles == ["Review suggestions · Demo: moons"]) == allowed


# Conflicts and agreement -----------------------------------------------------------------


def disputed_moons(data_dir) -> list[str]:
    project = Store(data_dir).open_project(MOONS)
    project.set_overlap(2)
    items = sorted(project.item_ids())[:6]
    for k, item in enumerate(items):
        project.label(item, "upper", annotator="ann")
        project.label(item, "upper" if k % 3 else "lower", annotator="bob")
    return items


def test_conflicts_page_shows_who_said_what_and_resolves(data_dir):
    items = disputed_moons(data_dir)
    at = studio("conflicts", annotator="rev").run()
    assert not at.exception
    assert at.selectbox(key="conflict-item").options == [items[0], items[3]]
    said = at.dataframe[1].value  # after the item's own features
    assert sorted(zip(said["annotator"], said["class"], strict=True)) == [
        ("ann", "upper"), ("bob", "lower"),
    ]  # fmt: skip
    assert at.radio(key=f"resolve-class-{items[0]}").value is None  # nothing preset
    at.button[-1].click().run()  # the form's Resolve button, nothing picked: no event
    assert "Pick the class this item is, then Resolve." in [w.value for w in at.warning]
    assert Store(data_dir).open_project(MOONS).conflicts() == [items[0], items[3]]
    at.radio(key=f"resolve-class-{items[0]}").set_value("lower")
    at.button[-1].click().run()
    project = Store(data_dir).open_project(MOONS)
    assert project.conflicts() == [items[3]]
    assert project.labels()[items[0]] == "lower"
    assert project.events()["source"].tolist().count("resolved") == 1
    # The next dispute starts with nothing picked, not with the last item's choice.
    assert at.selectbox(key="conflict-item").value == items[3]
    assert at.radio(key=f"resolve-class-{items[3]}").value is None


def test_conflicts_page_for_an_annotator_has_no_resolve_button(data_dir):
    disputed_moons(data_dir)
    Accounts(Store(data_dir)).add("ann", "annotator", "s3cret-pass")
    at = sign_in(studio("conflicts").run(), "ann", "s3cret-pass")
    assert not at.exception
    assert "Resolve" not in [b.label for b in at.button]
    assert "A reviewer or the owner resolves disputes." in [c.value for c in at.caption]


def test_insights_shows_agreement(data_dir):
    disputed_moons(data_dir)
    at = studio("insights", annotator="rev").run()
    assert not at.exception
    alpha = next(m for m in at.metric if m.label.startswith("Krippendorff"))
    # 6 items x 2 votes: 4 agree on "upper", 2 split: o_uu = 8, o_ul = o_lu = 2, n_u = 10,
    # n_l = 2, n = 12; alpha = 1 - 11 * 4 / (2 * 10 * 2) = -0.1.
    assert float(alpha.value) == pytest.approx(-0.1, abs=0.005)
