"""Text as literal GitHub-flavoured Markdown, shared by every report that
writes Markdown (the drift report, its timeline, the gate report): a name or
a sentence from the data never turns into markup, HTML or a new table row."""

from __future__ import annotations

import re

__all__ = ["md_text"]

#: Characters that start markup anywhere in GitHub-flavoured Markdown: emphasis,
#: code, strikethrough, table cells, links and images, headings and issue links,
#: math, @mentions; and the backslash itself.
_MD_ESCAPE = frozenset("\\`*_~|[]#!$@")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: A list item or heading at the start of a line ("- ", "+ ", "1. ", "2) ", "= ").
_MD_LEADING = re.compile(r"^(?:[-+=]|\d+[.)])")


def md_text(text: object) -> str:
    """``text`` as literal Markdown (GitHub-flavoured) on one line, inside a
    table cell or at the start of a line: control characters and line
    separators become visible escapes (``\\n``), ``&``, ``<`` and ``>`` (and
    spaces at either end) entities (no HTML gets through, no indent), the
    characters of :data:`_MD_ESCAPE` and a leading list marker are
    backslash-escaped (no emphasis, link, code span, heading, list, table
    cell or @mention starts in it)."""
    out = []
    for ch in str(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in _MD_ESCAPE:
            out.append("\\" + ch)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:  # \n, \r, \t, U+2028, ...: shown as their escapes, the backslash escaped
            out.append(ch.encode("unicode_escape").decode("ascii").replace("\\", "\\\\"))
    md = "".join(out)
    lead = _MD_LEADING.match(md)
    if lead:  # "1. x" -> "1\. x", "- x" -> "\- x"
        end = lead.end()
        md = md[:end - 1] + "\\" + md[end - 1:]
    # spaces at either end as entities: kept in table cells, never an indent
    body = md.strip(" ")
    if not body:
        return "&#32;" * len(md)
    start = md.index(body)
    return "&#32;" * start + body + "&#32;" * (len(md) - start - len(body))
