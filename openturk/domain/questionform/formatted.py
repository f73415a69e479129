"""FormattedContent through MTurk's allow-list of XHTML tags and attributes.

MTurk documented the tags and attributes a FormattedContent block may use; anything else (script,
style, iframe, form, event handlers) is dropped, and so is its text for the elements whose text is
code. Links and images keep only http, https and mailto addresses: relative addresses would resolve
against the worker site (and could call it as the worker), so they are dropped too. DECISION:
``style`` keeps only properties that change how text looks, never where it is (no ``position``,
which could lay requester content over the site's own controls).
"""

from __future__ import annotations

import html

import nh3
from markupsafe import Markup

TAGS = frozenset(
    {
        "a", "b", "big", "blockquote", "br", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn",
        "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol",
        "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
    }
)  # fmt: skip
ATTRIBUTES = frozenset(
    {
        "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "cite", "class", "color", "cols",
        "colspan", "datetime", "face", "height", "href", "hspace", "label", "lang", "noshade", "nowrap", "rows",
        "rowspan", "rules", "size", "span", "src", "start", "style", "summary", "title", "type", "valign",
        "value", "vspace", "width",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto"})
STYLE_PROPERTIES = frozenset(
    {
        "background-color", "border", "border-collapse", "color", "font", "font-family", "font-size",
        "font-style", "font-weight", "line-height", "list-style-type", "margin", "padding", "text-align",
        "text-decoration", "vertical-align", "white-space", "width", "height",
    }
)  # fmt: skip
# Elements whose text is code or chrome, not content: removed with what they hold.
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "title"})


def sanitize(fragment: str) -> Markup:
    """The fragment with only MTurk's allowed markup left, safe to place in the site's page."""
    cleaned = nh3.clean(
        fragment,
        tags=set(TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={"*": set(ATTRIBUTES)},
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        filter_style_properties=set(STYLE_PROPERTIES),
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # nh3 output: only the allow-listed markup


def text_of(fragment: str) -> str:
    """The text of a sanitised fragment, without its markup (for an ``<option>`` label)."""
    return html.unescape(nh3.clean(fragment, tags=set()))
