"""The URL a task's frame loads: the task's own URL with MTurk's four parameters appended.

MTurk appended ``assignmentId``, ``hitId``, ``turkSubmitTo`` and ``workerId`` to an ExternalURL
(and to HTMLQuestion's frame), keeping the URL's own query, with one ``?`` [D ExternalQuestion];
in preview ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE`` and there is no ``workerId``.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
DEFAULT_PORTS = {"http": 80, "https": 443}


def with_task_parameters(
    url: str, *, assignment_id: str | None, hit_id: str, turk_submit_to: str, worker_id: str
) -> str:
    """``url`` with the four parameters appended (``assignment_id`` None: a preview)."""
    parameters = [("assignmentId", assignment_id or PREVIEW_ASSIGNMENT_ID), ("hitId", hit_id)]
    parameters.append(("turkSubmitTo", turk_submit_to))
    if assignment_id is not None:
        parameters.append(("workerId", worker_id))
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(parameters)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def origin(url: str) -> str:
    """The URL's origin as a browser compares it: ``scheme://host:port``, lower case, the scheme's
    default port written out (so ``https://A.example`` and ``https://a.example:443`` are one origin);
    ``""`` for a URL whose port is not a number."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a port: a URL no browser loads, of no origin
        return ""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port if port is not None else DEFAULT_PORTS.get(scheme, '')}"
