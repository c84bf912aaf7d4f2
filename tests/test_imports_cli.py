"""`crm import` and `crm imports`: a dry run, all or nothing, --partial with a file of the rejected
rows, undo; bad input is one clear error and a non-zero exit, never a traceback."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.models import ImportRun
from tests.test_imports import csv_bytes, item_by_sku


def test_cli_import_dry_run_partial_rejects_and_undo(runner, app, session, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(csv_bytes([["Nombre", "Referencia", "Precio"], ["Uno", "CLI-1", "1,5"], ["Dos", "CLI-2", "x"]],
                               delimiter=";"))
    result = runner.invoke(["import", "products", str(path), "--dry-run"])
    assert result.exit_code == 1 and "row 3, column 'Precio': must be a number" in result.output
    assert item_by_sku(session, "CLI-1") is None
    result = runner.invoke(["import", "products", str(path)])
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert item_by_sku(session, "CLI-1") is None
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(["import", "products", str(path), "--partial", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert item_by_sku(session, "CLI-1").unit_price == Decimal("1.5")
    assert "must be a number" in rejects.read_text()
    run_id = session.scalar(select(ImportRun.id))
    session.commit()
    result = runner.invoke(["imports", "undo", str(run_id)])
    assert result.exit_code == 0 and "1 deleted" in result.output
    assert item_by_sku(session, "CLI-1") is None


@pytest.mark.parametrize("args, words", [
    (["import", "products", "/nonexistent.csv"], "cannot be read"),
    (["import", "planets", "x.csv"], "Invalid value"),
    (["import", "products", "FILE", "--mapping", "nope"], "no saved mapping"),
    (["import", "products", "FILE", "--key", "email"], "key"),
    (["import", "products", "FILE", "--rejects", "r.csv"], "--rejects needs --partial"),
    (["imports", "undo", "999"], "not found"),
])
def test_cli_bad_input_is_one_clear_error(runner, tmp_path, args, words):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([["Name", "Unit price"], ["A", "1"]]))
    result = runner.invoke([str(path) if a == "FILE" else a for a in args])
    assert result.exit_code != 0 and words in result.output, result.output
    assert "Traceback" not in result.output


def test_cli_refuses_a_file_above_the_size_limit(runner, app, tmp_path):
    app.config["IMPORT_MAX_BYTES"] = 1000
    path = tmp_path / "big.csv"
    path.write_bytes(b"Name,Unit price\n" + b"A,1\n" * 1000)
    result = runner.invoke(["import", "products", str(path)])
    assert result.exit_code == 1 and "at most" in result.output and "split it" in result.output
