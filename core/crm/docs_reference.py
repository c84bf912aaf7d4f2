"""Write ``docs/reference.md``: the lists a plugin author looks up, read from the code so that
they cannot drift -- the hooks, the template slots, the document types, the permission
resources, the errors, the public names of the modules plugins use, the fields of the records
hooks receive, the page endpoints for ``url_for`` and every module of the core.

    python -m crm.docs_reference docs/reference.md     # or: make reference

``tests/test_reference.py`` fails while the committed page differs from what this writes.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

from sqlalchemy import inspect as sa_inspect

import crm
from crm import hookspecs

#: where each hook group of crm/hookspecs.py is documented (docs/hooks/<page>)
HOOK_PAGES = {
    "application": "application.md", "lines and totals": "lines-and-totals.md", "items": "items.md",
    "documents and records": "documents.md", "stock": "stock.md", "stock locations": "stock-locations.md",
    "invoices and payments": "invoices-and-payments.md",
    "user interface": "user-interface.md", "jobs": "jobs.md", "workflows": "workflows.md", "PDF": "pdf.md",
    "accounting": "accounting.md",
}

#: the modules whose public names are listed (their ``__all__``, else what they define
#: without a leading ``_``), in the order of the page
MODULES = ("crm.context", "crm.errors", "crm.money", "crm.dates", "crm.api.fields", "crm.api.schemas",
           "crm.api.collection", "crm.permissions", "crm.ui", "crm.services.numbering", "crm.services.settings",
           "crm.services.documents", "crm.services.stock", "crm.services.orders", "crm.services.workflows",
           "crm.testing")

#: the records hooks receive, whose fields are listed
RECORDS = ("Document", "DocumentLine", "StatusChange", "StockMove", "StockLocation", "StockBalance", "Item", "BundleComponent", "Tax", "PriceBook",
           "PriceBookEntry", "Account", "Contact", "Vendor", "CustomField", "User", "Setting", "Sequence")

HEADER = """# Reference

Generated from the code by `python -m crm.docs_reference docs/reference.md` (`make reference`);
do not edit by hand: `tests/test_reference.py` fails while this page differs from what the code
says. The guides explain; this page lists: [Writing a plugin](writing-plugins.md),
[Plugin hooks](hooks/README.md), [Documents](documents.md), [Permissions](permissions.md).
"""


def render() -> str:
    """The whole page."""
    from flask_babel import force_locale
    app = _app()
    with app.test_request_context(), force_locale("en"):
        sections = [HEADER, _hooks(), _slots(), _document_types(app), _resources(), _errors(), _modules(),
                    _records(), _pages(app), _all_modules()]
    return "\n".join(section.rstrip() + "\n" for section in sections)


def _app():
    """The core alone (no plugin), on a database it never opens."""
    from crm import create_app
    return create_app({"DATABASE_URL": "sqlite://", "PLUGINS": [], "TESTING": True})


# --- text helpers ------------------------------------------------------------------------------------

def _own_doc(obj) -> str:
    """``obj``'s own docstring (a class's, not one inherited nor dataclass's generated signature)."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__") or ""
        if doc.startswith(f"{obj.__name__}("):
            return ""
        return inspect.cleandoc(doc)
    return inspect.getdoc(obj) or ""


def _markdown(text: str) -> str:
    """reStructuredText's inline markup as Markdown: ``x``, :class:`x` -> `x`."""
    text = re.sub(r":(?:class|func|data|mod|meth|attr):`~?([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`")
    return text[:-2] + ":" if text.endswith("::") else text


def _first_paragraph(obj) -> str:
    return _markdown(" ".join(_own_doc(obj).split("\n\n", 1)[0].split()))


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _roles(roles) -> str:
    return ", ".join(sorted(roles)) or "—"


class _Annotation(str):
    """An annotation kept as the text it was written as (``from __future__ import annotations``)."""

    def __repr__(self) -> str:
        return str(self)


def _signature(obj) -> str:
    if inspect.isclass(obj) and not getattr(obj.__init__, "__module__", "").startswith("crm"):
        if not dataclasses.is_dataclass(obj) and not _is_named_tuple(obj):
            return ""    # a marshmallow schema, an exception of another library...: their own __init__
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""

    def plain(annotation):
        return _Annotation(annotation) if isinstance(annotation, str) else annotation
    parameters = [parameter.replace(annotation=plain(parameter.annotation))
                  for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=plain(signature.return_annotation)))


def _is_named_tuple(cls) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


# --- hooks -----------------------------------------------------------------------------------------

def hook_groups() -> dict[str, str]:
    """hook name -> the ``# --- <group> ---`` comment it sits under in crm/hookspecs.py."""
    groups, current = {}, None
    for line in Path(hookspecs.__file__).read_text(encoding="utf-8").splitlines():
        header = re.match(r"^# -+ (.+?) -+\s*$", line)
        if header:
            current = header.group(1)
        function = re.match(r"^def (\w+)\(", line)
        if function:
            groups[function.group(1)] = current
    return groups


def _hooks() -> str:
    lines = ["## Hooks", "",
             "Every hook of `crm/hookspecs.py`, by group, with its exact arguments; each is explained, "
             "with an example, on its group's page of [docs/hooks/](hooks/README.md).", ""]
    groups = hook_groups()
    for group, page in HOOK_PAGES.items():
        names = [name for name, in_group in groups.items() if in_group == group]
        lines += [f"### {group[0].upper()}{group[1:]} ([hooks/{page}](hooks/{page}))", "",
                  "| hook | firstresult | what |", "|---|---|---|"]
        for name in names:
            spec = getattr(hookspecs, name)
            first = "yes" if spec.crm_spec.get("firstresult") else "no"
            anchor = re.sub(r"[^a-z0-9_ -]", "", f"{name}{_signature(spec)}".lower()).replace(" ", "-")
            lines.append(f"| [`{name}{_signature(spec)}`](hooks/{page}#{anchor}) | {first} | "
                         f"{_cell(_first_paragraph(spec))} |")
        lines.append("")
    unknown = sorted(name for name, group in groups.items() if group not in HOOK_PAGES)
    if unknown:
        raise RuntimeError(f"hooks under a group without a page in HOOK_PAGES: {unknown}")
    return "\n".join(lines)


# --- UI slots, document types, record kinds -------------------------------------------------------

def _slots() -> str:
    from crm import ui
    from crm.web import master
    lines = ["## Template slots", "",
             "Where `crm_template_slot(slot, context)` answers are placed (`crm.ui.SLOTS`), and what "
             "`context` holds.", "", "| slot | where, and its context |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(where)} |" for name, where in ui.SLOTS.items()]
    entities = ", ".join(f"`{bp.name}`" for bp in master.BLUEPRINTS)
    lines += ["", f"`record_panels`' `entity` is one of {entities}; the document slots' `doc_type` is a "
                  "document type below."]
    return "\n".join(lines)


def _document_types(app) -> str:
    from crm.services.doctypes import DOC_TYPES
    lines = ["## Document types", "",
             "`crm.services.doctypes.DOC_TYPES`. `doc_type` is `document.doc_type` and the document slots' "
             "`doc_type`; `path` is the API's `/api/v1/<path>`, the pages' `/<path>/` and the `entity` of "
             "`crm_record_saved`; the pages' endpoints are `<blueprint>.index`, `.detail` (`doc_id`), `.edit`, "
             "`.new` (see the page endpoints below).", "",
             "| doc_type | path | blueprint | prefix | party | statuses | lines editable in | permission resource |",
             "|---|---|---|---|---|---|---|---|"]
    index = {rule.rule: rule.endpoint.split(".")[0] for rule in app.url_map.iter_rules()}
    for kind in DOC_TYPES.values():
        lines.append(f"| `{kind.name}` | `{kind.path}` | `{index.get(f'/{kind.path}/', '—')}` | `{kind.prefix}` | "
                     f"{kind.party} | {', '.join(kind.statuses)} | {', '.join(kind.editable)} | `{kind.resource}` |")
    return "\n".join(lines)


def _resources() -> str:
    from crm.permissions import RESOURCES
    lines = ["## Permission resources", "",
             "The core's resources (`crm.permissions.RESOURCES`), for `@require(\"<resource>\", \"read\"|\"write\")` "
             "and `can(...)`; the roles of each, and the plugins' own resources, are in "
             "[Permissions](permissions.md).", "",
             "| resource | label | read | write | what |", "|---|---|---|---|---|"]
    for resource in RESOURCES.values():
        lines.append(f"| `{resource.name}` | {_cell(resource.label)} | {_roles(resource.read)} | "
                     f"{_roles(resource.write)} | {_cell(resource.description)} |")
    return "\n".join(lines)


def _errors() -> str:
    from crm import errors
    from crm.api import error_response  # noqa: F401  (the API maps the errors: see crm.api)
    status = {"ValidationError": 422, "NotFound": 404, "Conflict": 409, "PermissionDenied": 403,
              "DatabaseUnavailable": 503}
    lines = ["## Errors", "",
             "`crm.errors`: raise them from services and hooks; the API answers "
             "`{\"error\": {\"code\", \"message\", \"fields\"}}` with the status, the pages show the message.",
             "", "| error | code | API status | constructor | what |", "|---|---|---|---|---|"]
    classes = [cls for _name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, errors.CRMError) and cls.__module__ == errors.__name__]
    for cls in sorted(classes, key=lambda c: (c is not errors.CRMError, c.__name__)):
        parent = next((base for base in cls.__mro__[1:] if base.__name__ in status), None)
        code = status.get(cls.__name__) or (status.get(parent.__name__) if parent else None)
        lines.append(f"| `{cls.__name__}` | `{cls.code}` | {code or '—'} | `{cls.__name__}{_signature(cls)}` | "
                     f"{_cell(_first_paragraph(cls))} |")
    lines += ["", "`ValidationError.for_field(field, reason)` makes a 422 naming one field "
                  "(`fields: {field: [reason]}`); every error takes `fields={name: [reasons]}` and `code=` "
                  "to name what is to blame and a code of its own."]
    _check_status_map(status, classes)
    return "\n".join(lines)


def _check_status_map(status: dict, classes: list) -> None:
    """The API statuses written above are those ``crm.api`` answers (a new error class fails here)."""
    from crm import errors
    direct = {cls.__name__ for cls in classes if errors.CRMError in cls.__bases__}
    missing = sorted(direct - set(status))
    if missing:
        raise RuntimeError(f"give the API status of {missing} in crm.docs_reference._errors")


# --- modules -----------------------------------------------------------------------------------------

def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items()
                 if not name.startswith(("_", "pytest_")) and getattr(value, "__module__", None) == module.__name__
                 and (inspect.isfunction(value) or inspect.isclass(value) or _fixture(value) is not None)]
    return list(names)


def _fixture(value):
    """The function of a pytest fixture (``crm.testing``'s), or None."""
    return getattr(value, "_fixture_function", None)


def _describe(module, name: str) -> str:
    value = getattr(module, name)
    fixture = _fixture(value)
    if fixture is not None:
        text = _first_paragraph(fixture)
        return f"- fixture `{name}`" + (f": {text}" if text else "")
    if inspect.isclass(value) or inspect.isfunction(value):
        kind = "class " if inspect.isclass(value) else ""
        text = _first_paragraph(value)
        return f"- {kind}`{name}{_signature(value)}`" + (f": {text}" if text else "")
    if inspect.ismodule(value) or callable(value):
        return f"- `{name}`"
    text = repr(value)
    return f"- `{name} = {text}`" if len(text) <= 80 else f"- `{name}`"


def _modules() -> str:
    lines = ["## Modules a plugin uses", "",
             "Their public names (`__all__`, or what they define without a leading `_`), with the first "
             "paragraph of each docstring."]
    for dotted in MODULES:
        module = importlib.import_module(dotted)
        lines += ["", f"### `{dotted}`", "", _first_paragraph(module), ""]
        lines += [_describe(module, name) for name in _public_names(module)]
    return "\n".join(lines)


def _all_modules() -> str:
    lines = ["## Every module of the core", "", "| module | what |", "|---|---|"]
    found = [info.name for info in pkgutil.walk_packages(crm.__path__, "crm.")
             if ".migrations" not in info.name and info.name != "crm.docs_reference"]
    for dotted in sorted(["crm", *found]):
        module = importlib.import_module(dotted)
        lines.append(f"| `{dotted}` | {_cell(_first_paragraph(module))} |")
    return "\n".join(lines)


# --- records -----------------------------------------------------------------------------------------

def _field_notes(cls) -> dict[str, str]:
    """The ``#:`` comments written above the mapped attributes of ``cls`` and its bases."""
    notes: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            attribute = re.match(r"(\w+)\s*:\s*Mapped\[", stripped)
            if attribute and pending:
                notes[attribute.group(1)] = " ".join(pending)
            pending = []
    return notes


def _column_type(column) -> str:
    from crm.models.base import ExactNumeric
    kind = column.type
    if isinstance(kind, ExactNumeric):
        name = {4: "Money", 3: "Quantity"}.get(kind.scale, "Rate") if kind.precision == 18 else "Rate"
        return f"{name} (Decimal)"
    try:
        python = kind.python_type.__name__
    except NotImplementedError:
        python = ""
    text = type(kind).__name__
    if text in ("JSON", "Date", "Boolean", "Integer"):
        return text
    if text == "DateTime":
        return "DateTime (with its UTC offset)" if getattr(kind, "timezone", False) else text
    length = getattr(kind, "length", None)
    text += f"({length})" if length else ""
    return f"{text} ({python})" if python and python.lower() not in text.lower() else text


def _records() -> str:
    import crm.models as models
    lines = ["## Records", "",
             "The fields of the core's records as hooks and services hand them over (`crm.models`), "
             "with the notes written in the models. Money is a `Decimal` with 4 decimals, quantities 3, "
             "rates 4; a `…_id` has the relationship of the same name without `_id`."]
    for name in RECORDS:
        cls = getattr(models, name)
        mapper = sa_inspect(cls)
        notes = _field_notes(cls)
        lines += ["", f"### `{name}` (table `{cls.__tablename__}`)", ""]
        lines += [_first_paragraph(cls), ""] if _first_paragraph(cls) else []
        lines += ["| field | type | null | note |", "|---|---|---|---|"]
        for attribute in mapper.column_attrs:
            if attribute.key.startswith("_"):
                continue
            column = attribute.columns[0]
            reference = ", ".join(f"→ `{fk.column.table.name}.{fk.column.name}`" for fk in column.foreign_keys)
            note = " ".join(part for part in (reference, _markdown(notes.get(attribute.key, ""))) if part)
            lines.append(f"| `{attribute.key}` | {_column_type(column)} | {'yes' if column.nullable else 'no'} | "
                         f"{_cell(note)} |")
        relations = [f"`{rel.key}` → `{rel.mapper.class_.__name__}`{' (list)' if rel.uselist else ''}"
                     for rel in mapper.relationships]
        if relations:
            lines += ["", "Relationships: " + ", ".join(relations) + "."]
        properties = [key for key, value in vars(cls).items() if isinstance(value, property)]
        if properties:
            lines += ["", "Properties: " + ", ".join(f"`{key}`" for key in properties) + "."]
    return "\n".join(lines)


# --- pages --------------------------------------------------------------------------------------------

def _pages(app) -> str:
    from crm.api import API_PREFIX
    lines = ["## Page endpoints", "",
             "The core's pages by endpoint name, for `url_for(\"<endpoint>\", **arguments)` in a plugin's "
             "views, templates and hooks (a plugin's own are `<plugin id>.<view function>`).", "",
             "| endpoint | URL | methods |", "|---|---|---|"]
    rules = [rule for rule in app.url_map.iter_rules()
             if not rule.rule.startswith(API_PREFIX) and rule.endpoint != "static"]
    for rule in sorted(rules, key=lambda r: (r.endpoint, r.rule)):
        methods = ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        lines.append(f"| `{rule.endpoint}` | `{rule.rule}` | {methods} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
