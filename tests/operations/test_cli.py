"""`foredeck import`, `foredeck export` and `foredeck settings` against a local data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from foredeck.cli.main import app
from foredeck.cli.operations import parse_mapping


def test_parse_mapping() -> None:
    assert parse_mapping("content=text,external_id=id,metadata=a+b") == {
        "content": "text",
        "external_id": "id",
        "metadata": ["a", "b"],
    }
    assert parse_mapping('{"metadata": "*"}') == {"metadata": "*"}


def test_cli_import_export_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "var"
    source = tmp_path / "notes.jsonl"
    source.write_text(
        "\n".join(
            json.dumps({"key": f"n{i}", "body": f"note {i}", "topic": "t"}) for i in range(40)
        )
    )
    args = ["--collection", "cli", "--mapping", "content=body,external_id=key,metadata=topic"]
    first = runner.invoke(app, ["import", str(source), *args, "--data-dir", str(data_dir)])
    assert first.exit_code == 0, first.output
    assert "40" in first.output
    again = runner.invoke(app, ["import", str(source), *args, "--data-dir", str(data_dir)])
    assert again.exit_code == 0, again.output
    out = tmp_path / "out.parquet"
    exported = runner.invoke(
        app,
        [
            "export",
            "--format",
            "parquet",
            "--collection",
            "cli",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert exported.exit_code == 0, exported.output
    table = pq.read_table(out)
    assert table.num_rows == 40
    assert sorted(table.column("external_id").to_pylist()) == sorted(f"n{i}" for i in range(40))
    assert json.loads(table.column("metadata")[0].as_py()) == {"topic": "t"}

    bad = runner.invoke(
        app, ["import", str(source), "--mapping", "content=nope", "--data-dir", str(data_dir)]
    )
    assert bad.exit_code == 1 and "mapping.content" in bad.output

    stored = runner.invoke(
        app, ["settings", "set", "retention", '{"export_days": 2}', "--data-dir", str(data_dir)]
    )
    assert stored.exit_code == 0, stored.output
    refused = runner.invoke(
        app, ["settings", "set", "retention", '{"export_days": 0}', "--data-dir", str(data_dir)]
    )
    assert refused.exit_code == 1
    shown = runner.invoke(app, ["settings", "show", "retention", "--data-dir", str(data_dir)])
    assert '"export_days": 2' in shown.output


def test_cli_settings_import_config(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "var"
    config_file = tmp_path / "foredeck.yaml"
    config_file.write_text("retention:\n  export_days: 9\nindex:\n  type: nope\n")
    env = {"FOREDECK_CONFIG_FILE": str(config_file), "FOREDECK_RETENTION_JOB_DAYS": "12"}
    result = runner.invoke(app, ["settings", "import-config", "--data-dir", str(data_dir)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported: retention" in result.output and "skipped index" in result.output
    shown = runner.invoke(app, ["settings", "show", "retention", "--data-dir", str(data_dir)])
    assert '"export_days": 9' in shown.output and '"job_days": 12' in shown.output
