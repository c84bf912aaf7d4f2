"""Workflow rules in the browser (administrators, /admin/workflows): the list with the shipped
examples, a form building a rule (trigger, up to 5 conditions, up to 3 actions; the API takes
more), a rule's page with its run log and webhook key; and every user's notifications
(/notifications, the bell of the top bar). See docs/workflows.md."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from crm.db import db
from crm.errors import CRMError
from crm.permissions import require
from crm.services import workflows
from crm.web.common import FormErrors

bp = Blueprint("workflows", __name__, url_prefix="/admin/workflows")
notifications_bp = Blueprint("notifications", __name__, url_prefix="/notifications")

CONDITION_ROWS = 5
ACTION_ROWS = 3
#: an action's keys -> the form's input (``a<i>_<input>``)
FORM_KEYS = {
    "send_email": {"to": "to", "cc": "cc", "subject": "subject", "body": "body", "language": "language",
                   "attach_pdf": "attach_pdf"},
    "update_field": {"field": "field", "value": "value"},
    "add_comment": {"text": "body"},
    "notify": {"role": "role", "user_id": "user_id", "title": "subject", "message": "body"},
    "webhook": {"url": "url"},
}
RUN_STATUS_LABELS = {"queued": _l("Queued"), "running": _l("Running"), "retry": _l("Waiting to retry"),
                     "done": _l("Done"), "failed": _l("Failed")}


@bp.app_template_global()
def unread_notifications() -> int:
    """The signed-in user's unread notifications (the bell's count)."""
    user = g.get("user")
    if user is None:
        return 0
    try:
        return workflows.unread_count(db.session, user.id)
    except Exception:  # noqa: BLE001  a page must render even if this count cannot be read
        db.session.rollback()
        return 0


@bp.app_template_global()
def workflow_run_status_label(status: str) -> str:
    return str(RUN_STATUS_LABELS.get(status, status))


def _shown_conditions(rule) -> list[dict]:
    """The comparisons of a stored rule the form's rows show: the first ones of its top level
    (groups, and comparisons beyond the rows, are made through the API and kept as they are)."""
    return [c for c in rule.conditions.get("items", []) if "items" not in c][:CONDITION_ROWS]


def kept_parts(rule) -> bool:
    """Whether ``rule`` has conditions or actions the form does not show (kept when it is saved)."""
    if rule is None:
        return False
    items = rule.conditions.get("items", [])
    return len(_shown_conditions(rule)) < len(items) or len(rule.actions) > ACTION_ROWS or any(
        a.get("type") not in FORM_KEYS for a in rule.actions[:ACTION_ROWS])


def _as_shown(value) -> str:
    """A form value as the page shows it in its input."""
    return "" if value is None else str(value)


def _form_values(rule) -> dict:
    """The form's inputs for a stored rule."""
    values: dict = {"name": rule.name, "description": rule.description, "enabled": rule.enabled,
                    "entity": rule.entity, "event": rule.trigger.get("event", ""),
                    "to_status": rule.trigger.get("to_status", ""), "date_field": rule.trigger.get("field", ""),
                    "offset_days": rule.trigger.get("offset_days", ""), "match": rule.conditions.get("match", "all"),
                    "version": rule.version}
    for i, item in enumerate(_shown_conditions(rule)):
        values[f"c{i}_field"], values[f"c{i}_op"] = item["field"], item["op"]
        values[f"c{i}_value"] = ("field:" + item["value_field"]) if item.get("value_field") else item.get("value", "")
    for i, action in enumerate(rule.actions[:ACTION_ROWS]):
        kind = action.get("type", "")
        values[f"a{i}_type"] = kind
        for key, name in FORM_KEYS.get(kind, {}).items():
            value = action.get(key)
            values[f"a{i}_{name}"] = ", ".join(value) if isinstance(value, list) else value
    return values


def _rule_data(form, rule=None) -> dict:
    """The rule a submitted form describes. Editing ``rule``, an input left as the form showed it
    keeps the stored value (a number stays a number, a null stays null), an action of a plugin
    keeps its settings while its type is unchanged, and what the form does not show (condition
    groups, comparisons and actions beyond its rows) is kept in its place."""
    shown = _form_values(rule) if rule is not None else {}
    stored_conditions = _shown_conditions(rule) if rule is not None else []
    trigger = {"event": form.get("event", ""), "to_status": form.get("to_status", ""),
               "field": form.get("date_field", ""), "offset_days": form.get("offset_days", "") or 0}
    rows: list[dict | None] = []
    for i in range(CONDITION_ROWS):
        field = (form.get(f"c{i}_field") or "").strip()
        op, value = form.get(f"c{i}_op", "="), form.get(f"c{i}_value", "")
        if not field:
            rows.append(None)
        elif i < len(stored_conditions) and (field, op, value) == (
                shown.get(f"c{i}_field"), shown.get(f"c{i}_op"), _as_shown(shown.get(f"c{i}_value"))):
            rows.append(stored_conditions[i])
        elif value.startswith("field:"):
            rows.append({"field": field, "op": op, "value_field": value[6:].strip()})
        else:
            rows.append({"field": field, "op": op, "value": value})
    if rule is not None:
        items = _in_place(rule.conditions.get("items", []), stored_conditions, rows)
    else:
        items = [row for row in rows if row is not None]
    actions = []
    for i in range(ACTION_ROWS):
        kind = form.get(f"a{i}_type", "")
        if not kind:
            continue
        action: dict = {"type": kind}
        stored = rule.actions[i] if rule is not None and i < len(rule.actions) else {}
        if stored.get("type") == kind and kind not in FORM_KEYS:
            action = dict(stored)  # a plugin's action: the form has no inputs for its settings
        for key, name in FORM_KEYS.get(kind, {}).items():
            raw = form.get(f"a{i}_{name}", "")
            if stored.get("type") == kind and key in stored and key != "attach_pdf" \
                    and raw == _as_shown(shown.get(f"a{i}_{name}")):
                action[key] = stored[key]
            elif key == "attach_pdf":
                action[key] = bool(raw)
            elif key == "user_id":
                action[key] = raw.strip() or None
            else:
                action[key] = raw
        actions.append(action)
    if rule is not None:
        actions += rule.actions[ACTION_ROWS:]
    return {"name": form.get("name", ""), "description": form.get("description", ""),
            "enabled": bool(form.get("enabled")), "entity": form.get("entity", ""), "trigger": trigger,
            "conditions": {"match": form.get("match", "all"), "items": items}, "actions": actions}


def _in_place(stored: list, shown: list, rows: list) -> list:
    """The stored conditions' items with each of the ``shown`` comparisons replaced by its row of
    the form (``None``: the row was cleared, the comparison removed), the others (groups,
    comparisons beyond the rows) kept where they were, and the rows filled beyond the shown ones
    added at the end."""
    slots = {id(item): k for k, item in enumerate(shown)}
    out = []
    for item in stored:
        if id(item) not in slots:
            out.append(item)
        elif rows[slots[id(item)]] is not None:
            out.append(rows[slots[id(item)]])
    return out + [row for row in rows[len(shown):] if row is not None]


_ACTION_FIELD = re.compile(r"^actions\[(\d+)\]\.(\w+)$")
_CONDITION_FIELD = re.compile(r"^conditions\.items\[(\d+)\]\.(\w+)$")


def _input_of(key: str, data: dict) -> str:
    """The form input a service's field name stands for."""
    found = _ACTION_FIELD.match(key)
    if found:
        i, name = int(found.group(1)), found.group(2)
        kind = data["actions"][i]["type"] if i < len(data.get("actions", [])) else ""
        return f"a{i}_{FORM_KEYS.get(kind, {}).get(name, 'type' if name == 'type' else name)}"
    found = _CONDITION_FIELD.match(key)
    if found:
        name = found.group(2)
        return f"c{found.group(1)}_{'value' if name == 'value_field' else name}"
    if key.startswith("actions["):
        return "a" + key[8:].split("]")[0] + "_type"
    return {"trigger.event": "event", "trigger.to_status": "to_status", "trigger.field": "date_field",
            "trigger.offset_days": "offset_days", "conditions.match": "match"}.get(key, key)


def _form_page(rule, values: dict, errors: FormErrors):
    return render_template("admin/workflow_form.html", rule=rule, values=values, errors=errors,
                           entities=workflows.ENTITIES, events=workflows.EVENTS, operators=workflows.OPERATORS,
                           action_types=workflows.action_types(), fields_of=workflows.fields_of,
                           plugin_events=workflows.plugin_triggers(),
                           trigger_placeholders=workflows.placeholder_names(db.session), condition_rows=CONDITION_ROWS,
                           action_rows=ACTION_ROWS, kept=kept_parts(rule))


@bp.route("/")
@require(roles={"admin"})
def index():
    with db.transaction() as session:
        workflows.ensure_examples(session)
    return render_template("admin/workflows.html", rules=workflows.list_rules(db.session), events=workflows.EVENTS,
                           entities=workflows.ENTITIES, describe=workflows.describe)


@bp.route("/new", methods=["GET", "POST"])
@require(roles={"admin"})
def new():
    errors, values = FormErrors(), {"entity": "invoices", "event": "created", "match": "all"}
    if request.method == "POST":
        values = request.form.to_dict()
        data = _rule_data(request.form)
        try:
            with db.transaction() as session:
                rule = workflows.create_rule(session, data)
            flash(_("Workflow rule %(name)s saved.", name=rule.name))
            return redirect(url_for("workflows.detail", rule_id=rule.id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc, rename=lambda key: _input_of(key, data))
    return _form_page(None, values, errors), 422 if errors else 200


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
@require(roles={"admin"})
def edit(rule_id):
    rule = workflows.get_rule(db.session, rule_id)
    errors, values = FormErrors(), _form_values(rule)
    if request.method == "POST":
        values = request.form.to_dict()
        data = _rule_data(request.form, rule)
        version = request.form.get("version", "")
        if version.isdigit():
            data["version"] = int(version)
        try:
            with db.transaction() as session:
                workflows.update_rule(session, workflows.get_rule(session, rule_id), data)
            flash(_("Workflow rule %(name)s saved.", name=data["name"]))
            return redirect(url_for("workflows.detail", rule_id=rule_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc, rename=lambda key: _input_of(key, data))
    return _form_page(rule, values, errors), 422 if errors else 200


@bp.route("/<int:rule_id>")
@require(roles={"admin"})
def detail(rule_id):
    rule = workflows.get_rule(db.session, rule_id)
    return render_template("admin/workflow.html", rule=rule, runs=workflows.runs_of(db.session, rule),
                           describe=workflows.describe, events=workflows.events_for(rule.entity),
                           entities=workflows.ENTITIES, secret=workflows.webhook_secret(rule),
                           action_types=workflows.action_types(),
                           link=workflows.record_link)


@bp.route("/<int:rule_id>/enabled", methods=["POST"])
@require(roles={"admin"})
def set_enabled(rule_id):
    turn_on = request.form.get("enabled") == "1"
    try:
        with db.transaction() as session:
            rule = workflows.get_rule(session, rule_id)
            workflows.update_rule(session, rule, {"enabled": turn_on})
        flash(_("The rule is on.") if turn_on else _("The rule is off."))
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(url_for("workflows.detail", rule_id=rule_id))


@bp.route("/<int:rule_id>/secret", methods=["POST"])
@require(roles={"admin"})
def new_secret(rule_id):
    with db.transaction() as session:
        workflows.new_webhook_secret(workflows.get_rule(session, rule_id))
    flash(_("The rule's webhooks are signed with a new key from now on."))
    return redirect(url_for("workflows.detail", rule_id=rule_id))


@bp.route("/<int:rule_id>/delete", methods=["POST"])
@require(roles={"admin"})
def delete(rule_id):
    with db.transaction() as session:
        rule = workflows.get_rule(session, rule_id)
        name = rule.name
        workflows.delete_rule(session, rule)
    flash(_("Workflow rule %(name)s deleted.", name=name))
    return redirect(url_for("workflows.index"))


# --- notifications ----------------------------------------------------------------------------------

@notifications_bp.route("/", endpoint="index")
@require()
def notifications_index():
    return render_template("notifications.html", items=workflows.notifications_of(db.session, g.user.id))


@notifications_bp.route("/read", methods=["POST"])
@require()
def read():
    raw = request.form.get("id", "")
    if raw and not raw.isdigit():
        abort(404)
    with db.transaction() as session:
        workflows.mark_read(session, g.user.id, int(raw) if raw else None)
    target = request.form.get("next", "")
    from crm.security import local_path
    return redirect(local_path(target) or url_for("notifications.index"))
