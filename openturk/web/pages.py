"""What every page of the web site shares: templates, security headers, the session and CSRF.

Pages are server-rendered Jinja2 (autoescaped) with a Content-Security-Policy that allows scripts,
styles and images from the site only, frames only from the task origin (requester content) and the
sources an ExternalQuestion needs, and no framing of the site itself. Every form post goes through
``Site.form``: the session's CSRF token must come with it (``csrf_token`` field, compared in constant
time) before the handler runs, so no page handler can forget it. The site's own ``csrf_token`` field
comes first in every form it renders, and the first is the one checked: a QuestionForm question may
be named ``csrf_token`` too (MTurk allowed any QuestionIdentifier), and its answer follows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openturk.clock import Clock, SystemClock
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.web import access, sessions
from openturk.web.forms import MAX_FORM_FIELDS, MAX_FORM_FILES, field_with_nul
from openturk.web.sessions import Session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# A form with more fields than this is refused before it is parsed further (a QuestionForm has at
# most a few hundred questions; a selection answer repeats its field).

Handler = Callable[[Request], Awaitable[Response]]
FormHandler = Callable[[Request, FormData], Awaitable[Response]]


class FormRefused(Exception):
    """A form post without the session's CSRF token (403), or one that cannot be read (400)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def content_security_policy(frame_sources: Iterable[str]) -> str:
    frames = " ".join(frame_sources) or "'none'"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"frame-src {frames}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )


_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')


def with_questionform(response: Response, form_html: str) -> Response:
    """``response``'s CSP widened for the QuestionForm it shows: its Binary content (images, audio,
    video) from the requester's HTTPS URLs, and the inline styles its FormattedContent kept after
    sanitising, each allowed by its hash ('unsafe-hashes' covers style attributes only: no
    ``<style>`` element, no script, and no other style than these exact ones)."""
    policy = response.headers["Content-Security-Policy"]
    policy = policy.replace("img-src 'self' data:;", "img-src 'self' data: https:; media-src https:;")
    styles = sorted({html.unescape(value) for value in _STYLE_ATTRIBUTE.findall(form_html)})
    if styles:
        hashes = " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'" for style in styles
        )
        policy = policy.replace("style-src 'self';", f"style-src 'self' 'unsafe-hashes' {hashes};")
    response.headers["Content-Security-Policy"] = policy
    return response


def form_text(form: FormData, name: str) -> str:
    """A form's text field, "" when it is missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def answer_fields(form: FormData) -> dict[str, list[str]]:
    """A QuestionForm's posted text fields, name → values, without the site's own CSRF token (the
    first ``csrf_token`` value; a question of that name keeps its answers)."""
    fields: dict[str, list[str]] = {}
    token_seen = False
    for name, value in form.multi_items():
        if name == "csrf_token" and not token_seen:
            token_seen = True
        elif isinstance(value, str):
            fields.setdefault(name, []).append(value)
    return fields


def safe_next(target: str | None, default: str) -> str:
    """Where to go after logging in: a path of this site only (never ``//evil`` or ``https://evil``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


class Site:
    """Renders pages and wraps their handlers; one per application."""

    def __init__(self, db: Database, clock: Clock, settings: Settings, frame_sources: Iterable[str] = ()) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        # Sessions and log-in limits run on wall time even under --virtual-clock: making a HIT's hours
        # pass in a test must not log its worker out.
        self.site_clock: Clock = SystemClock()
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.csp = content_security_policy(frame_sources)

    def session(self, request: Request) -> Session | None:
        return access.session_of(request.scope)

    def worker_id(self, request: Request) -> str:
        """The signed-in worker of a ``worker_page`` (the boundary admitted no one else)."""
        session = self.session(request)
        assert session is not None and session.worker_id is not None, "a worker_page without a worker session"
        return session.worker_id

    def render(
        self, request: Request, template: str, status: int = 200, *, session: Session | None = None, **values: Any
    ) -> HTMLResponse:
        session = session or self.session(request)
        html = self.templates.get_template(template).render(
            session=session,
            csrf_token=session.csrf_token if session else "",
            path=request.url.path,
            **values,
        )
        return HTMLResponse(html, status, headers=self.headers())

    def headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": self.csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        }

    def redirect(self, url: str, *, cookie: str | None = None) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303, headers=self.headers())
        if cookie is not None:
            response.headers.append("Set-Cookie", cookie)
        return response

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https"

    def start_session(self, request: Request, kind: sessions.Kind, principal: str | None) -> tuple[Session, str]:
        """A new session (ending the visitor's old one) and the Set-Cookie value that names it."""
        old = self.session(request)
        if old is not None:
            sessions.end(self.db, self.site_clock, old.token)
        session = sessions.start(self.db, self.site_clock, kind, principal)
        return session, sessions.cookie_header(session.token, self.secure(request))

    def visitor_session(self, request: Request) -> tuple[Session, str | None]:
        """The visitor's session, or a new anonymous one (so a log-in form has a CSRF token) with its cookie."""
        session = self.session(request)
        if session is not None:
            return session, None
        return self.start_session(request, "anonymous", None)

    def form(self, handler: FormHandler) -> Handler:
        """A POST endpoint whose form must carry the session's CSRF token; refused with 403 otherwise."""

        async def endpoint(request: Request) -> Response:
            try:
                form = await self._checked_form(request)
            except FormRefused as refusal:
                return self.render(request, "error.html", refusal.status, title="Form refused", message=str(refusal))
            try:
                return await handler(request, form)
            finally:
                await form.close()

        endpoint.__name__ = getattr(handler, "__name__", "form")
        return endpoint

    async def _checked_form(self, request: Request) -> FormData:
        session = self.session(request)
        try:
            form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
        except Exception as exc:  # starlette raises HTTPException/MultiPartException for malformed or oversized forms
            raise FormRefused(f"The form could not be read: {exc}", 400) from exc
        presented = next(iter(form.getlist("csrf_token")), None)
        if (
            session is None
            or not isinstance(presented, str)
            or not hmac.compare_digest(presented.encode(), session.csrf_token.encode())
        ):
            await form.close()
            raise FormRefused(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
            )
        if (field := field_with_nul(form)) is not None:
            await form.close()
            raise FormRefused(f"The field {field} holds the NUL character, which no field may hold.", 400)
        return form
