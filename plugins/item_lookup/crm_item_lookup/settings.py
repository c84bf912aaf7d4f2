"""The picker's settings, kept in the core's settings table under ``item_lookup``."""
from __future__ import annotations

from crm.services.settings import all_settings, set_setting

NAMESPACE = "item_lookup"
KINDS = ("product", "service", "bundle")

DEFAULTS = {
    "facets": {
        "product": ["category", "subcategory", "manufacturer"],
        "service": ["category"],
        "bundle": ["category", "subcategory", "manufacturer"],
    },
    "default_kind": "product",
    "switches": ["in_stock", "include_inactive", "bundles_only"],
    "show_picture": False,
}


def load(session) -> dict:
    return {**DEFAULTS, **all_settings(session, NAMESPACE)}


def save(session, values: dict) -> dict:
    for key, value in values.items():
        set_setting(session, key, value, namespace=NAMESPACE)
    return load(session)
