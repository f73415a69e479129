"""The site's shared page rules: where a log-in may send one back, the session cookie, the CSP."""

from __future__ import annotations

import pytest

from openturk.web import sessions
from openturk.web.pages import content_security_policy, safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/work?page=2", "/work?page=2"),
        ("/dashboard", "/dashboard"),
        ("", "/"),
        (None, "/"),
        ("//evil.example/path", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("work", "/"),
    ],
)
def test_a_log_in_returns_only_to_a_path_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target, "/") == expected


def test_over_tls_the_cookie_is_host_only_and_secure() -> None:
    header = sessions.cookie_header("tok", True)
    assert header.startswith("__Host-openturk-session=tok;")
    for attribute in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure"):
        assert attribute in header.split("; ")
    assert "Domain" not in header  # __Host- cookies must not name one


def test_over_plain_http_the_cookie_drops_secure_and_the_prefix() -> None:
    header = sessions.cookie_header("tok", False, max_age_s=0)
    assert header.split("; ") == ["openturk-session=tok", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0"]


def test_the_policy_frames_only_the_given_sources() -> None:
    assert "frame-src 'none'" in content_security_policy(())
    policy = content_security_policy(("http://127.0.0.1:8445",))
    assert "frame-src http://127.0.0.1:8445;" in policy
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
