"""HIT layouts: stored with `openturk layouts create`, used by CreateHIT's HITLayoutId and HITLayoutParameters."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from openturk.testing import ServerProcess
from tests.conftest import error_code, hit_params
from tests.support.cli import run_cli

TEMPLATE = (
    '<crowd-form><img src="${image_url}" alt="${caption}"><p>${caption}</p>'
    '<crowd-input name="label"></crowd-input></crowd-form>'
)


def _layouts(server: ServerProcess, *args: str, returncode: int = 0) -> str:
    """Run ``openturk layouts ARGS`` against the server's database; its output, after checking the exit code."""
    done = run_cli("layouts", *args, "--db", server.db_url)
    assert done.returncode == returncode, done.stderr + done.stdout
    return done.stdout


def _new_layout(server: ServerProcess, key: str, tmp_path: Path, template: str = TEMPLATE) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.html"
    path.write_text(template, encoding="utf-8")
    out = _layouts(server, "create", "Label an image", str(path), "--access-key-id", key, "--frame-height", "600")
    assert "Parameters  image_url, caption" in out
    return out.split("HITLayoutId", 1)[1].split()[0]


def _hit_count(server: ServerProcess) -> int:
    [[count]] = server.sql("SELECT count(*) FROM hits")
    return int(count)


@pytest.fixture
def requester(server: ServerProcess) -> tuple[str, Any]:
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    return key, server.client(key)


def test_create_hit_from_a_layout(server: ServerProcess, requester: tuple[str, Any], tmp_path: Path) -> None:
    key, mturk = requester
    layout_id = _new_layout(server, key, tmp_path)
    listed = json.loads(_layouts(server, "list", "--access-key-id", key, "--json"))
    assert listed == [
        {"HITLayoutId": layout_id, "Name": "Label an image", "Parameters": ["image_url", "caption"], "FrameHeight": 600}
    ]
    table = _layouts(server, "list", "--access-key-id", key).splitlines()
    header = next(line for line in table if "HITLayoutId" in line)
    assert header.index("HITLayoutId") < header.index("Name") < header.index("Parameters") < header.index("FrameHeight")
    row = next(line for line in table if layout_id in line)  # each value under its own heading
    assert row.index(layout_id) < row.index("Label") < row.index("image_url") < row.index("600")
    params = {k: v for k, v in hit_params().items() if k != "Question"}
    parameters = [
        {"Name": "image_url", "Value": "https://example.com/cat.jpg"},
        {"Name": "caption", "Value": "A <b>cat</b> ]]> on a mat"},
    ]
    hit = mturk.create_hit(HITLayoutId=layout_id, HITLayoutParameters=parameters, **params)["HIT"]
    assert hit["HITLayoutId"] == layout_id
    question = hit["Question"]
    assert question.startswith('<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/')
    assert "<FrameHeight>600</FrameHeight>" in question
    assert "<!DOCTYPE html>" in question and '<img src="https://example.com/cat.jpg"' in question
    assert "<p>A <b>cat</b> ]]]]><![CDATA[> on a mat</p>" in question  # values go in as given; CDATA kept whole
    fetched = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (fetched["HITLayoutId"], fetched["Question"]) == (layout_id, question)

    type_id = mturk.create_hit_type(
        Title="Label", Description="Say what it is", Reward="0.10", AssignmentDurationInSeconds=600
    )["HITTypeId"]
    again = mturk.create_hit_with_hit_type(
        HITTypeId=type_id, LifetimeInSeconds=600, HITLayoutId=layout_id, HITLayoutParameters=parameters
    )["HIT"]
    assert again["Question"] == question


def test_layout_errors_name_the_problem_and_write_nothing(
    server: ServerProcess, requester: tuple[str, Any], tmp_path: Path
) -> None:
    key, mturk = requester
    layout_id = _new_layout(server, key, tmp_path)
    other_key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    others_layout = _new_layout(server, other_key, tmp_path)
    params = {k: v for k, v in hit_params().items() if k != "Question"}
    image = {"Name": "image_url", "Value": "https://example.com/a.jpg"}
    caption = {"Name": "caption", "Value": "a"}
    cases = [
        ({"HITLayoutId": layout_id, "HITLayoutParameters": [image]}, "caption"),
        ({"HITLayoutId": layout_id, "HITLayoutParameters": [image, caption, {"Name": "extra", "Value": "x"}]}, "extra"),
        ({"HITLayoutId": layout_id, "HITLayoutParameters": [image, caption, caption]}, "more than once"),
        ({"HITLayoutId": "3XXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "HITLayoutParameters": [image, caption]}, "does not exist"),
        ({"HITLayoutId": others_layout, "HITLayoutParameters": [image, caption]}, "does not exist"),
        ({"HITLayoutParameters": [image, caption], "Question": hit_params()["Question"]}, "HITLayoutId"),
        ({"HITLayoutId": layout_id, "Question": hit_params()["Question"]}, "not both"),
    ]
    before = _hit_count(server)
    for extra, words in cases:
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.create_hit(**params, **extra)
        assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue", extra
        assert words in excinfo.value.response["Error"]["Message"], extra
    assert _hit_count(server) == before


def test_layout_cli_refuses_unusable_templates(server: ServerProcess, tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("   ", encoding="utf-8")
    out = _layouts(server, "create", "x", str(empty), "--access-key-id", "AKIDEMPTY1", returncode=2)
    assert "empty" in out
