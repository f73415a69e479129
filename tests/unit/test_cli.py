"""The command line's parsing (openturk/cli.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
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


@pytest.mark.parametrize(
    "command",
    [
        ["db", "sums", "--db", "{url}"],
        ["db", "copy", "--from", "{url}", "--to", "sqlite:///{other}"],
        ["dispatch", "--db", "{url}"],
        ["workers", "disable", "AWORKER1", "--db", "{url}"],
        ["workers", "enable", "AWORKER1", "--db", "{url}"],
    ],
)
def test_commands_that_act_on_a_deployment_refuse_a_database_file_that_is_not_there(
    tmp_path: Path, command: list[str]
) -> None:
    """They made an empty database (and ``db sums`` then failed with a traceback; ``dispatch`` ran on it)."""
    missing, other = tmp_path / "typo.db", tmp_path / "other.db"
    assert main([part.format(url=f"sqlite:///{missing}", other=other) for part in command]) == 2
    assert not missing.exists() and not other.exists()


def test_db_sums_prints_whole_checksums_when_piped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Database(url).migrate()
    assert main(["db", "sums", "--db", url]) == 0
    empty_table = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of nothing
    assert empty_table in capsys.readouterr().out


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


@pytest.mark.parametrize(
    "command", [["serve"], ["requesters", "create", "lab"], ["layouts", "list", "--access-key-id", "AKIDX"]]
)
def test_a_starting_balance_that_is_no_amount_is_a_usage_error(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--starting-balance", "abc"])
    assert exit_.value.code == 2
    assert "'abc' is not an amount in USD" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["requesters", "create", "n" * 256],
        ["workers", "create", "n" * 256],
        ["workers", "create", "w", "--email", "e" * 250 + "@x.io"],
        ["layouts", "create", "n" * 256, "t.html", "--access-key-id", "AKIDX"],
    ],
)
def test_names_longer_than_their_column_are_usage_errors(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite stored them; PostgreSQL, and so ``db copy`` to it, refused them with a traceback."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(command)
    assert exit_.value.code == 2 and "characters, not" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["requesters", "create", " "], "must not be empty"),
        (["layouts", "create", "", "t.html", "--access-key-id", "AKIDX"], "must not be empty"),
        (["layouts", "create", "n", "t.html", "--access-key-id", ""], "is not an access key id"),
        (["layouts", "list", "--access-key-id", "AKID X"], "is not an access key id"),
    ],
)
def test_empty_names_and_keys_no_request_could_name_are_usage_errors(
    command: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``layouts create --access-key-id ""`` made a requester with a random key, never printed."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(command)
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_db_commands_name_a_database_they_cannot_open_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    Database(source).migrate()
    unopenable = f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"
    assert main(["db", "upgrade", "--db", unopenable]) == 1
    assert main(["db", "copy", "--from", source, "--to", unopenable]) == 1
    out = capsys.readouterr().out
    assert out.count("unable to open database file") == 2 and "Traceback" not in out


@pytest.mark.parametrize("option", ["--port", "--task-port"])
def test_serve_refuses_a_port_another_process_listens_on_before_starting_anything(tmp_path: Path, option: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--task-port": "0", option: str(port)}
        done = subprocess.run(
            [sys.executable, "-m", "openturk.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}"]
            + [item for pair in ports.items() for item in pair]
            + ["--aws-endpoint", "http://127.0.0.1:9"],  # no local AWS to start either
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{option} {port} on 127.0.0.1" in done.stdout and "Traceback" not in done.stderr
    assert "Requester API at" not in done.stdout  # refused before the banner: nothing started


def test_a_database_may_be_given_as_an_sqlite_files_path() -> None:
    """``--db openturk.db`` was a SQLAlchemy traceback ("Could not parse SQLAlchemy URL")."""
    parser = build_parser()
    assert parser.parse_args(["deliveries", "--db", "openturk.db"]).db == "sqlite:///openturk.db"
    assert parser.parse_args(["workers", "disable", "AW1", "--db", "/srv/x.db"]).db == "sqlite:////srv/x.db"
    copied = parser.parse_args(["db", "copy", "--from", "old.db", "--to", "postgresql://u@h/openturk"])
    assert (copied.source, copied.target) == ("sqlite:///old.db", "postgresql://u@h/openturk")
    assert parser.parse_args(["db", "sums", "--db", "sqlite:///a.db"]).db == "sqlite:///a.db"
