"""How services reach the plugins: through the current app's plugin registry.

Services run inside an app context (API, web, CLI, jobs); without one (a pure
unit test) there are no plugins and these calls do nothing.
"""
from __future__ import annotations

from flask import has_app_context


def registry():
    if not has_app_context():
        return None
    from crm.plugins import get_registry
    return get_registry()


def call(hook_name: str, **kwargs) -> list:
    """Call an enabled plugins' hook; [] without plugins."""
    reg = registry()
    return getattr(reg.hook, hook_name)(**kwargs) if reg is not None else []


def call_first(hook_name: str, **kwargs):
    """A ``firstresult`` hook's answer, or None."""
    reg = registry()
    return getattr(reg.hook, hook_name)(**kwargs) if reg is not None else None


def call_in_order(hook_name: str, **kwargs) -> list:
    """Call a hook in plugin dependency order (where order matters: totals, slots)."""
    reg = registry()
    return reg.call_in_order(hook_name, **kwargs) if reg is not None else []
