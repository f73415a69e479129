"""Where the task origin listens and what it calls itself: flags, defaults and the script rewrite."""

from __future__ import annotations

import pytest

from openturk.cli import build_parser
from openturk.settings import Settings
from openturk.web.task_origin import rewrite_mturk_script
from openturk.web.work_pages import task_frame_sources


def test_the_task_origin_defaults_to_the_api_port_plus_two_on_the_same_host() -> None:
    settings = Settings(host="127.0.0.1", port=8443)
    assert settings.task_listen_port == 8445
    assert settings.task_base_url == "http://127.0.0.1:8445"
    assert Settings(host="::1", port=9000, task_port=9100).task_base_url == "http://[::1]:9100"


def test_a_public_task_origin_is_what_pages_and_the_sites_csp_name() -> None:
    args = build_parser().parse_args(["serve", "--task-port", "9001", "--task-origin", "https://tasks.example.org/"])
    assert (args.task_port, args.task_origin) == (9001, "https://tasks.example.org")
    settings = Settings(task_port=args.task_port, task_origin=args.task_origin)
    assert settings.task_listen_port == 9001 and settings.task_base_url == "https://tasks.example.org"
    assert task_frame_sources(settings)[0] == "https://tasks.example.org"


@pytest.mark.parametrize(
    "origin", ["tasks.example.org", "ftp://tasks.example.org", "https://t.example.org/x", "https://"]
)
def test_a_task_origin_that_is_not_an_origin_is_refused(origin: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--task-origin", origin])
    assert "--task-origin" in capsys.readouterr().err


def test_mturks_script_url_is_pointed_at_ours_in_either_scheme() -> None:
    html = (
        '<script src="https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"></script>'
        "<script src='http://s3.amazonaws.com/mturk-public/externalHIT_v1.js'></script>"
        '<script src="https://s3.amazonaws.com/other-bucket/externalHIT_v1.js"></script>'
    )
    rewritten = rewrite_mturk_script(html, "http://127.0.0.1:8445")
    assert rewritten.count("http://127.0.0.1:8445/externalHIT_v1.js") == 2
    assert "other-bucket" in rewritten
