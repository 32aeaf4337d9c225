"""Rendering pages: the Jinja2 environment over the package's templates, and the site's own
static files (its stylesheet), both read from the installed package.

Templates are autoescaped and strict: an undefined name is an error the tests meet, not an
empty string on a page. Every template gets `L` (the visitor's `Language`: messages, digits,
numbers, dates and direction) and renders nothing that is not escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("verivote.web.site", "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are package data: they change with the package only
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    media_type: str


@cache
def static_files() -> dict[str, StaticFile]:
    """The files under `static/`, by name, read once: served from memory, so no path from a
    request ever reaches the file system."""
    folder = resources.files("verivote.web.site").joinpath("static")
    files = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
        if item.is_file() and suffix in STATIC_TYPES:
            files[item.name] = StaticFile(item.read_bytes(), STATIC_TYPES[suffix])
    return files
