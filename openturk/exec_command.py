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
import contextlib
import hashlib
import os
import signal
import stat
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

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
except ImportError as _error:
    if _error.name != "sitecustomize":
        raise  # theirs failed inside: Python reports it ("Error in sitecustomize") as it would without us
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
    """Replace this process with the command (``os.execvpe``), so that signals (a terminal's Ctrl-C,
    a process manager's SIGTERM or SIGHUP) reach it once, as they would without ``openturk exec``,
    and its exit status, a death by signal included, is the caller's to see. Returns only when the
    command could not be started (126, 127) or the arguments are refused (2)."""
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
        wanted = f"--ca-file {args.ca_file} is not a file" if args.ca_file else "give --ca-file"
        print(
            f"openturk exec: an https endpoint needs openturk's CA: {wanted} (openturk serve --tls prints it)",
            file=sys.stderr,
        )
        return 2
    home = _private_dir()
    hook_dir = _hook_dir(home)
    env = environment(args, hook_dir)
    if ca_file is not None:
        bundle = _written_once(home, "ca-bundle", ".pem", redirect.bundle_text(str(ca_file)).encode())
        env.update(redirect.trust_environment(str(ca_file), str(bundle)))
        env[redirect.ENV_RESOLVE] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores these two at start-up and an exec keeps what is ignored: the command gets them
    # as a shell would give them (``yes | head -1`` ends quietly), as subprocess's restore_signals does.
    for ignored_by_python in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(ignored_by_python, signal.SIG_DFL)
    try:
        os.execvpe(command[0], command, env)
    except OSError as error:
        print(f"openturk exec: cannot run {command[0]}: {error.strerror or error}", file=sys.stderr)
        # The shell's codes: 127 when there is no such command, 126 when it cannot be run.
        return 127 if isinstance(error, FileNotFoundError) else 126
    return 0  # not reached: execvpe returns only by raising


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
    configured = _configured()
    if not configured.region:
        # MTurk lived in us-east-1 only; a region the command's configuration names is left alone
        # (its other AWS clients keep theirs; MTurk clients are redirected whatever their region).
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    if not configured.credentials:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = FALLBACK_KEY
    return env


class _Configured(NamedTuple):
    region: bool
    credentials: bool


def _configured() -> _Configured:
    """Whether the command would find a region and credentials of its own. A configuration botocore
    cannot read (a missing AWS_PROFILE, a broken config file) counts as both: the command meets the
    same error itself and may mean to mend it; it is not papered over with made-up values."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session()
        return _Configured(bool(session.get_config_variable("region")), session.get_credentials() is not None)
    except (BotoCoreError, OSError, ValueError):
        return _Configured(True, True)


# -- the files the command's Python processes load -----------------------------------------------------------
def _private_dir() -> Path:
    """A directory only this user can write, for the hook and CA bundle: the user's cache, else one in
    the temporary directory (checked to be this user's own, not planted by another), else a new one."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openturk" / "exec"
    uid = os.getuid()
    for candidate in (cache, Path(tempfile.gettempdir()) / f"openturk-exec-{uid}"):
        try:
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            found = candidate.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(found.st_mode) and found.st_uid == uid and not found.st_mode & 0o022:
            return candidate
    return Path(tempfile.mkdtemp(prefix="openturk-exec-"))


def _hook_dir(home: Path) -> Path:
    """The directory put on PYTHONPATH: ``sitecustomize.py`` and ``openturk_redirect.py``, named by
    their content, so each version of them is written once and stays valid after this process is
    replaced by the command (concurrent runs share it; one directory per version of them is kept)."""
    redirect_source = Path(redirect.__file__).read_bytes()
    files = {"openturk_redirect.py": redirect_source, "sitecustomize.py": SITECUSTOMIZE.encode()}
    digest = hashlib.sha256(b"\0".join(files.values()))
    hook_dir = home / f"hook-{digest.hexdigest()[:16]}"
    hook_dir.mkdir(mode=0o700, exist_ok=True)
    for name, content in files.items():
        _replace(hook_dir / name, content)
    return hook_dir


def _written_once(directory: Path, stem: str, suffix: str, content: bytes) -> Path:
    path = directory / f"{stem}-{hashlib.sha256(content).hexdigest()[:16]}{suffix}"
    _replace(path, content)
    return path


def _replace(path: Path, content: bytes) -> None:
    """Write ``path`` whole or not at all (another run may be reading it)."""
    if path.is_file() and path.read_bytes() == content:
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
