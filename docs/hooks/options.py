"""MkDocs hook: the options page's table, generated from the plugin's own option list
(pytest_boxkoji/config.py), so that the page cannot drift from what pytest accepts."""

from __future__ import annotations

from typing import Any

ESCAPED_BAR = "\\|"  # a | inside a table cell
PLACEHOLDER = "<!-- options: generated from pytest_boxkoji.config.OPTIONS -->"


def table() -> str:
    from pytest_boxkoji.config import OPTIONS

    rows = ["| command line | ini key | environment | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        if option.kind == "bool":
            flag = option.flag
        elif option.choices:
            flag = option.flag + "=" + ESCAPED_BAR.join(option.choices)
        elif option.kind == "flag":
            flag = f"{option.flag}[=VALUE]"
        else:
            flag = f"{option.flag}=VALUE"
        meaning = option.help.replace("|", "\\|")
        if option.kind == "list":
            meaning += " (repeatable; comma-separated in the environment)"
        rows.append(f"| `{flag}` | `{option.name}` | `{option.env}` | {meaning} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, table())
    return markdown
