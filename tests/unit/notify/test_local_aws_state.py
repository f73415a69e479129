"""The local AWS's state file saves change by change and loads back exactly (openturk/notify/local_aws_state.py)."""

from __future__ import annotations

import contextlib
import json
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openturk.notify import local_aws_state as state
from openturk.notify import local_aws_tuning

ACCOUNT = "000000004244"  # an account no other test uses: moto's backends are process-global
REGION = "us-east-1"


def sqs_backend() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION]


def sns_backend() -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT][REGION]


def forget_account() -> None:
    """As after a restart: the account's backends are gone from this process."""
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    for backends in (sqs_backends, sns_backends):
        backends.pop(ACCOUNT, None)


@pytest.fixture
def clean_account() -> Iterator[None]:
    state.bind_queue_conditions()
    local_aws_tuning.apply()
    forget_account()
    yield
    forget_account()


def picture() -> dict[str, Any]:
    """The account's SQS state as a requester could tell it: each queue's messages in order, with their
    ids, bodies, handles, receive counts, visibility and whether they are in flight."""
    return {
        name: {
            "attributes": {k: v for k, v in queue.attributes.items() if not k.startswith("Approximate")},
            "messages": [
                (
                    m.id,
                    m.body,
                    m.receipt_handle,
                    list(m._old_receipt_handles),
                    m.approximate_receive_count,
                    m.visible_at,
                    m in queue._pending_messages,
                )
                for m in queue._messages
            ],
            "deleted": list(queue.deleted_messages),
        }
        for name, queue in sorted(sqs_backend().queues.items())
    }


def reloaded(path: Path) -> dict[str, Any]:
    forget_account()
    assert state.StateFile(path).restore() is True
    return picture()


def test_a_save_writes_only_what_changed(tmp_path: Path, clean_account: None) -> None:
    backend = sqs_backend()
    backend.create_queue("busy", VisibilityTimeout="600")
    backend.create_queue("quiet")
    for n in range(300):
        backend.send_message("busy", f"waiting {n}")
    backend.send_message("quiet", "left alone")
    file = state.StateFile(tmp_path / "state")
    file.save()

    def captured() -> state.Changes:
        with state.STATE_LOCK:
            changes = file.capture()
        file.write(changes)
        return changes

    backend.send_message("busy", "one more")
    sent = captured()
    assert (len(sent.rows), sent.gone, sent.skeleton, sent.full) == (1, [], None, False)
    received = backend.receive_message("busy", 2, 0, 600)
    assert len(captured().rows) == 2  # their handles, counts and visibility, and now in flight
    backend.delete_message("busy", received[0].receipt_handle)
    deleted = captured()
    assert (deleted.rows, len(deleted.gone), deleted.skeleton) == ([], 1, None)
    assert len(deleted.handles) == 1  # the queue remembers the handle (a second delete succeeds)
    backend.get_queue_url("busy")
    assert not captured()  # a read changed nothing: nothing is written
    assert reloaded(tmp_path / "state")["busy"]["messages"][-1][1] == "one more"


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(["a", "b"]), st.integers(1, 3)),
        st.tuples(st.just("receive"), st.sampled_from(["a", "b", "dead"]), st.integers(1, 4)),
        st.tuples(st.just("delete"), st.sampled_from(["a", "b", "dead"]), st.integers(0, 5)),
        st.tuples(st.just("show"), st.sampled_from(["a", "b"]), st.integers(0, 5)),
        st.tuples(st.just("purge"), st.sampled_from(["a", "b"]), st.just(0)),
        st.tuples(st.just("recreate"), st.just("b"), st.just(0)),
        st.tuples(st.just("save"), st.just(""), st.just(0)),
        st.tuples(st.just("fail"), st.just(""), st.just(0)),
    ),
    max_size=25,
)


# Received again, between two saves, with nothing else changed: its new handle and count are written.
RECEIVED_AGAIN = [("send", "b", 1), ("receive", "b", 1), ("save", "", 0), ("receive", "b", 1)]
# Moved to the dead-letter queue by its third receive, and nothing looks that queue up before the save.
MOVED = [("send", "a", 1), ("receive", "a", 1), ("receive", "a", 1), ("save", "", 0), ("receive", "a", 1)]
# Deleted by its first handle (any of a message's handles deletes it), then shown by its second.
DELETED_THEN_SHOWN = [("send", "b", 1), ("receive", "b", 1), ("receive", "b", 1), ("delete", "a", 0), ("show", "b", 0)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
@example(operations=RECEIVED_AGAIN)
@example(operations=MOVED)
@example(operations=DELETED_THEN_SHOWN)
def test_change_by_change_saves_load_back_as_the_state_was(
    tmp_path_factory: pytest.TempPathFactory, clean_account: None, operations: list[tuple[str, str, int]]
) -> None:
    """Sends, receives (and moves to a dead-letter queue after two), deletes, visibility changes,
    purges, a queue deleted and made again, and failed writes, saved at random moments: the file
    always loads back as the state was at its last save."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    forget_account()
    path = tmp_path_factory.mktemp("state") / "state"
    backend = sqs_backend()
    backend.create_queue("dead")
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead", "maxReceiveCount": 2})
    backend.create_queue("a", VisibilityTimeout="0", RedrivePolicy=redrive)
    backend.create_queue("b", VisibilityTimeout="0")
    file = state.StateFile(path)
    file.save()
    handles: list[tuple[str, str]] = []
    sent = 0
    for operation, queue, n in operations:
        if operation == "send":
            for _ in range(n):
                sent += 1
                backend.send_message(queue, f"message {sent}")
        elif operation == "receive":
            handles += [(queue, m.receipt_handle) for m in backend.receive_message(queue, n, 0, 0)]
        elif operation == "delete" and handles:
            with contextlib.suppress(ReceiptHandleIsInvalid):  # a handle of a message moved to "dead"
                backend.delete_message(*handles.pop(n % len(handles)))
        elif operation == "show" and handles:
            name, handle = handles[n % len(handles)]
            if name == queue:
                # A handle of a message moved to "dead", or deleted by an earlier handle of the same message.
                with contextlib.suppress(ReceiptHandleIsInvalid):
                    backend.change_message_visibility(queue, handle, 600)
        elif operation == "purge":
            backend.get_queue(queue).last_purged_at = None  # moto allows one purge a minute, as SQS
            backend.purge_queue(queue)
        elif operation == "recreate":
            backend.delete_queue("b")
            backend.create_queue("b", VisibilityTimeout="0")
            handles = [(name, handle) for name, handle in handles if name != "b"]
        elif operation == "save":
            file.save()
        elif operation == "fail":  # a write that fails (a full disk): the next one is whole
            with state.STATE_LOCK:
                changes = file.capture()
            if changes:
                broken = sqlite3.connect(":memory:")
                broken.close()
                file._connection = broken
                with pytest.raises(OSError, match="could not be written"):
                    file.write(changes)
    file.save()
    expected = picture()
    if operations == MOVED:  # it did move one
        assert len(expected["dead"]["messages"]) == 1
    assert reloaded(path) == expected


def test_a_format_1_file_loads_and_is_rewritten_in_the_new_format(tmp_path: Path, clean_account: None) -> None:
    backend = sqs_backend()
    backend.create_queue("older")
    backend.send_message("older", "kept from before")
    services = {
        name: {account: dict(regions) for account, regions in backends.items()}
        for name, backends in state._service_backends().items()
    }
    path = tmp_path / "state"
    with state.STATE_LOCK:
        path.write_bytes(state._pickled({"format": 1, "moto": state._moto_version(), "services": services}))
    before = picture()
    forget_account()

    file = state.StateFile(path)
    assert file.restore() is True
    assert picture() == before
    file.save()
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    sqs_backend().send_message("older", "after the change of format")
    file.save()
    assert [m[1] for m in reloaded(path)["older"]["messages"]] == ["kept from before", "after the change of format"]


@pytest.mark.parametrize("damage", ["another moto", "not a database", "a message unreadable"])
def test_an_unreadable_sqlite_file_is_set_aside(tmp_path: Path, clean_account: None, damage: str) -> None:
    from moto.sqs.models import sqs_backends

    path = tmp_path / "state"
    sqs_backend().create_queue("q")
    sqs_backend().send_message("q", "kept")
    written = state.StateFile(path)
    written.save()
    written.close()
    forget_account()
    if damage == "another moto":
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE meta SET value = ? WHERE name = 'moto'", (b"0.0.1",))
        reason = "written by moto 0.0.1"
    elif damage == "a message unreadable":
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE messages SET message = x'00'")
        reason = "not a readable local AWS state file"
    else:
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
        reason = "not a readable local AWS state file"
    warning = state.StateFile(path).restore_or_set_aside()
    assert warning is not None and reason in warning
    assert ACCOUNT not in sqs_backends  # nothing of the file was loaded
    [aside] = [p for p in tmp_path.glob("state.unreadable-*") if p.name.split("-")[-1].isdigit()]
    assert str(aside) in warning
    assert not any(tmp_path.glob("state-*")) and not path.exists()  # SQLite's companions went with it


def test_moto_keeps_bounded_histories(clean_account: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs.models import Message

    monkeypatch.setattr(state, "DELETED_HANDLES_KEPT", 50)
    monkeypatch.setattr(state, "PUBLISHED_KEPT", 5)
    state.bound_histories()
    backend = sqs_backend()
    backend.create_queue("long-lived", VisibilityTimeout="0")
    handles = []
    for n in range(state.DELETED_HANDLES_KEPT + 50):
        backend.send_message("long-lived", f"m{n}")
        [message] = backend.receive_message("long-lived", 1, 0, 0)
        handles.append(message.receipt_handle)
        backend.delete_message("long-lived", message.receipt_handle)
    queue = backend.get_queue("long-lived")
    assert len(queue.deleted_messages) == state.DELETED_HANDLES_KEPT
    backend.delete_message("long-lived", handles[-1])  # deleting again succeeds, as on SQS
    assert len(Message.instances_tracked) == 0

    topic = sns_backend().create_topic("announcements")
    for n in range(3 * state.PUBLISHED_KEPT):
        sns_backend().publish(f"note {n}", arn=topic.arn)
    assert len(topic.sent_notifications) <= 2 * state.PUBLISHED_KEPT
    assert topic.sent_notifications[-1][1] == f"note {3 * state.PUBLISHED_KEPT - 1}"


def test_a_restored_queue_bounds_its_history_too(tmp_path: Path, clean_account: None) -> None:
    backend = sqs_backend()
    backend.create_queue("q")
    queue = backend.get_queue("q")
    queue.deleted_messages = set(f"handle {n}" for n in range(3))  # as a format-1 file had it
    path = tmp_path / "state"
    with state.STATE_LOCK:
        services = {"sqs": {ACCOUNT: {REGION: backend}}, "sns": {}}
        path.write_bytes(state._pickled({"format": 1, "moto": state._moto_version(), "services": services}))
    forget_account()
    state.StateFile(path).restore()
    restored = sqs_backend().get_queue("q").deleted_messages
    assert isinstance(restored, state.RecentSet) and "handle 2" in restored


def test_pickled_history_types_load_by_name() -> None:
    kept = state.RecentSet(["a", "b"], limit=1)
    assert list(pickle.loads(pickle.dumps(kept))) == ["b"]
    published = state.RecentList(["x"])
    assert list(pickle.loads(pickle.dumps(published))) == ["x"]
