"""The URL a task's frame loads: the task's own URL with MTurk's four parameters appended.

MTurk appended ``assignmentId``, ``hitId``, ``turkSubmitTo`` and ``workerId`` to an ExternalURL
(and to HTMLQuestion's frame), keeping the URL's own query, with one ``?`` [D ExternalQuestion];
in preview ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE`` and there is no ``workerId``.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"


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
