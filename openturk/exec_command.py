"""``openturk exec [--endpoint URL] [--sandbox|--live] [--local-aws [URL]] -- COMMAND …``

Runs COMMAND so that every botocore ``mturk`` client it (or any Python process it starts) makes talks
to openturk. A ``sitecustomize.py`` on ``PYTHONPATH`` loads a copy of ``openturk/redirect.py``
(standard library only, so it works in another virtual environment, another Python, another
botocore) and installs it from the ``OPENTURK_REDIRECT_*`` variables, which children inherit. A
``sitecustomize`` the environment had already is still run after ours.

With an https endpoint (``openturk serve --tls``) the command also trusts openturk's local CA and
resolves MTurk's hostnames to openturk, so clients that do not use botocore (oTree's, or anything on
``urllib``/``requests``) reach it too, their requests still addressed and signed for MTurk's hostname.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from openturk import redirect

DEFAULT_ENDPOINT = "http://127.0.0.1:8443"
DEFAULT_LOCAL_AWS = "http://127.0.0.1:8444"
# Used only when the command would find no AWS credentials at all: openturk's --auth open takes any key.
FALLBACK_KEY = ("AKIDOPENTURKEXEC", "openturk-exec")

SITECUSTOMIZE = '''\
"""Written by ``openturk exec``: redirect MTurk clients to openturk, then run the sitecustomize this shadows."""
import os
import sys

try:
    import openturk_redirect

    openturk_redirect.install_from_environment()
except Exception as error:  # never stop the program from starting
    sys.stderr.write("openturk exec: could not redirect MTurk clients: %r\\n" % (error,))

_here = os.path.dirname(os.path.abspath(__file__))
_saved = list(sys.path)
_this = sys.modules.pop("sitecustomize", None)
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _here]
try:
    import sitecustomize  # noqa: F401  (the environment's own, if it has one)
except ImportError:
    if _this is not None:
        sys.modules["sitecustomize"] = _this  # the import that is running this file expects it there
finally:
    sys.path[:] = _saved
'''


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "exec",
        help="run a command whose boto3/botocore MTurk clients talk to openturk",
        description="Run COMMAND so that every botocore mturk client it makes (whatever endpoint_url it "
        "passes) talks to openturk; with --local-aws its sqs/sns clients talk to the local AWS endpoint.",
    )
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"openturk's URL (default {DEFAULT_ENDPOINT})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--sandbox",
        dest="mode",
        action="store_const",
        const="sandbox",
        help="clients' meta.endpoint_url reads as MTurk's sandbox URL",
    )
    mode.add_argument(
        "--live",
        dest="mode",
        action="store_const",
        const="live",
        help="clients' meta.endpoint_url reads as MTurk's live URL",
    )
    parser.add_argument(
        "--local-aws",
        nargs="?",
        const=DEFAULT_LOCAL_AWS,
        default=None,
        metavar="URL",
        help=f"also send sqs/sns clients there (default {DEFAULT_LOCAL_AWS})",
    )
    parser.add_argument(
        "--ca-file",
        default=None,
        help="openturk's local CA, trusted by the command when --endpoint is https "
        "(default: openturk-tls/ca.pem in this directory, as openturk serve --tls makes it)",
    )
    parser.add_argument("program", nargs=argparse.REMAINDER, metavar="COMMAND", help="-- COMMAND [ARGS…]")


def run(args: argparse.Namespace) -> int:
    command = list(args.program)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("openturk exec: give a command after --, e.g. openturk exec -- python script.py", file=sys.stderr)
        return 2
    try:
        redirect._check_url("--endpoint", args.endpoint)
        if args.local_aws:
            redirect._check_url("--local-aws", args.local_aws)
    except ValueError as error:
        print(f"openturk exec: {error}", file=sys.stderr)
        return 2
    ca_file = _ca_file(args)
    if args.endpoint.startswith("https://") and ca_file is None:
        print(
            "openturk exec: an https endpoint needs openturk's CA: give --ca-file (openturk serve --tls prints it)",
            file=sys.stderr,
        )
        return 2
    hook_dir = Path(tempfile.mkdtemp(prefix="openturk-exec-"))
    try:
        shutil.copyfile(redirect.__file__, hook_dir / "openturk_redirect.py")
        (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = environment(args, hook_dir)
        if ca_file is not None:
            env.update(redirect.trust(str(ca_file), str(hook_dir / "ca-bundle.pem")))
            env[redirect.ENV_RESOLVE] = "1"
        return _run(command, env)
    finally:
        shutil.rmtree(hook_dir, ignore_errors=True)


def _ca_file(args: argparse.Namespace) -> Path | None:
    if not args.endpoint.startswith("https://"):
        return None
    candidate = Path(args.ca_file) if args.ca_file else Path("openturk-tls") / "ca.pem"
    return candidate.resolve() if candidate.is_file() else None


def environment(args: argparse.Namespace, hook_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook_dir), env.get("PYTHONPATH", "")) if p)
    env[redirect.ENV_ENDPOINT] = args.endpoint
    env[redirect.ENV_MODE] = args.mode or ""
    env[redirect.ENV_LOCAL_AWS] = args.local_aws or ""
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # MTurk lived in us-east-1 only
    if not _has_credentials():
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = FALLBACK_KEY
    return env


def _has_credentials() -> bool:
    import botocore.session

    return botocore.session.Session().get_credentials() is not None


def _run(command: list[str], env: dict[str, str]) -> int:
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as error:
        print(f"openturk exec: cannot run {command[0]}: {error}", file=sys.stderr)
        return 127

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
