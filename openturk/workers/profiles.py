"""A worker's profile, as the worker site's profile page and the admin CLI change it.

HTTP-free: errors are ``WorkerError`` (a 4xx for a web caller) naming the field, and nothing is
written when one is raised. The profile feeds the system qualifications Locale, Adult and Masters.
"""

from __future__ import annotations

from dataclasses import replace

from openturk.clock import Clock
from openturk.domain import profiles
from openturk.domain.profiles import WorkerProfile
from openturk.errors import WorkerError
from openturk.store.database import Database
from openturk.store.profiles import ProfileRepository
from openturk.workers.actions import check_worker_id


def get_profile(db: Database, worker_id: str) -> WorkerProfile:
    """The worker's profile; the defaults (Locale US, Adult 0, no Masters) when none was set."""
    check_worker_id(worker_id)
    with db.read() as conn:
        return ProfileRepository(conn).profile(worker_id) or profiles.default(worker_id)


def _known(repo: ProfileRepository, worker_id: str) -> WorkerProfile:
    check_worker_id(worker_id)
    if not repo.worker_exists(worker_id):
        # Only workers made by ``openturk workers create`` have a row a profile can belong to.
        raise WorkerError(404, "WorkerNotFound", f"WorkerId: worker {worker_id} does not exist.")
    return repo.profile(worker_id) or profiles.default(worker_id)


def update_profile(
    db: Database, clock: Clock, worker_id: str, *, country: str, subdivision: str | None, adult: bool
) -> WorkerProfile:
    """Set where the worker is and whether they see adult content; Masters is left as it is.

    Raises ``WorkerError`` 400 ``InvalidProfile`` naming Country, Subdivision or Adult, 404 for a
    worker that does not exist."""
    code, part = profiles.checked_locale(country, subdivision)
    if not isinstance(adult, bool):
        raise WorkerError(400, "InvalidProfile", "Adult: must be true or false.")
    with db.write() as conn:
        repo = ProfileRepository(conn)
        now = clock.now_ms()
        updated = replace(_known(repo, worker_id), country=code, subdivision=part, adult=adult, updated_at=now)
        repo.put_profile(updated, now)
        return updated


def set_masters(db: Database, clock: Clock, worker_id: str, *, granted: bool) -> WorkerProfile:
    """Grant (at now; a grant already held keeps its time) or revoke the Masters qualification."""
    with db.write() as conn:
        repo = ProfileRepository(conn)
        now = clock.now_ms()
        current = _known(repo, worker_id)
        held = current.masters_granted_at
        updated = replace(current, masters_granted_at=(held or now) if granted else None, updated_at=now)
        repo.put_profile(updated, now)
        return updated
