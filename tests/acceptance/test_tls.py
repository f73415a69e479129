"""``openturk serve --tls`` and programs that do not use botocore: oTree's own SigV4 client, copied
in spirit (urllib, signed for MTurk's hostname), reaches openturk through ``openturk exec``."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from openturk.redirect import MTURK_HOSTNAMES
from openturk.testing import ServerProcess
from tests.support.cli import cli_keys

# A client like oTree's otree/mturk_client.py: SigV4 by hand, urllib's urlopen, MTurk's hostname.
URLLIB_CLIENT = textwrap.dedent(
    """
    import datetime, hashlib, hmac, json, os, sys
    from urllib.request import Request, urlopen

    def call(operation, params, sandbox=True):
        host = "mturk-requester%s.us-east-1.amazonaws.com" % ("-sandbox" if sandbox else "")
        target = "MTurkRequesterServiceV20170117." + operation
        now = datetime.datetime.utcnow()
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        body = json.dumps(params).encode()
        headers = "content-type:application/x-amz-json-1.1\\nhost:%s\\nx-amz-date:%s\\nx-amz-target:%s\\n" % (
            host, amz_date, target)
        signed = "content-type;host;x-amz-date;x-amz-target"
        canonical = "\\n".join(["POST", "/", "", headers, signed, hashlib.sha256(body).hexdigest()])
        scope = "/".join([day, "us-east-1", "mturk-requester", "aws4_request"])
        to_sign = "\\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + os.environ["SECRET"]).encode()
        for part in (day, "us-east-1", "mturk-requester", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            os.environ["KEY"], scope, signed, signature)
        request = Request("https://" + host, headers={"Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Date": amz_date, "X-Amz-Target": target, "Authorization": auth})
        return json.loads(urlopen(request, data=body).read())

    print(json.dumps({"sandbox": call("GetAccountBalance", {}), "live": call("GetAccountBalance", {}, False)}))
    """
)


@pytest.fixture(scope="module")
def tls_server(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=False, auth="sigv4", tls=True, extra_args=aws_args) as running:
        yield running


def _requester(server: ServerProcess) -> tuple[str, str]:
    fields = cli_keys(server.db_url, "requesters", "create", f"lab-{uuid.uuid4().hex[:6]}")
    return fields["AWS_ACCESS_KEY_ID"].strip(), fields["AWS_SECRET_ACCESS_KEY"].strip()


def test_serve_tls_speaks_https_with_a_certificate_naming_mturks_hostnames(tls_server: ServerProcess) -> None:
    assert tls_server.ca_file is not None
    assert httpx.get(f"{tls_server.base_url}/health", verify=tls_server.http_verify).status_code == 200
    with pytest.raises(httpx.ConnectError):  # not trusted without the local CA
        httpx.get(f"{tls_server.base_url}/health", verify=ssl.create_default_context())
    cert = x509.load_pem_x509_certificate((tls_server.tls_dir / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert set(MTURK_HOSTNAMES) <= set(names) and "localhost" in names
    assert oct((tls_server.tls_dir / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_boto3_over_tls_with_verified_signatures(tls_server: ServerProcess) -> None:
    key, secret = _requester(tls_server)
    assert tls_server.client(key, secret).get_account_balance()["AvailableBalance"] == "10000.00"


def test_a_urllib_client_signed_for_mturks_hostname_reaches_openturk_through_exec(
    tls_server: ServerProcess, tmp_path: Path
) -> None:
    key, secret = _requester(tls_server)
    program = tmp_path / "otree_like.py"
    program.write_text(URLLIB_CLIENT)
    command = [sys.executable, "-m", "openturk.cli", "exec", "--endpoint", tls_server.base_url]
    command += ["--ca-file", str(tls_server.ca_file), "--", sys.executable, str(program)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KEY": key, "SECRET": secret},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["sandbox"]["AvailableBalance"] == found["live"]["AvailableBalance"] == "10000.00"


def test_exec_with_an_https_endpoint_needs_the_ca(tls_server: ServerProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "openturk.cli", "exec", "--endpoint", tls_server.base_url, "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2 and "--ca-file" in result.stderr
