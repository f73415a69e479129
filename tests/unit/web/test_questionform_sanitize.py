"""FormattedContent keeps MTurk's allowed markup and loses everything that could run or escape."""

from __future__ import annotations

import pytest

from openturk.domain.questionform.formatted import sanitize, text_of


@pytest.mark.parametrize(
    ("dirty", "gone"),
    [
        ("<p>hi<script>alert(1)</script></p>", "alert"),
        ('<p onclick="alert(1)">hi</p>', "onclick"),
        ('<img src="https://e.com/a.png" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<a href="data:text/html,&lt;script&gt;">x</a>', "data:"),
        ('<a href="/api/worker/assignments">x</a>', "/api/worker"),
        ('<a href="ftp://example.com/file">x</a>', "ftp:"),
        ('<img src="file:///etc/passwd">', "file:"),
        ('<img src="//evil.example/x.png">', "evil"),
        ('<iframe src="https://e.com"></iframe>', "iframe"),
        ("<iframe>fallback text</iframe>", "fallback"),  # dropped with what it holds
        ("<template><b>hidden</b></template>", "hidden"),
        ('<form action="https://e.com"><input name="x"></form>', "<input"),
        ("<style>body{display:none}</style>", "display"),
        ('<p style="position:fixed;top:0">x</p>', "position"),
        ('<p id="qf-1-answer" name="x">x</p>', "qf-1-answer"),
        ("<svg><script>alert(1)</script></svg>", "alert"),
    ],
)
def test_what_could_run_or_escape_is_removed(dirty: str, gone: str) -> None:
    assert gone.lower() not in sanitize(dirty).lower()


@pytest.mark.parametrize(
    "kept",
    [
        "<b>bold</b>",
        "<i>it</i>",
        "<h2>Head</h2>",
        '<a href="https://example.com/x" rel="noopener noreferrer nofollow">x</a>',
        '<a href="mailto:a@example.com" rel="noopener noreferrer nofollow">mail</a>',
        '<img src="https://example.com/a.png" alt="A">',
        '<table border="1"><tbody><tr><td align="center">1</td></tr></tbody></table>',
        "<ul><li>one</li></ul>",
        '<font color="red">red</font>',
        '<p style="color:red">red</p>',
    ],
)
def test_allowed_markup_is_kept(kept: str) -> None:
    assert sanitize(kept) == kept


def test_style_keeps_looks_and_drops_placement() -> None:
    assert sanitize('<span style="color:red;position:absolute">x</span>') == '<span style="color:red">x</span>'


def test_text_of_drops_markup_and_reads_entities() -> None:
    assert text_of("<b>Fish</b> &amp; <i>chips</i>") == "Fish & chips"
