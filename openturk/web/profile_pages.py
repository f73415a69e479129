"""The signed-in worker's profile page: where they are and whether they see adult content (which feed
the system qualifications Locale and Adult), Masters (read only) and the auto-accept preference.

Saving goes through ``openturk.workers.profiles.update_profile``; a refused field is shown next to it
and nothing is written."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk.errors import WorkerError
from openturk.web import display
from openturk.web.countries import NAMES
from openturk.web.pages import Site, form_text
from openturk.workers import accounts, profiles

# update_profile names the field first in its message ("Country: ..."); the form's field names.
_FIELDS = {"Country": "country", "Subdivision": "subdivision", "Adult": "adult"}
# The <select>'s options, by name: what a person looks for.
COUNTRY_OPTIONS = sorted(NAMES.items(), key=lambda item: item[1].casefold())


@dataclass(frozen=True)
class FieldError:
    """A refused field, as the ``_errors.html`` macros show it."""

    message: str
    field: str | None


def field_error(error: WorkerError) -> FieldError:
    prefix, _, _ = error.message.partition(":")
    return FieldError(error.message, _FIELDS.get(prefix))


@dataclass(frozen=True)
class ProfileForm:
    """What the form shows: as stored, or as the worker sent it when it was refused."""

    country: str
    subdivision: str
    adult: bool
    auto_accept_next: bool


class ProfilePages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/profile", self.profile_page, methods=["GET"]),
            Route("/profile", self.site.form(self.save), methods=["POST"]),
        ]

    async def profile_page(self, request: Request) -> Response:
        worker_id = self.site.worker_id(request)
        profile = await asyncio.to_thread(profiles.get_profile, self.site.db, worker_id)
        auto_accept = await asyncio.to_thread(accounts.auto_accept_next, self.site.db, worker_id)
        values = ProfileForm(profile.country, profile.subdivision or "", profile.adult, auto_accept)
        return await self._render(request, values, saved=request.query_params.get("saved") == "1")

    async def save(self, request: Request, form: FormData) -> Response:
        worker_id = self.site.worker_id(request)
        values = ProfileForm(
            form_text(form, "country"),
            form_text(form, "subdivision"),
            form.get("adult") == "1",
            form.get("auto_accept_next") == "1",
        )
        try:
            await asyncio.to_thread(
                profiles.update_profile,
                self.site.db,
                self.site.clock,
                worker_id,
                country=values.country,
                subdivision=values.subdivision or None,
                adult=values.adult,
            )
        except WorkerError as error:
            return await self._render(request, values, status=error.status, error=field_error(error))
        # Only once the profile is taken: a refused form changes nothing at all.
        await asyncio.to_thread(accounts.set_auto_accept_next, self.site.db, worker_id, values.auto_accept_next)
        return self.site.redirect("/profile?saved=1")

    async def _render(
        self,
        request: Request,
        values: ProfileForm,
        *,
        status: int = 200,
        error: FieldError | None = None,
        saved: bool = False,
    ) -> Response:
        worker_id = self.site.worker_id(request)
        # Masters and the e-mail address are shown as stored, whatever the form said.
        profile = await asyncio.to_thread(profiles.get_profile, self.site.db, worker_id)
        email = await asyncio.to_thread(accounts.email, self.site.db, worker_id)
        return self.site.render(
            request,
            "profile.html",
            status,
            title="Your profile",
            worker_id=worker_id,
            email=email,
            profile=profile,
            values=values,
            countries=COUNTRY_OPTIONS,
            error=error,
            saved=saved,
            show=display,
        )
