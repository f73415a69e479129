"""Send every MTurk client a program makes to openturk, through botocore's own extension points.

``install()`` appends handlers to ``botocore.handlers.BUILTIN_HANDLERS``, the list every botocore
``Session`` registers when it is created, and registers them on the sessions that exist already
(boto3's default one, any other kept from before). For ``mturk`` clients:

- ``before-sign.mturk``: just before a request is signed, its URL's scheme and host become openturk's,
  whatever ``endpoint_url`` the program passed (MTurk's live or sandbox hostname, or none). The
  request is then signed for the host it goes to.
- ``creating-client-class.mturk``: with ``mode="sandbox"`` (or ``"live"``), a small base class whose
  ``__init__`` makes ``client.meta.endpoint_url`` read as MTurk's sandbox (live) URL, so code that
  decides "sandbox or live" from it (Mephisto) behaves as in that mode. Without a mode it reads as
  the program made it.

With ``local_aws`` the ``sqs`` and ``sns`` clients' requests go to that endpoint too.

Programs that do not use botocore (oTree's own SigV4 client on ``urllib``) are reached another way,
when openturk speaks TLS (``openturk serve --tls``): ``resolve_hostnames=True`` makes this process
resolve MTurk's two hostnames (port 443) to openturk's host and port, and ``bundle_text(ca_file)``
with ``trust_environment`` add openturk's local CA to the certificates this process's children
verify against (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``AWS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``). The request,
still addressed to MTurk's hostname, is verified against openturk's certificate, which names it.

This file is also copied, as ``openturk_redirect.py``, next to the ``sitecustomize.py`` that
``openturk exec`` puts on ``PYTHONPATH``: programs in other virtual environments (other Python and
botocore versions, without openturk installed) load it at start-up. So it uses the standard library
only, imports botocore lazily and runs on Python 3.7 and botocore 1.12 onwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

LIVE_URL = "https://mturk-requester.us-east-1.amazonaws.com"
SANDBOX_URL = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
MTURK_HOSTNAMES = ("mturk-requester.us-east-1.amazonaws.com", "mturk-requester-sandbox.us-east-1.amazonaws.com")
MODES = (None, "sandbox", "live")
# What ``openturk exec`` passes to the programs it runs (and their children).
ENV_ENDPOINT = "OPENTURK_REDIRECT_ENDPOINT"
ENV_MODE = "OPENTURK_REDIRECT_MODE"
ENV_LOCAL_AWS = "OPENTURK_REDIRECT_LOCAL_AWS"
ENV_RESOLVE = "OPENTURK_REDIRECT_RESOLVE"

_installed: dict[str, Any] = {}  # the settings of the one installation in this process (a dict: mutable, importable)
_hooked: list[bool] = []  # non-empty once the hooks are in place (they stay for the process's life)


def install(
    endpoint: str = "http://127.0.0.1:8443",
    mode: str | None = None,
    local_aws: str | None = None,
    resolve_hostnames: bool = False,
) -> None:
    """Redirect this process's ``mturk`` clients (and, with ``local_aws``, ``sqs``/``sns``) to openturk.

    Affects clients created afterwards from any botocore session. Calling it again changes the
    targets; ``uninstall()`` stops it. ``resolve_hostnames`` (an https endpoint only) also sends any
    connection to MTurk's hostnames on port 443 to the endpoint's host and port.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be None, 'sandbox' or 'live', not {mode!r}")
    _check_url("endpoint", endpoint)
    if local_aws:
        _check_url("local_aws", local_aws)
    target = urlsplit(endpoint)
    if resolve_hostnames and target.scheme != "https":
        raise ValueError("resolving MTurk's hostnames needs an https endpoint (openturk serve --tls)")
    _installed.update(endpoint=endpoint.rstrip("/"), mode=mode, local_aws=(local_aws or "").rstrip("/") or None)
    _installed["resolve"] = (target.hostname, target.port or 443) if resolve_hostnames else None
    if not _hooked:  # once per process: uninstall() leaves the hooks in place, doing nothing
        _hooked.append(True)
        _resolve_through_openturk()
        with contextlib.suppress(ImportError):  # no botocore here: only the hostnames are redirected
            _register()


def uninstall() -> None:
    """Stop redirecting (handlers stay registered but do nothing)."""
    _installed.clear()


def install_from_environment() -> None:
    """What ``sitecustomize.py`` calls: install from ``OPENTURK_REDIRECT_*`` if set; never raise."""
    endpoint = os.environ.get(ENV_ENDPOINT)
    if not endpoint:
        return
    try:
        install(
            endpoint,
            os.environ.get(ENV_MODE) or None,
            os.environ.get(ENV_LOCAL_AWS) or None,
            resolve_hostnames=os.environ.get(ENV_RESOLVE) == "1",
        )
    except ValueError as error:
        sys.stderr.write(f"openturk exec: {error}\n")


def bundle_text(ca_file: str) -> str:
    """The system's CA certificates plus ``ca_file``, as one PEM bundle."""
    import ssl

    system = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    parts = []
    if system and os.path.isfile(system):
        with open(system, encoding="utf-8", errors="replace") as file:
            parts.append(file.read())
    with open(ca_file, encoding="utf-8") as file:
        parts.append(file.read())
    return "\n".join(part.strip() + "\n" for part in parts)


def trust_environment(ca_file: str, bundle_path: str) -> dict[str, str]:
    """The variables that make this process's children verify against ``bundle_path`` (Node.js: its
    own certificates plus ``ca_file``)."""
    return {
        "SSL_CERT_FILE": bundle_path,
        "REQUESTS_CA_BUNDLE": bundle_path,
        "AWS_CA_BUNDLE": bundle_path,
        "NODE_EXTRA_CA_CERTS": ca_file,
    }


def _resolve_through_openturk() -> None:
    """Wrap ``socket.getaddrinfo`` once: MTurk's hostnames on port 443 resolve to openturk's address
    while ``resolve`` is set (the TLS handshake still names, and verifies, MTurk's hostname)."""
    import socket

    original = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        target = _installed.get("resolve") if _installed else None
        if target is not None and isinstance(host, (str, bytes)):
            name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            if name.lower().rstrip(".") in MTURK_HOSTNAMES and str(port) in ("443", "https", "None"):
                return original(target[0], target[1], *args, **kwargs)
        return original(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL like http://127.0.0.1:8443, not {url!r}")


def _register() -> None:
    from botocore import handlers

    specs = [
        ("before-sign.mturk", _redirect_mturk),
        ("before-sign.sqs", _redirect_local_aws),
        ("before-sign.sns", _redirect_local_aws),
        ("creating-client-class.mturk", _nominal_endpoint_class),
    ]
    for spec in specs:
        if spec not in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.append(spec)
    for session in _existing_sessions():
        for event_name, handler in specs:
            session.register(event_name, handler, unique_id="openturk-redirect-" + event_name)


def _existing_sessions() -> Iterator[Any]:
    """botocore sessions made before the hooks were first put in place (boto3's default one, a
    notebook's ``boto3.Session(profile_name=...)``): their handlers were registered from
    BUILTIN_HANDLERS when they were made. Found among the live objects, once per process; a session
    kept from before would otherwise make clients that go to MTurk's real hostnames. The type is
    tested without touching the object (``isinstance`` would ask a lazy proxy for its ``__class__``)."""
    session_module = sys.modules.get("botocore.session")
    if session_module is None:  # botocore not imported yet: no session can exist
        return
    import gc

    for candidate in gc.get_objects():
        if issubclass(type(candidate), session_module.Session):
            yield candidate


def _rewrite(request: Any, target: str) -> None:
    old = urlsplit(request.url)
    new = urlsplit(target)
    path = old.path if not new.path.strip("/") else new.path.rstrip("/") + old.path
    request.url = urlunsplit((new.scheme, new.netloc, path, old.query, old.fragment))
    # The Host header (when a program or an earlier handler set one) must name where it now goes.
    headers = getattr(request, "headers", None)
    if headers is not None and "Host" in headers:
        del headers["Host"]


def _redirect_mturk(request: Any = None, **kwargs: Any) -> None:
    if _installed and request is not None:
        _rewrite(request, _installed["endpoint"])


def _redirect_local_aws(request: Any = None, **kwargs: Any) -> None:
    target = _installed.get("local_aws") if _installed else None
    if target and request is not None:
        _rewrite(request, target)


def _nominal_endpoint_class(base_classes: list[type], **kwargs: Any) -> None:
    if _NominalEndpoint not in base_classes:  # a handler registered twice must not make a duplicate base
        base_classes.insert(0, _NominalEndpoint)


class _NominalEndpoint:
    """With a mode, makes ``meta.endpoint_url`` read as MTurk's URL of that mode (requests still go to
    openturk): code that decides "sandbox or live" from it then decides as the mode says."""

    meta: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mode = _installed.get("mode") if _installed else None
        if mode is not None:
            self.meta._endpoint_url = SANDBOX_URL if mode == "sandbox" else LIVE_URL
