"""``openturk exec`` and ``openturk.redirect``: programs' MTurk clients reach openturk unchanged,
whatever endpoint_url they pass, in their child processes too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import boto3

from openturk import redirect
from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess

EXEC = [sys.executable, "-m", "openturk.cli", "exec", "--endpoint"]
# A program as a lab would have written it for MTurk: explicit hostnames, no openturk anywhere.
PROGRAM = textwrap.dedent(
    """
    import json, subprocess, sys
    import boto3

    SANDBOX = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    LIVE = "https://mturk-requester.us-east-1.amazonaws.com"
    found = {}
    for name, url in (("sandbox", SANDBOX), ("live", LIVE), ("default", None)):
        client = boto3.client("mturk", region_name="us-east-1", endpoint_url=url)
        found[name] = [client.meta.endpoint_url, client.get_account_balance()["AvailableBalance"]]
    if sys.argv[1:] == ["parent"]:  # and a child process of the program, started as it would be
        found["child"] = json.loads(subprocess.check_output([sys.executable, __file__, "child"]))
    print(json.dumps(found))
    """
)


def _exec(server: ServerProcess, tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    program = tmp_path / "lab_script.py"
    program.write_text(PROGRAM)
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": f"AKID{uuid.uuid4().hex[:16].upper()}", **(env or {})}
    environment["AWS_SECRET_ACCESS_KEY"] = "anything"
    result = subprocess.run(
        [*EXEC, server.base_url, *options, "--", sys.executable, str(program), "parent"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_every_mturk_client_of_a_program_and_its_children_reaches_openturk(
    server: ServerProcess, tmp_path: Path
) -> None:
    found = _exec(server, tmp_path)
    for scope in (found, found["child"]):
        for name in ("sandbox", "live", "default"):
            assert scope[name][1] == "10000.00", (name, scope)
        # Without --sandbox/--live each client's endpoint reads as the program made it.
        assert scope["sandbox"][0] == redirect.SANDBOX_URL
        assert scope["live"][0] == scope["default"][0] == redirect.LIVE_URL


def test_sandbox_and_live_modes_set_what_meta_endpoint_url_reads(server: ServerProcess, tmp_path: Path) -> None:
    sandbox = _exec(server, tmp_path, "--sandbox")
    assert {sandbox[name][0] for name in ("sandbox", "live", "default")} == {redirect.SANDBOX_URL}
    assert sandbox["child"]["default"][0] == redirect.SANDBOX_URL
    live = _exec(server, tmp_path, "--live")
    assert {live[name][0] for name in ("sandbox", "live", "default")} == {redirect.LIVE_URL}


def test_the_environments_own_sitecustomize_still_runs(server: ServerProcess, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIR_SITECUSTOMIZE'] = 'ran'\n")
    program = tmp_path / "check.py"
    program.write_text("import os, boto3\nprint(os.environ.get('THEIR_SITECUSTOMIZE'))\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openturk.cli",
            "exec",
            "--endpoint",
            server.base_url,
            "--",
            sys.executable,
            str(program),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(theirs)},
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "ran", result.stderr
    assert "could not redirect" not in result.stderr


def test_local_aws_sends_sqs_clients_to_the_local_endpoint(
    server: ServerProcess, local_aws: LocalAWS, tmp_path: Path
) -> None:
    name = f"exec-{uuid.uuid4().hex[:8]}"
    program = tmp_path / "queue.py"
    program.write_text(
        "import boto3, sys\n"
        "sqs = boto3.client('sqs', region_name='us-east-1')\n"  # no endpoint: AWS's own, redirected
        f"print(sqs.create_queue(QueueName='{name}')['QueueUrl'])\n"
    )
    result = subprocess.run(
        [*EXEC, server.base_url, "--local-aws", local_aws.url, "--", sys.executable, str(program)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXECSQS", "AWS_SECRET_ACCESS_KEY": "x"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sqs = boto3.client(
        "sqs", endpoint_url=local_aws.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert any(url.endswith(name) for url in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []))


def test_exec_refuses_a_bad_endpoint_and_a_missing_command(tmp_path: Path) -> None:
    for argv, message in (
        (["--endpoint", "ftp://x", "--", "true"], "--endpoint must be an http(s) URL"),
        (["--"], "give a command"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "openturk.cli", "exec", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2 and message in result.stderr


def test_install_redirects_clients_made_in_this_process(server: ServerProcess) -> None:
    redirect.install(server.base_url, mode="sandbox")
    try:
        client = boto3.session.Session().client(
            "mturk",
            region_name="us-east-1",
            aws_access_key_id=f"AKID{uuid.uuid4().hex[:16].upper()}",
            aws_secret_access_key="x",
        )
        assert client.meta.endpoint_url == redirect.SANDBOX_URL
        assert client.get_account_balance()["AvailableBalance"] == "10000.00"
    finally:
        redirect.uninstall()


def _exec_run(server: ServerProcess, code: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXEC, server.base_url, "--", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        **kwargs,
    )


def _clean_aws_env(tmp_path: Path, config: str = "") -> dict[str, str]:
    """This environment's AWS settings gone: only the config file written here is read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    (tmp_path / "config").write_text(config)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def test_exec_becomes_the_command_so_signals_and_exit_status_are_its_own(server: ServerProcess, tmp_path: Path) -> None:
    """A terminal's Ctrl-C reached both a forwarding parent and the command: the command saw it twice,
    and a death by signal came back as an exit status of 256 - N."""
    env = _clean_aws_env(tmp_path)
    killed = subprocess.Popen(
        [*EXEC, server.base_url, "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
        env=env,
    )
    assert killed.wait(timeout=120) == -15

    counting = (
        "import signal, sys, time\n"
        "seen = []\n"
        "signal.signal(signal.SIGINT, lambda *_: seen.append(1))\n"
        "print('ready', flush=True)\n"
        "deadline = time.monotonic() + 3\n"
        "while time.monotonic() < deadline and len(seen) < 2: time.sleep(0.05)\n"
        "print(len(seen))\n"
    )
    group = subprocess.Popen(
        [*EXEC, server.base_url, "--", sys.executable, "-c", counting],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    assert group.stdout is not None and group.stdout.readline().strip() == "ready"
    os.killpg(group.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    assert group.communicate(timeout=60)[0].strip() == "1"

    # Python ignores SIGPIPE; an exec keeps what is ignored: `yes` then complained of a broken pipe.
    piped = subprocess.run(
        [*EXEC, server.base_url, "--", "sh", "-c", "yes | head -1"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "y\n", "")
    absent = subprocess.run(
        [*EXEC, server.base_url, "--", str(tmp_path / "nope")], capture_output=True, env=env, check=False
    )
    assert absent.returncode == 127
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    refused = subprocess.run(
        [*EXEC, server.base_url, "--", str(tmp_path / "not-executable")], capture_output=True, env=env, check=False
    )
    assert refused.returncode == 126


def test_exec_leaves_a_configured_region_and_a_broken_profile_to_the_command(
    server: ServerProcess, tmp_path: Path
) -> None:
    region = "import boto3; print(boto3.Session().region_name)"
    env = _clean_aws_env(tmp_path)
    assert _exec_run(server, region, env).stdout.strip() == "us-east-1"  # none configured: MTurk's
    env = _clean_aws_env(tmp_path, "[default]\nregion = eu-west-1\n")
    assert _exec_run(server, region, env).stdout.strip() == "eu-west-1"
    # A profile that does not exist yet (the command may be the one to make it): the command still runs.
    broken = _exec_run(server, "print('ran')", {**env, "AWS_PROFILE": "not-made-yet"})
    assert broken.returncode == 0 and broken.stdout.strip() == "ran", broken.stderr


def test_install_reaches_sessions_made_before_it(server: ServerProcess, tmp_path: Path) -> None:
    """A notebook's ``boto3.Session(profile_name=...)`` made before ``install()`` made clients that
    went to the endpoint they named (MTurk's own, in real code)."""
    program = textwrap.dedent(
        f"""
        import boto3, botocore.session
        from openturk import redirect

        earlier_boto3, earlier_botocore = boto3.Session(), botocore.session.get_session()
        redirect.install({server.base_url!r})
        nowhere = "http://127.0.0.1:9"
        print(earlier_boto3.client("mturk", endpoint_url=nowhere).get_account_balance()["AvailableBalance"])
        print(earlier_botocore.create_client("mturk", endpoint_url=nowhere).get_account_balance()["AvailableBalance"])
        # Installed again after uninstall(): the hooks are not registered twice (a duplicate base class).
        redirect.uninstall()
        between = boto3.Session()
        redirect.install({server.base_url!r}, mode="sandbox")
        again = between.client("mturk", endpoint_url=nowhere)
        print(again.get_account_balance()["AvailableBalance"], again.meta.endpoint_url == redirect.SANDBOX_URL)
        """
    )
    env = {**_clean_aws_env(tmp_path), "AWS_ACCESS_KEY_ID": "AKIDEARLIERSESSION", "AWS_SECRET_ACCESS_KEY": "x"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10000.00", "10000.00", "10000.00", "True"]


def test_an_error_inside_the_environments_own_sitecustomize_is_reported_as_python_would(
    server: ServerProcess, tmp_path: Path
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import a_module_nobody_installed\n")
    result = _exec_run(server, "print('ran')", {**_clean_aws_env(tmp_path), "PYTHONPATH": str(theirs)})
    assert result.returncode == 0 and result.stdout.strip() == "ran"
    # Once by openturk exec's own Python (the same PYTHONPATH), once by the command's: not swallowed.
    assert result.stderr.count("No module named 'a_module_nobody_installed'") == 2
