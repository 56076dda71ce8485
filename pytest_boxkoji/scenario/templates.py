"""koji-habitude's templates and `multi` documents, expanded before objects are checked.

A document `type: template` defines a template: Jinja2 text (`content:`, or `file:` relative to
the file that defines it) rendered with `defaults` overlaid by the data of a document whose type
is the template's name (a *call*); what it renders is YAML, whose documents may be objects, calls
or templates again. A call may come before its template is defined. `type: multi` turns each
mapping under it into a document of its own (so YAML anchors can be shared); keys starting with
`_` or `x-` are not documents. Jinja2 is set up as koji-habitude sets it up (strict undefined
variables, trim_blocks, lstrip_blocks, the `do` and `loopcontrols` extensions), so one template
renders the same text in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from pytest_boxkoji.scenario.model import Located, Problem
from pytest_boxkoji.scenario.schema import MODELS

MAX_DEPTH = 100  # koji-habitude's limit for templates that expand to templates
TEMPLATE_KEYS = ("content", "defaults", "description", "file", "model", "name", "type")


@dataclass
class Doc:
    """One document to be read: its data, where it was written and which file reading it is from
    (objects named twice in one file are an error; in two files, the later one extends)."""

    data: Any
    located: Located
    unit: int
    depth: int = 0
    trace: tuple[str, ...] = ()  # the templates that made it, innermost first


@dataclass
class Template:
    name: str
    located: Located
    jinja: jinja2.Template
    defaults: dict[str, Any] = field(default_factory=dict)
    model: tuple[str, type[BaseModel]] | None = None

    @property
    def where(self) -> str:
        return f"{self.located.file}:{self.located.line()}"


def _text(message: str) -> str:
    """A pydantic message as this project writes messages."""
    message = message.removeprefix("Value error, ")
    return message[0].lower() + message[1:]


def _problem(located: Located, path: str, message: str) -> Problem:
    return Problem(located.file, located.line(), path, message, located.via)


def _environment(base: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(base),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.do, jinja2.ext.loopcontrols],
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def define(data: dict[str, Any], located: Located) -> tuple[Template | None, list[Problem]]:
    """A `type: template` document to a Template, or what is wrong with it."""
    name = data.get("name")
    label = f"template[{name if isinstance(name, str) else '?'}]"
    problems = [
        _problem(located, f"{label}.{key}", f"unknown key; allowed here: {', '.join(TEMPLATE_KEYS[:-1])}")
        for key in data
        if key not in TEMPLATE_KEYS
    ]
    if not isinstance(name, str) or not name.strip():
        problems.append(_problem(located, f"{label}.name", "required key is missing: the type its calls use"))
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(_problem(located, f"{label}.defaults", f"expected a mapping, got {defaults!r}"))
    content, file = data.get("content"), data.get("file")
    if content is not None and file is not None:
        problems.append(_problem(located, label, "give either content or file, not both"))
    elif content is None and file is None:
        problems.append(
            _problem(located, label, "content (the Jinja2 text) or file (a file with it) is required")
        )
    elif content is not None and not isinstance(content, str):
        problems.append(_problem(located, f"{label}.content", f"expected Jinja2 text, got {content!r}"))
    elif file is not None and (not isinstance(file, str) or Path(file).is_absolute()):
        problems.append(
            _problem(located, f"{label}.file", f"expected a path relative to this file, got {file!r}")
        )
    model = None
    if "model" in data:
        model, model_problems = _model(data["model"], located, f"{label}.model")
        problems += model_problems
    if problems:
        return None, problems
    base = located.source.parent if located.source else Path.cwd()
    env = _environment(base)
    try:
        if file is not None:
            text = env.loader.get_source(env, file)[0]  # type: ignore[union-attr]
        else:
            text = content
        jinja = env.from_string(text)
    except jinja2.TemplateNotFound:
        return None, [_problem(located, f"{label}.file", f"{base / str(file)} does not exist")]
    except jinja2.TemplateSyntaxError as exc:
        where = f"line {exc.lineno} of {'its content' if file is None else file}"
        return None, [_problem(located, label, f"not valid Jinja2: {exc.message} ({where})")]
    return Template(str(name), located, jinja, dict(defaults), model), []


def render(template: Template, call: Doc) -> tuple[list[Doc], list[Problem]]:
    """The documents a call makes; they are found at the call's place, noted as the template's."""
    data = dict(template.defaults, **call.data)
    at = call.located
    label = f"{call.data.get('type')}[{call.data.get('name', '?')}]"
    if template.model:
        model_name, model = template.model
        try:
            values: dict[str, Any] = {model_name: model.model_validate(data), "_data": data}
        except ValidationError as exc:
            return [], [
                _problem(at, f"{label}.{'.'.join(map(str, e['loc']))}", _text(e["msg"])) for e in exc.errors()
            ]
    else:
        values = dict(data, _data=data)
    trace = (f"template {template.name!r} ({template.where})", *call.trace)
    made = Located(at.file, {(): at.line()}, at.source, via=_via(trace))
    try:
        text = template.jinja.render(**values)
    except jinja2.UndefinedError as exc:
        return [], [_problem(at, label, f"template {template.name!r} ({template.where}): {exc.message}")]
    except Exception as exc:  # a template is code: any of its errors is the scenario's
        return [], [_problem(at, label, f"template {template.name!r} ({template.where}) failed: {exc}")]
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} of what it rendered" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [_problem(at, label, f"template {template.name!r} rendered invalid YAML{where}: {reason}")]
    docs, problems = [], []
    for item in loaded:
        if not isinstance(item, dict):
            problems.append(
                _problem(
                    at,
                    label,
                    f"template {template.name!r} rendered a document that is not a mapping: {item!r}",
                )
            )
            continue
        docs.append(Doc(item, made, call.unit, call.depth + 1, trace))
    return docs, problems


def _via(trace: tuple[str, ...]) -> str:
    # A template that calls itself makes a trace 100 long: the innermost two and the first say it.
    if len(trace) > 3:
        trace = (*trace[:2], f"{len(trace) - 3} more", trace[-1])
    return "made by " + " < ".join(trace)


def expand_multi(multi: Doc) -> list[Doc]:
    """Each mapping under a `type: multi` document, named by its key unless it has a name."""
    docs = []
    for key, value in multi.data.items():
        if key == "type" or str(key).startswith(("_", "x-")) or not isinstance(value, dict) or not value:
            continue
        lines = {path[1:]: line for path, line in multi.located.lines.items() if path[:1] == (key,)}
        dups = [path[1:] for path in multi.located.duplicates if path[:1] == (key,)]
        lines.update(
            {path[1:]: line for path, line in multi.located.lines.items() if path[:1] == (key, "#dup")}
        )
        located = Located(multi.located.file, lines, multi.located.source, dups, multi.located.via)
        docs.append(Doc({"name": key, **value}, located, multi.unit, multi.depth + 1, multi.trace))
    return docs


def expand(docs: Sequence[Doc], is_object: Callable[[Any], bool]) -> tuple[list[Doc], list[Problem]]:
    """Every template call expanded, in koji-habitude's order: what comes after a call whose
    template is not defined yet waits behind it, and all of it is tried again once anything
    new was defined. `is_object` tells object documents (and malformed ones) from calls."""
    templates: dict[str, Template] = {}
    objects: list[Doc] = []
    problems: list[Problem] = []

    def one_pass(sequence: Iterable[Doc], waiting: list[Doc]) -> bool:
        acted = False
        for doc in sequence:
            kind = doc.data.get("type") if isinstance(doc.data, dict) else None
            if doc.depth > MAX_DEPTH:
                problems.append(
                    _problem(
                        doc.located,
                        f"{kind}[{doc.data.get('name', '?')}]",
                        f"templates expand more than {MAX_DEPTH} levels deep; do they call each other?",
                    )
                )
                acted = True  # reported: this chain ends here
                continue
            if kind == "template":
                template, found = define(doc.data, doc.located)
                problems.extend(found)
                if template is not None:
                    first = templates.get(template.name)
                    if first is not None:
                        problems.append(
                            _problem(
                                doc.located,
                                f"template[{template.name}].name",
                                f"template {template.name!r} is already defined at {first.where}; rename one",
                            )
                        )
                    else:
                        templates[template.name] = template
                acted = True
            elif kind == "multi":
                made = expand_multi(doc)
                if waiting:
                    waiting.extend(made)
                else:
                    one_pass(made, waiting)
                acted = True
            elif is_object(doc.data):
                if waiting:
                    waiting.append(doc)  # keeps its place after the call it came after
                else:
                    objects.append(doc)
                    acted = True
            elif str(kind) not in templates:
                waiting.append(doc)  # its template may come later
            else:
                made, found = render(templates[str(kind)], doc)
                problems.extend(found)
                if waiting:
                    waiting.extend(made)
                else:
                    one_pass(made, waiting)
                acted = True
        return acted

    work = list(docs)
    while work:
        waiting: list[Doc] = []
        if not one_pass(work, waiting):
            # Nothing can be defined any more: these calls have no template.
            for doc in waiting:
                if not is_object(doc.data):
                    problems.append(_unknown(doc, templates))
            break
        work = waiting
    return objects, problems


def _unknown(doc: Doc, templates: dict[str, Template]) -> Problem:
    kind = doc.data.get("type")
    name = doc.data.get("name")
    known = f"; templates defined: {', '.join(sorted(templates))}" if templates else ""
    message = (
        f"unknown object type {kind!r} and no template of that name; object types: "
        f"{', '.join(sorted(MODELS))}, template, multi{known}"
    )
    located = doc.located
    line = located.line(("type",))
    return Problem(
        located.file, line, f"{kind}[{name if isinstance(name, str) else '?'}].type", message, located.via
    )


# A template's `model:` as koji-habitude reads it: fields with a type, default, alias, whether
# they are required, and validation rules; the validated values reach the template under the
# model's name.

TYPES: dict[str, Any] = {
    "string": str,
    "str": str,
    "integer": int,
    "int": int,
    "float": float,
    "boolean": bool,
    "bool": bool,
    "dict": dict[str, Any],
}


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    min_length: int | None = Field(default=None, alias="min-length")
    max_length: int | None = Field(default=None, alias="max-length")
    min_value: float | None = Field(default=None, alias="min-value")
    max_value: float | None = Field(default=None, alias="max-value")
    regex: str | None = None
    enum: list[Any] | None = None


class _FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    alias: str | None = None
    description: str | None = None
    default: Any = None
    required: bool = True
    validation: _Rules | None = None
    array_item_type: _FieldSpec | None = None
    object_fields: dict[str, _FieldSpec] | None = None
    object_type_name: str | None = None
    reference_type: str | None = None


class _ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "model"
    description: str | None = None
    fields: dict[str, _FieldSpec] = {}


def _python_type(spec: _FieldSpec) -> Any:
    if spec.type in TYPES:
        return TYPES[spec.type]
    if spec.type in ("list", "array"):
        return list[_python_type(spec.array_item_type)] if spec.array_item_type else list[Any]  # type: ignore[misc]
    if spec.type == "enum":
        values = spec.validation.enum if spec.validation and spec.validation.enum else None
        return Enum(f"Enum_{id(spec)}", {str(v): v for v in values}) if values else str
    if spec.type == "object":
        if not spec.object_fields:
            return dict[str, Any]
        return _build(spec.object_type_name or f"Object_{id(spec)}", spec.object_fields)
    raise ValueError(
        f"unknown field type {spec.type!r}; one of: {', '.join([*TYPES, 'list', 'array', 'enum', 'object'])}"
    )


def _check(name: str, rules: _Rules) -> Callable[[Any, Any], Any]:
    # After the value has its type (koji-habitude checks before, and a string then fails a
    # number's bounds with a TypeError instead of a message).
    def check(cls: Any, value: Any) -> Any:
        raw = value.value if isinstance(value, Enum) else value
        if rules.min_length is not None and len(raw) < rules.min_length:
            raise ValueError(f"Field {name} must be at least {rules.min_length} long")
        if rules.max_length is not None and len(raw) > rules.max_length:
            raise ValueError(f"Field {name} must be at most {rules.max_length} long")
        if rules.min_value is not None and raw < rules.min_value:
            raise ValueError(f"Field {name} must be greater than or equal to {rules.min_value}")
        if rules.max_value is not None and raw > rules.max_value:
            raise ValueError(f"Field {name} must be less than or equal to {rules.max_value}")
        if rules.regex is not None and not re.match(rules.regex, raw):
            raise ValueError(f"Field {name} must match pattern {rules.regex}")
        if rules.enum is not None and raw not in rules.enum:
            raise ValueError(f"Field {name} must be one of {rules.enum}")
        return value

    return check


def _build(name: str, fields: dict[str, _FieldSpec]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    validators: dict[str, Any] = {}
    for field_name, spec in fields.items():
        kwargs: dict[str, Any] = {}
        if spec.alias:
            kwargs["validation_alias"] = spec.alias
        if spec.default is not None:
            kwargs.update(default=spec.default, validate_default=True)
        elif not spec.required:
            kwargs["default"] = None
        definitions[field_name] = (_python_type(spec), Field(**kwargs))
        if spec.validation:
            validators[f"check_{field_name}"] = field_validator(field_name)(
                _check(field_name, spec.validation)
            )
    config = ConfigDict(populate_by_name=True)
    return create_model(name, __config__=config, __validators__=validators, **definitions)


def _model(
    value: Any, located: Located, path: str
) -> tuple[tuple[str, type[BaseModel]] | None, list[Problem]]:
    try:
        spec = _ModelSpec.model_validate(value)
        return (spec.name, _build(spec.name, spec.fields)), []
    except ValidationError as exc:
        return None, [
            _problem(located, f"{path}.{'.'.join(map(str, e['loc']))}", _text(e["msg"])) for e in exc.errors()
        ]
    except (ValueError, re.error) as exc:
        return None, [_problem(located, path, str(exc))]
