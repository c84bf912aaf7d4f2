"""List views and mass actions of the list pages, for the core's lists and the plugins'.

A list page describes its columns (:class:`ListColumn`, or any object with ``key``, ``label``,
``sort`` and ``kind``), builds a :class:`ListState` with :func:`list_state` and renders its
table with the ``list_table`` macro of ``lists.html``. The state knows:

- the columns shown: ``?columns=name,email`` (the column chooser), else those of the view
  opened, else the list's own (``shown``); exports write the same columns
  (:func:`export_columns_of`);
- the saved views of the user on this list (their own and the shared ones), the one opened
  (``?view=ID``) and their default: :func:`default_view_redirect` opens the default view when
  the list is asked for without any argument;
- the list's mass actions (:class:`MassForm`), when it has some.

The views are saved, shared and deleted by the ``list_views`` blueprint below, through
:mod:`crm.services.list_views`; a mass action is run by :func:`run_mass_action` through
:mod:`crm.services.mass_actions`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.permissions import can, require
from crm.security import local_path
from crm.services import list_views as views_service, mass_actions
from crm.services.mass_actions import MassActionRefused, MassTarget
from crm.web.export import ExportColumn

bp = Blueprint("list_views", __name__, url_prefix="/list-views")

ACTION_LABELS = {"edit": _l("Edit a field"), "status": _l("Change status"), "delete": _l("Delete"),
                 "assign": _l("Assign to")}


@dataclass
class ListColumn:
    """A column of a list: ``key`` (in ``?columns=`` and saved views), ``label``, its value for
    a record (``value(record, extra)``, what exports write; ``extra`` as in
    :class:`crm.web.export.ExportColumn`), ``kind`` (text, money, quantity, percent, int, bool,
    date, datetime, status), the ``sort`` key of the list (None: not sortable) and whether it is
    ``shown`` before the user chooses columns."""

    key: str
    label: object
    value: Callable[[Any, Any], Any]
    kind: str = "text"
    sort: str | None = None
    shown: bool = True

    def export(self) -> ExportColumn:
        return ExportColumn(self.label, self.value, self.kind if self.kind != "status" else "text")


def requested_columns() -> list[str] | None:
    """The column keys of ``?columns=`` (repeated or comma separated), None when not given."""
    if "columns" not in request.args:
        return None
    return views_service.clean_columns(",".join(request.args.getlist("columns")))


def chosen_columns(columns: Sequence[Any], keys: list[str] | None) -> list[Any]:
    """The columns to show for ``keys`` (in that order; unknown keys ignored); the list's own
    (``shown``) when none of the keys is a column."""
    by_key = {c.key: c for c in columns}
    chosen = [by_key[k] for k in keys or () if k in by_key]
    return chosen or [c for c in columns if getattr(c, "shown", True)]


@dataclass
class MassForm:
    """What a list's mass-action form offers: its URL, the actions, the fields an edit may set
    (``(name, label, type, options)``), the statuses, the users to assign to."""

    url: str
    actions: list[str]
    fields: list[tuple] = field(default_factory=list)
    statuses: list[tuple] = field(default_factory=list)
    users: list[tuple] = field(default_factory=list)

    def action_label(self, action: str) -> str:
        return str(ACTION_LABELS.get(action, action))


@dataclass
class ListState:
    """What the ``list_table`` macro needs beyond the page of records."""

    list_key: str
    columns: list[Any]
    shown: list[Any]
    views: list = field(default_factory=list)
    view: Any = None
    default_view_id: int | None = None
    may_share: bool = False
    user_id: int | None = None
    mass: MassForm | None = None

    @property
    def shown_keys(self) -> list[str]:
        return [c.key for c in self.shown]

    @property
    def query(self) -> dict[str, str]:
        """The list's current query arguments, as a view saves them."""
        return views_service.clean_query({k: request.args.get(k) for k in request.args})

    @property
    def customised(self) -> bool:
        """The columns differ from the list's own."""
        return self.shown_keys != [c.key for c in self.columns if getattr(c, "shown", True)]

    def view_url(self, view) -> str:
        return view_url(view)


def view_url(view) -> str:
    """The list opened with ``view``: its query arguments, its columns and ``view=ID``."""
    args = dict(view.query or {})
    if view.columns:
        args["columns"] = ",".join(view.columns)
    args["view"] = str(view.id)
    return url_for(view.list_key) + "?" + urlencode(args)


def list_state(list_key: str, columns: Sequence[Any], *, mass: MassForm | None = None) -> ListState:
    """The state of the list page ``list_key`` (its endpoint) for the current request and user."""
    user = g.get("user")
    session = db.session
    views, view, default_id = [], None, None
    if user is not None:
        views = views_service.views_for(session, user, list_key)
        wanted = request.args.get("view", "")
        view = next((v for v in views if str(v.id) == wanted), None)
        default = views_service.default_view(session, user, list_key)
        default_id = default.id if default is not None else None
    keys = requested_columns()
    if keys is None and view is not None:
        keys = list(view.columns or [])
    return ListState(list_key, list(columns), chosen_columns(columns, keys), views, view, default_id,
                     views_service.may_share(user), getattr(user, "id", None), mass)


def export_columns_of(columns: Sequence[Any]) -> list[ExportColumn]:
    """The export columns of the columns shown (``?columns=``, else the list's own)."""
    return [c.export() for c in chosen_columns(columns, requested_columns())]


def default_view_redirect(list_key: str):
    """A redirect to the user's default view of the list when the list is asked for without
    any argument (None otherwise: the list as asked)."""
    user = g.get("user")
    if request.args or user is None:
        return None
    view = views_service.default_view(db.session, user, list_key)
    return redirect(view_url(view)) if view is not None else None


# --- mass actions ------------------------------------------------------------------------------------

def selected_ids() -> list[int]:
    """The ids ticked in the posted mass-action form (``ids``)."""
    ids = []
    for value in request.form.getlist("ids"):
        value = value.strip()
        if value.isascii() and value.isdigit() and len(value) < 11:
            ids.append(int(value))
    return ids


def run_mass_action(target: MassTarget, *, model, matching, edit: Callable[[str, Any], dict] | None = None,
                    back: str, within=None):
    """The POST of a list's mass-action form: the action (``action``), on the ticked rows
    (``scope=selected``, ``ids``) or on every row the list's query matches (``scope=all``:
    ``matching()`` is the list's statement with the request's search and filters); ``edit(field,
    form)`` turns the edit's field and value into the service's data (see
    :func:`crm.services.mass_actions.edit_changes` and :func:`custom_mass_value`); ``within``:
    the list's own statement (without the request's filters), so that ids of records of another
    list are ignored. Flashes what was done, or the refusals, and redirects to ``back``."""
    session = db.session
    form = request.form
    action = form.get("action", "")
    try:
        with db.transaction() as session:
            if form.get("scope") == "all":
                id_stmt = matching().with_only_columns(model.id).order_by(None)
                ids = list(session.scalars(id_stmt.limit(mass_actions.MAX_RECORDS + 1)))
            else:
                ids = selected_ids()
            records = mass_actions.load_records(session, model, ids, within=within)
            data, status, assign_to = None, None, None
            if action == "edit":
                if edit is None:
                    raise ValidationError.for_field("action", _("this list has no field to edit"))
                data = edit(form.get("field", ""), form)
            elif action == "status":
                status = form.get("status", "")
            elif action == "assign":
                assigned = form.get("user_id", "").strip()
                assign_to = int(assigned) if assigned.isascii() and assigned.isdigit() and len(assigned) < 11 \
                    else None
                if assigned and assign_to is None:
                    raise ValidationError.for_field("user_id", _("must be an active user"))
            result = mass_actions.run(session, g.user, target, records, action, data=data, status=status,
                                      assign_to=assign_to)
    except MassActionRefused as exc:
        flash(exc.message, "error")
        for line in exc.fields.get("records", []):
            flash(line, "error")
        return redirect(back)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("%(action)s: done for %(count)s records.", action=ACTION_LABELS.get(action, action),
            count=result.count))
    return redirect(back)


def custom_mass_fields(session, entity: str | None) -> list[tuple]:
    """The custom fields of ``entity`` as a :class:`MassForm`'s fields (``custom.<key>``)."""
    if not entity:
        return []
    from crm.web.forms import custom_form_fields
    return [(f.name, f.label, f.type, [(str(v), str(t)) for v, t in f.options(session)] if f.type == "select" else None)
            for f in custom_form_fields(session, entity)]


def custom_mass_value(session, entity: str, name: str, form) -> Any:
    """The value typed for the custom field ``name`` (``custom.<key>``) in the mass-action form
    (``value.<name>``), read as the record's form reads it (a blank clears it: None)."""
    from werkzeug.datastructures import MultiDict

    from crm.web.forms import custom_form_fields, read_custom
    found = [f for f in custom_form_fields(session, entity) if f.name == name]
    if not found:
        raise ValidationError.for_field("field", _("choose one of the fields offered"))
    text = form.get(f"value.{name}", "")
    if found[0].type == "bool":
        return text == "1"
    key = name[len(mass_actions.CUSTOM_PREFIX):]
    return read_custom(found, MultiDict({name: text}), {key: None}).get(key)


def back_url() -> str:
    """Where a list's form sends back to: its ``next`` (a path of this site), else the home page."""
    return local_path(request.form.get("next")) or url_for("home.index")


# --- saving, sharing and deleting views -----------------------------------------------------------

def _list_key() -> str:
    key = request.form.get("list_key", "")
    if key not in current_app.view_functions:
        raise ValidationError.for_field("list_key", _("is not a list"))
    return key


@bp.route("/", methods=["POST"])
@require()
def save():
    """Save the list's current query (``query``: its query string) and columns as a view."""
    from urllib.parse import parse_qsl
    back = back_url()
    try:
        with db.transaction() as session:
            list_key = _list_key()
            query = dict(parse_qsl(request.form.get("query", ""), keep_blank_values=False))
            columns = views_service.clean_columns(query.pop("columns", "") or "")
            view = views_service.save_view(session, g.user, list_key, request.form.get("name", ""),
                                           query=query, columns=columns,
                                           shared=request.form.get("shared") == "1")
            if request.form.get("default") == "1":
                views_service.set_default(session, g.user, list_key, view)
            target = view_url(view)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("The view %(name)s was saved.", name=view.name))
    return redirect(target)


@bp.route("/<int:view_id>/default", methods=["POST"])
@require()
def make_default(view_id: int):
    back = back_url()
    try:
        with db.transaction() as session:
            view = views_service.get_view(session, g.user, view_id)
            views_service.set_default(session, g.user, view.list_key, view)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("The list opens with the view %(name)s from now on.", name=view.name))
    return redirect(back)


@bp.route("/no-default", methods=["POST"])
@require()
def no_default():
    back = back_url()
    try:
        with db.transaction() as session:
            views_service.set_default(session, g.user, _list_key(), None)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("The list opens without a view from now on."))
    return redirect(back)


@bp.route("/<int:view_id>/share", methods=["POST"])
@require()
def share(view_id: int):
    back = back_url()
    try:
        with db.transaction() as session:
            view = views_service.get_view(session, g.user, view_id)
            views_service.share_view(session, g.user, view, request.form.get("shared") == "1")
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("The view %(name)s is shared with everyone.", name=view.name) if view.shared
          else _("The view %(name)s is no longer shared.", name=view.name))
    return redirect(back)


@bp.route("/<int:view_id>/delete", methods=["POST"])
@require()
def remove(view_id: int):
    back = back_url()
    try:
        with db.transaction() as session:
            view = views_service.get_view(session, g.user, view_id)
            name, list_key = view.name, view.list_key
            views_service.delete_view(session, g.user, view)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("The view %(name)s was deleted.", name=name))
    return redirect(url_for(list_key))


def can_mass(resource) -> bool:
    """Whether the current user may run a list's mass actions (write the list's resource)."""
    return can(g.get("user"), resource, "write")
