"""How services reach the plugins: through the current app's plugin registry.

Services run inside an app context (API, web, CLI, jobs); without one (a pure
unit test) there are no plugins and these calls do nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import has_app_context

if TYPE_CHECKING:
    from crm.plugins import PluginRegistry


def registry() -> PluginRegistry | None:
    if not has_app_context():
        return None
    from crm.plugins import get_registry
    return get_registry()


def call(hook_name: str, **kwargs: Any) -> list:
    """Call the enabled plugins' implementations of a hook, in plugin order (a plugin after
    the plugins it requires, then by id); [] without plugins. The hooks that announce changes
    to records (:data:`crm.services.workflows.WATCHED_HOOKS`) also fire the admins' workflow
    rules, after the plugins."""
    reg = registry()
    if reg is None:
        return []
    answers = getattr(reg.hook, hook_name)(**kwargs)
    if hook_name in _WATCHED:
        from crm.services import workflows
        workflows.on_hook(hook_name, kwargs)
    return answers


#: :data:`crm.services.workflows.WATCHED_HOOKS` (not imported here: the services import this module)
_WATCHED = frozenset({"crm_record_saved", "crm_records_saved", "crm_record_deleted", "crm_document_status_changed",
                      "crm_stock_moved", "crm_payment_event"})


def wants_single_saves() -> bool:
    """Whether an enabled plugin implements ``crm_record_saved`` but not ``crm_records_saved``."""
    reg = registry()
    if reg is None:
        return False
    batch = {impl.plugin for impl in reg.hook.crm_records_saved.get_hookimpls()}
    return any(impl.plugin not in batch for impl in reg.hook.crm_record_saved.get_hookimpls())


def call_single_saved(session: Any, entity: str, records: list, created: bool) -> None:
    """``crm_record_saved`` for each of ``records``, only for the enabled plugins that do not
    implement ``crm_records_saved`` (those were told of the batch). No workflow rules fired here:
    ``crm_records_saved`` fired them."""
    reg = registry()
    if reg is None or not records:
        return
    batch = {impl.plugin for impl in reg.hook.crm_records_saved.get_hookimpls()}
    single = reg.hook.crm_record_saved.get_hookimpls()
    if all(impl.plugin in batch for impl in single):
        return
    told = {impl.plugin for impl in single if impl.plugin not in batch}
    skipped = [impl.plugin for impl in reg.pm.hook.crm_record_saved.get_hookimpls() if impl.plugin not in told]
    caller = reg.pm.subset_hook_caller("crm_record_saved", remove_plugins=skipped)
    for record in records:
        caller(session=session, entity=entity, record=record, created=created)


def implemented(hook_name: str) -> bool:
    """Whether an enabled plugin implements the hook (a caller may then skip preparing its call)."""
    reg = registry()
    return reg is not None and bool(getattr(reg.hook, hook_name).get_hookimpls())


def call_first(hook_name: str, **kwargs: Any) -> Any:
    """A ``firstresult`` hook's answer, or None."""
    reg = registry()
    return getattr(reg.hook, hook_name)(**kwargs) if reg is not None else None
