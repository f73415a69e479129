"""The command line's parsing (openturk/cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openturk.cli import build_parser, main
from openturk.store.database import Database


@pytest.mark.parametrize(
    "argv",
    [
        ["deliveries", "--db", "sqlite:///elsewhere.db", "redrive"],
        ["deliveries", "redrive", "--db", "sqlite:///elsewhere.db"],
        ["deliveries", "redrive", "7", "--db", "sqlite:///elsewhere.db"],
    ],
)
def test_redrive_takes_the_database_named_before_or_after_it(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.action, args.db) == ("redrive", "sqlite:///elsewhere.db")


def test_deliveries_default_to_the_local_database() -> None:
    assert build_parser().parse_args(["deliveries", "redrive"]).db == "sqlite:///openturk.db"
    assert build_parser().parse_args(["deliveries"]).db == "sqlite:///openturk.db"


def test_serve_refuses_several_processes_on_an_in_memory_database(capsys: pytest.CaptureFixture[str]) -> None:
    """Each process would have had a database of its own: refused before anything starts."""
    from openturk.cli import main

    assert main(["serve", "--db", "sqlite:///:memory:", "--workers", "2"]) == 2
    assert "in-memory database lives in one process" in capsys.readouterr().out


def test_deliveries_refuses_a_database_file_that_is_not_there(tmp_path: Path) -> None:
    """A typo in --db used to make an empty database and list nothing, with status 0."""
    missing = tmp_path / "typo.db"
    assert main(["deliveries", "--db", f"sqlite:///{missing}"]) == 2
    assert main(["deliveries", "redrive", "--db", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()


def test_deliveries_refuses_a_since_that_is_no_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Database(url).migrate()
    assert main(["deliveries", "--db", url, "--since", "1e17"]) == 2
    assert main(["deliveries", "--db", url, "--since", "0"]) == 0


@pytest.mark.parametrize(
    "command", [["tail"], ["consume", "--handler", "m:r"], ["route", "--to", "HITExpired=http://q"]]
)
def test_a_bad_aws_endpoint_is_a_usage_error(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    queue = ["--from", "http://127.0.0.1:1/1/q"] if command[0] == "route" else ["--queue-url", "http://127.0.0.1:1/1/q"]
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*command, *queue, "--aws-endpoint", "not a url"])
    assert exited.value.code == 2
    assert "--aws-endpoint" in capsys.readouterr().err
