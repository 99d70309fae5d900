"""The sample files in data/samples/ import as data/README.md says."""

from pathlib import Path

from sslcore.cli import main

SAMPLES = Path(__file__).parents[1] / "data" / "samples"


def test_every_sample_imports_with_the_readme_command(tmp_path, capsys):
    commands = {
        "support_tickets.csv": "--text-column message --id-column id --label-column intent",
        "transactions.csv": "--feature-columns amount,hour,country,merchant "
        "--id-column transaction --label-column status",
        "shapes.zip": "",
    }
    readme = (SAMPLES.parent / "README.md").read_text()
    for file, options in commands.items():
        assert f"data/samples/{file} {options}".strip() in readme
        argv = ["--data-dir", str(tmp_path), "import", str(SAMPLES / file), *options.split()]
        assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "imported 40 text items" in out and "(12 labeled)" in out
    assert "imported 60 tabular items" in out and "(20 labeled)" in out
    assert "imported 18 image items" in out and "(18 labeled)" in out
