"""A worker's profile: where they are, whether they see adult content, whether they are a Master.

Pure rules (no I/O). The profile feeds the system qualifications Locale (Country and Subdivision),
Adult and Masters (``openturk.domain.qualifications.WorkerStanding``).

DECISION (docs/decisions.md): a worker without a profile row is what an MTurk worker was before
they changed any setting: Locale US without a Subdivision, Adult 0, not a Master.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openturk.errors import WorkerError

DEFAULT_COUNTRY = "US"

# ISO 3166-1 alpha-2, the officially assigned codes (249).
_ISO_3166_1 = " ".join(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS",
        "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE",
        "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM",
        "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC",
        "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA",
        "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW",
        "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO",
        "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW",
    )
)
COUNTRIES = frozenset(_ISO_3166_1.split(" "))

# The part of an ISO 3166-2 code after "<country>-": 1 to 3 letters or digits. (The wire's Locale
# carries 2-character subdivisions only, so only those can be named by a requirement.)
SUBDIVISION = re.compile(r"^[A-Z0-9]{1,3}\Z")


@dataclass(frozen=True)
class WorkerProfile:
    worker_id: str
    country: str = DEFAULT_COUNTRY
    subdivision: str | None = None
    adult: bool = False
    masters_granted_at: int | None = None
    updated_at: int | None = None  # None: no profile row, the defaults

    @property
    def is_master(self) -> bool:
        return self.masters_granted_at is not None

    @property
    def locale(self) -> str:
        """``US`` or ``US-WA``: how requirements compare it."""
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"


def default(worker_id: str) -> WorkerProfile:
    return WorkerProfile(worker_id)


def checked_locale(country: str, subdivision: str | None) -> tuple[str, str | None]:
    """The codes, upper-cased; raises ``WorkerError`` (400 InvalidProfile) naming the field.

    ``subdivision`` may be given as its suffix (``WA``) or as the full ISO 3166-2 code (``US-WA``)."""
    code = country.strip().upper() if isinstance(country, str) else ""
    if code not in COUNTRIES:
        raise WorkerError(400, "InvalidProfile", f"Country: {country!r} is not an ISO 3166-1 alpha-2 country code.")
    if subdivision is None or not subdivision.strip():
        return code, None
    part = subdivision.strip().upper()
    if part.startswith(f"{code}-"):
        part = part[len(code) + 1 :]
    if not SUBDIVISION.match(part):
        raise WorkerError(
            400,
            "InvalidProfile",
            f"Subdivision: {subdivision!r} is not an ISO 3166-2 subdivision code of {code} (e.g. WA for US-WA).",
        )
    return code, part
