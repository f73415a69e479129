"""FileUploadAnswer: upload through the worker API, submit the key, GetFileUploadURL, download."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy

from openturk.testing import ServerProcess, Worker
from openturk.web import access
from tests.conftest import error_code, hit_params, new_worker

FORM_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"
QUESTION = f"""<QuestionForm xmlns="{FORM_NS}">
<Question><QuestionIdentifier>photo</QuestionIdentifier><QuestionContent><Text>Upload a photo</Text></QuestionContent>
<AnswerSpecification><FileUploadAnswer><MaxFileSizeInBytes>1000</MaxFileSizeInBytes>
<MinFileSizeInBytes>2</MinFileSizeInBytes></FileUploadAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>note</QuestionIdentifier><QuestionContent><Text>Say something</Text></QuestionContent>
<AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question>
</QuestionForm>"""


def _upload(worker: Worker, assignment_id: str, question: str, content: bytes) -> httpx.Response:
    return worker.http.put(
        f"/api/worker/assignments/{assignment_id}/files/{question}",
        params={"WorkerId": worker.worker_id},
        content=content,
    )


def _accepted(mturk: Any, worker: Worker) -> str:
    hit = mturk.create_hit(**hit_params(Question=QUESTION))["HIT"]
    accepted = worker.accept(hit["HITId"])
    accepted.raise_for_status()
    return str(accepted.json()["AssignmentId"])


def _uploaded_and_submitted(mturk: Any, worker: Worker, content: bytes) -> str:
    assignment_id = _accepted(mturk, worker)
    uploaded = _upload(worker, assignment_id, "photo", content)
    assert uploaded.status_code == 200, uploaded.text
    answer = {"UploadedFileKey": uploaded.json()["UploadedFileKey"]}
    worker.submit(assignment_id, {"photo": answer, "note": "hi"}).raise_for_status()
    return assignment_id


def test_upload_submit_and_download(mturk: Any, worker: Worker) -> None:
    content = b"<html><script>alert(1)</script></html>\x00\xff"
    assignment_id = _accepted(mturk, worker)
    uploaded = _upload(worker, assignment_id, "photo", content)
    assert uploaded.status_code == 200, uploaded.text
    key = uploaded.json()["UploadedFileKey"]
    assert uploaded.json()["UploadedFileSizeInBytes"] == len(content)
    # The size the worker claims is replaced by the stored one.
    answer = {"UploadedFileKey": key, "UploadedFileSizeInBytes": 1}
    worker.submit(assignment_id, {"photo": answer, "note": "hi"}).raise_for_status()
    document = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    expected = (
        f"<QuestionIdentifier>photo</QuestionIdentifier><UploadedFileSizeInBytes>{len(content)}"
        f"</UploadedFileSizeInBytes><UploadedFileKey>{key}</UploadedFileKey>"
    )
    assert expected in document

    url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
    assert url.startswith("http://127.0.0.1:")
    downloaded = httpx.get(url)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert downloaded.headers["content-disposition"].startswith("attachment")

    mturk.approve_assignment(AssignmentId=assignment_id)
    again = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
    assert httpx.get(again).content == content


def test_url_expires_after_60_seconds(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    assignment_id = _uploaded_and_submitted(mturk, worker, b"abc")
    url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
    server.advance(61)
    refused = httpx.get(url)
    assert refused.status_code == 403
    assert refused.json()["Error"] == "Forbidden"


def test_bad_signature_and_tampered_expiry_refused(mturk: Any, worker: Worker) -> None:
    assignment_id = _uploaded_and_submitted(mturk, worker, b"abc")
    url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    expires, signature = query["Expires"][0], query["Signature"][0]
    bad_signature = f"Expires={expires}&Signature={'0' * len(signature)}"
    later = f"Expires={int(expires) + 3600}&Signature={signature}"
    for bad in (bad_signature, later, f"Expires={expires}", ""):
        assert httpx.get(urlunsplit(parts._replace(query=bad))).status_code == 403


def test_only_the_owner_gets_a_url(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    assignment_id = _uploaded_and_submitted(mturk, worker, b"abc")
    other = server.client("AKIDOTHERREQUESTER01")
    with pytest.raises(other.exceptions.RequestError) as excinfo:
        other.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")
    assert error_code(excinfo) == "AWS.MechanicalTurk.AssignmentDoesNotExist"


def test_url_only_for_an_uploaded_file_question(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    assignment_id = _uploaded_and_submitted(mturk, worker, b"abc")
    for question in ("note", "nope"):
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier=question)
        assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    in_progress = _accepted(mturk, new_worker(server))
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.get_file_upload_url(AssignmentId=in_progress, QuestionIdentifier="photo")
    assert error_code(excinfo) == "AWS.MechanicalTurk.AssignmentDoesNotExist"


def test_upload_refusals(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    assignment_id = _accepted(mturk, worker)
    too_large = _upload(worker, assignment_id, "photo", b"x" * (access.UPLOAD_MAX_BODY + 1))
    assert too_large.status_code == 413
    outside_bounds = _upload(worker, assignment_id, "photo", b"x" * 1001)
    assert (outside_bounds.status_code, outside_bounds.json()["Error"]) == (400, "InvalidFileSize")
    assert _upload(worker, assignment_id, "photo", b"x").json()["Error"] == "InvalidFileSize"
    assert _upload(worker, assignment_id, "note", b"xyz").json()["Error"] == "NotAFileQuestion"
    stranger = new_worker(server)
    assert _upload(stranger, assignment_id, "photo", b"xyz").status_code == 403


def test_submit_refuses_another_assignments_upload(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    mine = _accepted(mturk, worker)
    other_worker = new_worker(server)
    theirs = _accepted(mturk, other_worker)
    their_key = _upload(other_worker, theirs, "photo", b"theirs").json()["UploadedFileKey"]
    refused = worker.submit(mine, {"photo": {"UploadedFileKey": their_key}})
    assert (refused.status_code, refused.json()["Error"]) == (400, "InvalidAnswer")
    unknown = worker.submit(mine, {"photo": {"UploadedFileKey": "NOSUCHKEY"}})
    assert unknown.status_code == 400
    # A key uploaded for one question cannot answer another.
    my_key = _upload(worker, mine, "photo", b"mine").json()["UploadedFileKey"]
    assert worker.submit(mine, {"note": {"UploadedFileKey": my_key}}).status_code == 400
    # Nothing was submitted by the refusals; the right key still submits.
    worker.submit(mine, {"photo": {"UploadedFileKey": my_key}}).raise_for_status()


def _files_of(server: ServerProcess, assignment_id: str) -> int:
    """Files stored for the assignment, read from the server's database (SQLite or PostgreSQL)."""
    engine = sqlalchemy.create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            query = sqlalchemy.text("SELECT COUNT(*) FROM uploaded_files WHERE assignment_id = :a")
            return int(conn.execute(query, {"a": assignment_id}).scalar_one())
    finally:
        engine.dispose()


def test_unsubmitted_uploads_are_deleted_a_day_after_the_deadline(
    server: ServerProcess, mturk: Any, worker: Worker
) -> None:
    """Returned and abandoned assignments lose their files once the grace period after their deadline
    has passed; a submitted assignment's files stay."""
    returned = _accepted(mturk, worker)
    assert _upload(worker, returned, "photo", b"abc").status_code == 200
    worker.return_(returned).raise_for_status()
    idle = new_worker(server)
    abandoned = _accepted(mturk, idle)
    assert _upload(idle, abandoned, "photo", b"def").status_code == 200
    submitted = _uploaded_and_submitted(mturk, new_worker(server), b"xyz")
    assert _files_of(server, returned) == _files_of(server, abandoned) == _files_of(server, submitted) == 1

    # Deadlines are 600 s after acceptance (hit_params); the grace is a day after that.
    server.advance(600 + 24 * 3600 - 60)
    assert _files_of(server, returned) == _files_of(server, abandoned) == 1
    server.advance(120)
    assert _files_of(server, returned) == 0
    assert _files_of(server, abandoned) == 0
    assert _files_of(server, submitted) == 1


def test_a_question_identifier_with_a_slash_takes_its_upload(mturk: Any, worker: Worker) -> None:
    question = QUESTION.replace(">photo<", ">scans/front<")
    hit = mturk.create_hit(**hit_params(Question=question))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    uploaded = _upload(worker, assignment_id, "scans%2Ffront", b"front page")
    assert uploaded.status_code == 200, uploaded.text
    answer = {"UploadedFileKey": uploaded.json()["UploadedFileKey"]}
    worker.submit(assignment_id, {"scans/front": answer, "note": "hi"}).raise_for_status()
    url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="scans/front")["FileUploadURL"]
    assert httpx.get(url).content == b"front page"


def _disposed_refusal(mturk: Any, assignment_id: str) -> str:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")
    assert "disposed" in str(excinfo.value)
    return error_code(excinfo)


def test_disposing_a_hit_deletes_its_uploads(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    """GetFileUploadURL: "After the HIT is disposed, any uploaded files are deleted, and cannot be
    retrieved" — by DeleteHIT, and by the disposal 120 days on."""
    deleted = _uploaded_and_submitted(mturk, worker, b"by DeleteHIT")
    url = mturk.get_file_upload_url(AssignmentId=deleted, QuestionIdentifier="photo")["FileUploadURL"]
    mturk.approve_assignment(AssignmentId=deleted)
    hit_id = mturk.get_assignment(AssignmentId=deleted)["HIT"]["HITId"]
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    kept = _uploaded_and_submitted(mturk, new_worker(server), b"another HIT's")
    mturk.delete_hit(HITId=hit_id)
    assert _files_of(server, deleted) == 0
    assert httpx.get(url).status_code == 404  # a URL given before the disposal finds nothing
    assert _disposed_refusal(mturk, deleted) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert _files_of(server, kept) == 1

    mturk.approve_assignment(AssignmentId=kept)
    server.advance(121 * 24 * 3600)
    assert mturk.get_assignment(AssignmentId=kept)["HIT"]["HITStatus"] == "Disposed"
    assert _files_of(server, kept) == 0
    _disposed_refusal(mturk, kept)


def test_behind_a_proxy_the_url_names_the_public_origin(aws_args: list[str]) -> None:
    with ServerProcess(extra_args=["--public-url", "https://turk.example.org/", *aws_args]) as behind:
        mturk = behind.client("AKIDPUBLICURL0001")
        worker = Worker(behind.base_url, "APUBLICURL0001")
        assignment_id = _uploaded_and_submitted(mturk, worker, b"photo")
        url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
        assert url.startswith("https://turk.example.org/files/")
        # The proxy passes the path on as it is: the same path is good at the server itself.
        assert httpx.get(behind.base_url + url[len("https://turk.example.org") :]).content == b"photo"
