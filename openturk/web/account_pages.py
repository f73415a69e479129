"""The site's front door: home, worker sign-up and log-in, requester/admin log-in, log-out."""

from __future__ import annotations

import asyncio
import hmac

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk.store.repository import Repository
from openturk.web import sessions
from openturk.web.pages import Site, form_text, safe_next
from openturk.workers import accounts


class AccountPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        site = self.site
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/signup", self.signup_page, methods=["GET"]),
            Route("/signup", site.form(self.signup), methods=["POST"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", site.form(self.login), methods=["POST"]),
            Route("/logout", site.form(self.logout), methods=["POST"]),
            Route("/requester/login", self.requester_login_page, methods=["GET"]),
            Route("/requester/login", site.form(self.requester_login), methods=["POST"]),
        ]

    async def home(self, request: Request) -> Response:
        return self.site.render(
            request, "home.html", title="openturk", welcome=bool(request.query_params.get("welcome"))
        )

    # -- workers ----------------------------------------------------------------------------------
    async def signup_page(self, request: Request) -> Response:
        return self._visitor_page(request, "signup.html", title="Create a worker account", values={})

    async def signup(self, request: Request, form: FormData) -> Response:
        email, password = form_text(form, "email"), form_text(form, "password")
        name = form_text(form, "name")
        try:
            if password != form_text(form, "password_again"):
                raise accounts.AccountError("The two passwords are not the same.", "password_again")
            created = await asyncio.to_thread(
                accounts.sign_up, self.site.db, self.site.site_clock, email, password, name
            )
        except accounts.AccountError as error:
            return self._visitor_page(
                request,
                "signup.html",
                400,
                title="Create a worker account",
                values={"email": email, "name": name},
                error=error,
            )
        _, cookie = self.site.start_session(request, "worker", created.worker_id)
        return self.site.redirect("/?welcome=1", cookie=cookie)

    async def login_page(self, request: Request) -> Response:
        return self._visitor_page(
            request, "login.html", title="Log in", values={"next": request.query_params.get("next", "")}
        )

    async def login(self, request: Request, form: FormData) -> Response:
        email, password = form_text(form, "email"), form_text(form, "password")
        target = form_text(form, "next")
        client = request.client.host if request.client else "unknown"
        try:
            worker_id = await asyncio.to_thread(
                accounts.log_in, self.site.db, self.site.site_clock, email, password, client
            )
        except accounts.AccountError as error:
            status = 429 if isinstance(error, accounts.TooManyAttempts) else 400
            return self._visitor_page(
                request, "login.html", status, title="Log in", values={"email": email, "next": target}, error=error
            )
        _, cookie = self.site.start_session(request, "worker", worker_id)
        return self.site.redirect(safe_next(target, "/"), cookie=cookie)

    async def logout(self, request: Request, form: FormData) -> Response:
        session = self.site.session(request)
        if session is not None:
            await asyncio.to_thread(sessions.end, self.site.db, self.site.site_clock, session.token)
        # Back to the log-in the session came from: a requester's or the admin's is the requester one.
        login = "/requester/login" if session is not None and session.kind in ("requester", "admin") else "/login"
        return self.site.redirect(login, cookie=sessions.cookie_header("", self.site.secure(request), max_age_s=0))

    # -- requesters and the admin -----------------------------------------------------------------
    async def requester_login_page(self, request: Request) -> Response:
        return self._visitor_page(
            request,
            "requester_login.html",
            title="Requester log-in",
            values={"next": request.query_params.get("next", "")},
        )

    async def requester_login(self, request: Request, form: FormData) -> Response:
        access_key_id, secret = form_text(form, "access_key_id"), form_text(form, "secret_access_key")
        admin_token = form_text(form, "admin_token")
        target = form_text(form, "next")
        client = request.client.host if request.client else "unknown"
        # Limited per client, as a worker's log-in is. Not per key id or for the admin token as a
        # worker's address is: anyone could then lock a requester (whose key id is no secret) or the
        # admin out with five wrong guesses, and the secrets are long and random, not passwords.
        login = "admin-token" if admin_token else f"access-key:{access_key_id[:128]}"
        now = self.site.site_clock.now_ms()
        try:
            await asyncio.to_thread(accounts.refuse_if_limited, self.site.db, now, login, client, per_login=False)
            kind, principal = await asyncio.to_thread(self._requester_credentials, access_key_id, secret, admin_token)
            if kind is None:
                await asyncio.to_thread(accounts.record_failure, self.site.db, now, login, client)
                raise accounts.AccountError("Those credentials are not right.")
        except accounts.AccountError as error:
            return self._visitor_page(
                request,
                "requester_login.html",
                429 if isinstance(error, accounts.TooManyAttempts) else 400,
                title="Requester log-in",
                values={"access_key_id": access_key_id, "next": target},
                error=error,
            )
        _, cookie = self.site.start_session(request, kind, principal)
        return self.site.redirect(safe_next(target, "/requester"), cookie=cookie)

    def _requester_credentials(
        self, access_key_id: str, secret: str, admin_token: str
    ) -> tuple[sessions.Kind | None, str | None]:
        configured = self.site.settings.admin_token
        if admin_token:
            if configured and hmac.compare_digest(admin_token.encode(), configured.encode()):
                return "admin", None
            return None, None
        if not access_key_id or len(access_key_id) > 128 or len(secret) > 128:
            return None, None
        with self.site.db.read() as conn:
            found = Repository(conn).access_key(access_key_id)
        if found is None:
            return None, None
        customer_id, stored_secret = found
        if stored_secret is None:
            # A key made up by a client under --auth open has no secret: it signs in by its id alone there.
            return ("requester", customer_id) if self.site.settings.auth == "open" else (None, None)
        if hmac.compare_digest(secret.encode(), stored_secret.encode()):
            return "requester", customer_id
        return None, None

    def _visitor_page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        title: str,
        values: dict[str, str],
        error: accounts.AccountError | None = None,
    ) -> Response:
        session, cookie = self.site.visitor_session(request)
        response = self.site.render(request, template, status, session=session, title=title, values=values, error=error)
        if cookie is not None:
            response.headers.append("Set-Cookie", cookie)
        return response
