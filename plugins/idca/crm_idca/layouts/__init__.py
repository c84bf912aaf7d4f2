"""Layouts: the line columns and totals of a document type, validated, versioned and compiled.

A layout is stored as JSON (``idca_layouts``, the current one; ``idca_layout_versions``, every
saved version, never changed). :func:`save_layout` validates the whole layout -- every entry,
every formula, the dependency graph -- and refuses it with a 422 naming each bad input
(``columns.2.formula``), or stores it with ``version + 1``.

:func:`compiled` turns a stored version into a :class:`CompiledLayout` (formulas parsed,
checked and compiled, evaluation order fixed) once per ``(doc_type, version)`` and per app:
documents only evaluate it.

Its modules: :mod:`~crm_idca.layouts.model` (compiled columns and totals, limits, JSON),
:mod:`~crm_idca.layouts.validation` (a layout as sent, checked and compiled),
:mod:`~crm_idca.layouts.order` (the evaluation order of the formulas, with graphlib),
:mod:`~crm_idca.layouts.values` (values entered for a column) and
:mod:`~crm_idca.layouts.storage` (versions in the database and the compiled-layout cache).
The names below are the ones the rest of the plugin uses.
"""
from crm_idca.layouts.model import (
    BUILTIN_COLUMNS,
    BUILTIN_LABELS,
    COLUMN_TYPES,
    DEFAULT_SOURCES,
    DOC_FIELDS,
    ITEM_FIELDS,
    LINE_NAMES,
    MAX_CHOICES,
    MAX_COLUMNS,
    MAX_LABEL,
    MAX_NUMBER,
    MAX_TEXT_VALUE,
    MAX_TOTALS,
    TOTAL_LABELS,
    TOTAL_TYPES,
    Column,
    CompiledLayout,
    Total,
    doc_type_of,
    empty_layout,
)
from crm_idca.layouts.storage import (
    compiled,
    compiled_version,
    current_layout,
    current_version,
    custom_field_types,
    from_stored,
    preview_layout,
    save_layout,
    versions,
)
from crm_idca.layouts.validation import build
from crm_idca.layouts.values import convert_input, jsonable

__all__ = [
    "BUILTIN_COLUMNS", "BUILTIN_LABELS", "COLUMN_TYPES", "DEFAULT_SOURCES", "DOC_FIELDS", "ITEM_FIELDS",
    "LINE_NAMES", "MAX_CHOICES", "MAX_COLUMNS", "MAX_LABEL", "MAX_NUMBER", "MAX_TEXT_VALUE", "MAX_TOTALS",
    "TOTAL_LABELS", "TOTAL_TYPES", "Column", "CompiledLayout", "Total", "doc_type_of", "empty_layout",
    "compiled", "compiled_version", "current_layout", "current_version", "custom_field_types", "from_stored",
    "preview_layout", "save_layout", "versions", "build", "convert_input", "jsonable",
]
