"""The local AWS's state file, its durable answers, its port check and where its state lives."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openturk import cli
from openturk.notify import local_aws_state as state
from openturk.notify.local_aws import LocalAWS, LocalAWSError, state_path
from openturk.notify.local_aws_server import DurableApp, Snapshots
from openturk.ports import free_port

ACCOUNT = "000000004242"  # an account no other test uses: moto's backends are process-global
REGION = "us-east-1"


def sqs_backend() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION]


@pytest.fixture
def clean_account() -> Iterator[None]:
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    yield
    for backends in (sqs_backends, sns_backends):
        backends.pop(ACCOUNT, None)


def forget_account() -> None:
    """As after a restart: the account's backends are gone from this process."""
    from moto.sqs.models import sqs_backends

    sqs_backends.pop(ACCOUNT, None)


@pytest.mark.parametrize(
    ("given", "db_url", "expected"),
    [
        (None, "sqlite:///data/openturk.db", Path("data/openturk.db.local-aws")),
        (None, "sqlite:////srv/x.db", Path("/srv/x.db.local-aws")),
        (None, "postgresql://u@h/db", Path("openturk.local-aws")),
        (None, "sqlite://", None),
        (None, "sqlite:///:memory:", None),
        ("/elsewhere/aws.state", "sqlite:///openturk.db", Path("/elsewhere/aws.state")),
    ],
)
def test_the_state_lives_next_to_the_database_unless_given(given: str | None, db_url: str, expected: Path) -> None:
    assert state_path(given, db_url) == expected


def test_a_snapshot_brings_back_queues_and_messages_in_flight_with_their_handles(
    tmp_path: Path, clean_account: None
) -> None:
    backend = sqs_backend()
    backend.create_queue("kept", VisibilityTimeout="600")
    backend.send_message("kept", "waiting")
    backend.send_message("kept", "in flight")
    [received] = backend.receive_message("kept", 1, 0, 600)
    path = tmp_path / "state"
    state.StateFile(path).save()
    forget_account()

    assert state.StateFile(path).restore() is True
    queue = sqs_backend().get_queue("kept")
    assert queue.visibility_timeout == 600
    assert sorted(m.body for m in queue._messages) == ["in flight", "waiting"]
    [visible] = sqs_backend().receive_message("kept", 10, 0, 30)
    assert visible.body != received.body  # the other one is still in flight
    sqs_backend().delete_message("kept", received.receipt_handle)  # its handle still names it
    # A long poll on a restored queue waits on the state lock's Condition, so it lets the lock go.
    assert queue._messages_lock._lock is state.STATE_LOCK
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_snapshot_written_before_the_dispatch_table_still_loads(tmp_path: Path, clean_account: None) -> None:
    """Earlier snapshots (format 1) stored each queue's Condition as a persistent id; a file left by them loads."""
    backend = sqs_backend()
    backend.create_queue("older")
    backend.send_message("older", "kept from before")

    class PersistentIdPickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> str | None:
            return "threading.Condition" if isinstance(obj, threading.Condition) else None

    services = {
        name: {account: dict(regions) for account, regions in backends.items()}
        for name, backends in state._service_backends().items()
    }
    path = tmp_path / "state"
    with path.open("wb") as file, state.STATE_LOCK:
        PersistentIdPickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(
            {"format": 1, "moto": state._moto_version(), "services": services}
        )
    forget_account()

    assert state.StateFile(path).restore() is True
    queue = sqs_backend().get_queue("older")
    assert [m.body for m in queue._messages] == ["kept from before"]
    assert queue._messages_lock._lock is state.STATE_LOCK


def test_no_file_is_a_first_start(tmp_path: Path) -> None:
    assert state.StateFile(tmp_path / "missing").restore() is False


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a pickle", "not a readable local AWS state file"),
        (pickle.dumps({"format": 1, "moto": "0.0.1", "services": {}}), "written by moto 0.0.1"),
    ],
)
def test_an_unreadable_file_is_set_aside_and_kept(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "state"
    path.write_bytes(content)
    with pytest.raises(state.StateUnreadable, match=reason):
        state.StateFile(path).restore()
    warning = state.StateFile(path).restore_or_set_aside()
    assert warning is not None and reason in warning
    [aside] = tmp_path.glob("state.unreadable-*")
    assert aside.read_bytes() == content and not path.exists() and str(aside) in warning


def creates_a_queue(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    sqs_backend().create_queue(environ["PATH_INFO"].strip("/"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"created"]


def call(app: DurableApp, path: str) -> tuple[str, bytes]:
    answered: list[str] = []
    body = b"".join(app({"PATH_INFO": path}, lambda status, headers, exc_info=None: answered.append(status)))
    return answered[0], body


def test_a_change_is_on_disk_before_it_is_answered(tmp_path: Path, clean_account: None) -> None:
    path = tmp_path / "state"
    snapshots = Snapshots(state.StateFile(path))
    app = DurableApp(creates_a_queue, snapshots, {"pid": 1, "state": str(path)})
    assert call(app, "/first") == ("200 OK", b"created")
    assert call(app, "/second") == ("200 OK", b"created")
    snapshots.close()
    forget_account()
    state.StateFile(path).restore()
    assert {q.name for q in sqs_backend().queues.values()} == {"first", "second"}


def test_a_change_that_cannot_be_saved_is_never_acknowledged(tmp_path: Path, clean_account: None) -> None:
    path = tmp_path / "no such directory" / "state"
    snapshots = Snapshots(state.StateFile(path), retry_s=0.05)
    app = DurableApp(creates_a_queue, snapshots, {"pid": 1, "state": str(path)}, 0.5)
    status, body = call(app, "/unsaved")
    snapshots.close()
    assert status.startswith("503") and b"could not save its state" in body


def test_without_a_state_file_requests_still_run_one_at_a_time_and_a_long_poll_lets_others_in(
    clean_account: None,
) -> None:
    # moto's backends are not safe for two requests at once: two ReceiveMessage calls on one queue
    # changed its set of in-flight messages under each other ("Set changed size during iteration").
    state.bind_queue_conditions()
    queue = sqs_backend().create_queue("one-at-a-time")
    inside: list[int] = []
    most_inside: list[int] = [0]
    poll_waiting = threading.Event()

    def counts_who_is_inside(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        inside.append(1)
        most_inside[0] = max(most_inside[0], len(inside))
        if environ["PATH_INFO"] == "/long-poll":
            poll_waiting.set()
            queue.wait_for_messages(5)  # lets the lock go while it waits, as a long-polling receive does
        else:
            threading.Event().wait(0.01)
        inside.pop()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    app = DurableApp(counts_who_is_inside, None, {"pid": 1, "state": None})
    poll = threading.Thread(target=call, args=(app, "/long-poll"))
    poll.start()
    assert poll_waiting.wait(5)
    most_inside[0] = 0
    callers = [threading.Thread(target=call, args=(app, f"/{n}")) for n in range(8)]
    started = time.monotonic()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)
    assert time.monotonic() - started < 4  # none waited for the long poll to end
    assert most_inside[0] == 2  # the waiting long poll and one other, never two others at once
    sqs_backend().send_message("one-at-a-time", "wake up")
    poll.join(10)
    assert not poll.is_alive()


def test_a_port_held_by_another_openturk_local_aws_is_waited_for_then_refused() -> None:
    other = LocalAWS(free_port()).start()
    try:
        assert other.process is not None
        # Names the process to stop: the one that started the local AWS (here, this test's).
        held = rf"port {other.port} is held by the local AWS \(pid {other.process.pid}\) of another openturk serve "
        with pytest.raises(LocalAWSError, match=held + rf"\(pid {os.getpid()},"):
            LocalAWS(other.port).start(handover_s=0.3)
    finally:
        other.stop()


def test_a_state_file_that_cannot_be_written_fails_the_start(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    unwritable = tmp_path / "no such directory" / "state"
    with pytest.raises(LocalAWSError, match="exited at start"):
        LocalAWS(free_port(), unwritable).start()
    assert f"the local AWS cannot keep its state in {unwritable}" in capfd.readouterr().err


@pytest.mark.parametrize("port", ["70000", "-1", "eighty"])
def test_a_local_aws_port_that_is_no_port_is_refused_naming_the_option(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--local-aws-port", port])
    assert exited.value.code == 2
    assert f"argument --local-aws-port: {port!r} is not a port" in capsys.readouterr().err
