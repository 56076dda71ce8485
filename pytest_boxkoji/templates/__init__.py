"""Config file templates (jinja2), one per file a service reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, /, **context: Any) -> str:
    """Render templates/<name>.j2; a missing variable is an error, never an empty string."""
    return _ENV.get_template(f"{template}.j2").render(**context)
