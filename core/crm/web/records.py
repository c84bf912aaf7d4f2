"""Generic pages for a kind of record: a list (search, filters, sorting, pages),
a detail page (fields, related records, history), a form (new and edit, with a
message beside each refused input) and delete. Each kind of record is a
:class:`Resource`; :func:`register` adds its views to a blueprint.

Every view calls the domain services (``crm.services.*``) inside
``db.transaction()``; the input is validated by the API's own schema first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.permissions import can, require
from crm.services import mass_actions
from crm.services.mass_actions import MassTarget, assignable_users
from crm.web.common import FormErrors, list_page, list_query
from crm.web.export import ExportColumn, export_response, requested_format
from crm.web.forms import FormField, custom_form_fields, labels_of, load, read_custom, refusal_message
from crm.web.lists import (
    MassForm,
    chosen_columns,
    custom_mass_fields,
    custom_mass_value,
    default_view_redirect,
    list_state,
    requested_columns,
    run_mass_action,
)


@dataclass
class Column:
    label: object
    attr: object                  # attribute name or callable(record)
    sort: str | None = None       # key of Resource.sortable
    kind: str = "text"            # text, money, quantity, percent, bool, badge, date, datetime
    link: bool = False            # link to the record's page
    key: str | None = None        # its name in ?columns= and saved views (default: attr, else sort)
    shown: bool = True            # shown before the user chooses columns

    def __post_init__(self):
        if self.key is None:
            self.key = self.attr if isinstance(self.attr, str) else self.sort
        if not self.key:
            raise ValueError(f"column {self.label!r} needs a key")

    def value(self, record, _extra=None):
        return self.attr(record) if callable(self.attr) else getattr(record, self.attr, None)


@dataclass
class Filter:
    name: str
    label: object
    choices: object               # [(value, label)] or callable(session)
    apply: object                 # callable(stmt, value) -> stmt

    def options(self, session):
        return list(self.choices(session) if callable(self.choices) else self.choices)


@dataclass
class Resource:
    name: str                     # blueprint name and URL segment ("accounts", "price-books" -> url)
    url: str
    permission: str               # key of crm.permissions.RESOURCES
    title: object                 # plural, for the list
    singular: object
    model: object
    query: object                 # callable() -> select statement of the records listed
    get: object                   # callable(session, id) -> record (raises NotFound)
    create: object                # callable(session, data) -> record
    update: object                # callable(session, record, data) -> record
    delete: object | None
    fields: list                  # FormField
    columns: list                 # Column
    schema: object = None         # callable() -> marshmallow schema for a new record
    patch_schema: object = None   # callable() -> marshmallow schema for a change
    search: list = field(default_factory=list)
    sortable: dict = field(default_factory=dict)
    default_sort: list | None = None
    filters: list = field(default_factory=list)
    custom_entity: str | None = None
    label_of: object = None       # callable(record) -> its title
    detail_context: object = None  # callable(session, record) -> extra template context
    form_context: object = None   # callable(session, record) -> extra template context
    to_raw: object = None         # callable(session, form, raw, record) -> raw (extra inputs)
    audit_entity: str | None = None
    detail_fields: list | None = None  # names of the fields shown on the detail page (default: all)
    mass_fields: list = field(default_factory=list)  # names of the fields a mass edit may set
    assignable: bool = False      # the records have assigned_user_id (the mass action "Assign")

    @property
    def endpoint(self) -> str:
        return self.name.replace("-", "_")

    @property
    def list_key(self) -> str:
        return f"{self.endpoint}.index"

    def mass_target(self) -> MassTarget:
        return MassTarget(self.audit_entity or self.name, self.permission, self.title_of,
                          update=self.update if self.mass_fields or self.custom_entity else None, delete=self.delete,
                          assignable=self.assignable, fields=tuple(self.mass_fields), custom_entity=self.custom_entity)

    def title_of(self, record) -> str:
        return self.label_of(record) if self.label_of else getattr(record, "name", str(record.id))


def export_columns(columns: list[Column]) -> list[ExportColumn]:
    """The columns of a list page, as its exports write them."""
    return [ExportColumn(c.label, lambda record, _extra, c=c: c.value(record), c.kind) for c in columns]


def _mass_form(session, resource: Resource) -> MassForm | None:
    """The mass actions of a resource's list, for a user who may write it."""
    if not can(_user(), resource.permission, "write"):
        return None
    target = resource.mass_target()
    by_name = {f.name: f for f in resource.fields}
    fields_ = []
    for name in resource.mass_fields:
        f = by_name[name]
        options = [(str(v), str(label)) for v, label in f.options(session)] if f.type in ("select", "id") else None
        fields_.append((f.name, f.label, f.type, options))
    fields_ += custom_mass_fields(session, resource.custom_entity)
    actions = [a for a in target.actions() if a != "edit" or fields_]  # no field at all: no edit
    if not actions:
        return None
    users = [(u.id, u.full_name or u.username) for u in assignable_users(session)] if target.assignable else []
    return MassForm(url_for(f"{resource.endpoint}.mass"), actions, fields_, users=users)


def _filtered(session, resource: Resource):
    """The resource's records narrowed by the filters of the request, and those filters."""
    stmt = resource.query()
    active_filters = {}
    for flt in resource.filters:
        value = request.args.get(flt.name, "")
        if value and value in {str(v) for v, _label in flt.options(session)}:
            stmt = flt.apply(stmt, value)
            active_filters[flt.name] = value
    return stmt, active_filters


def _mass_edit(resource: Resource, name: str, form) -> dict:
    """A mass edit's field and value -> the data the resource's service takes (the API's PATCH
    schema decides, as for a single record's form; a custom field is checked as its type requires)."""
    session = db.session
    target = resource.mass_target()
    if name.startswith(mass_actions.CUSTOM_PREFIX) and resource.custom_entity:
        value = custom_mass_value(session, resource.custom_entity, name, form)
        return mass_actions.edit_changes(session, target, name, value)
    if name not in resource.mass_fields:
        raise ValidationError.for_field("field", _("choose one of the fields offered"))
    f = next(f for f in resource.fields if f.name == name)
    value = form.get(f"value.{name}", "")
    raw_value = value == "1" if f.type == "bool" else f.read(MultiDict({name: value}))
    schema = resource.patch_schema() if resource.patch_schema else None
    return mass_actions.edit_changes(session, target, name, raw_value,
                                     load=(lambda raw: load(schema, raw)) if schema is not None else None)


def _template(resource: Resource, page: str) -> list[str]:
    return [f"records/{resource.endpoint}_{page}.html", f"records/{page}.html"]


def register(bp: Blueprint, resource: Resource) -> None:
    """Add list, new, detail, edit and delete views of ``resource`` to ``bp``."""
    read, write = resource.permission, resource.permission

    listing = dict(model=resource.model, search=resource.search, sortable=resource.sortable,
                   default_sort=resource.default_sort)

    @require(read)
    def index():
        session = db.session
        opened = default_view_redirect(resource.list_key)
        if opened is not None:
            return opened
        stmt, active_filters = _filtered(session, resource)
        fmt = requested_format()
        if fmt:
            columns = chosen_columns(resource.columns, requested_columns())
            return export_response(session, list_query(session, stmt, **listing), export_columns(columns),
                                   name=resource.name, fmt=fmt)
        page = list_page(session, stmt, **listing)
        state = list_state(resource.list_key, resource.columns, mass=_mass_form(session, resource))
        return render_template(_template(resource, "list"), resource=resource, page=page, state=state,
                               filters=[(f, f.options(session)) for f in resource.filters],
                               active_filters=active_filters,
                               can_write=can(_user(), resource.permission, "write"))

    @require(write, "write")
    def mass():
        """A mass action on the ticked rows, or on every row the list's search and filters match."""
        def matching():
            stmt, _active = _filtered(db.session, resource)
            return list_query(db.session, stmt, **listing)
        return run_mass_action(resource.mass_target(), model=resource.model, matching=matching,
                               edit=lambda name, form: _mass_edit(resource, name, form),
                               back=url_for(f"{resource.endpoint}.index") + _query_string(),
                               within=resource.query())

    @require(read)
    def detail(record_id: int):
        session = db.session
        record = resource.get(session, record_id)
        context = resource.detail_context(session, record) if resource.detail_context else {}
        history = []
        if resource.audit_entity:
            from crm.services.audit import history as audit_history
            history = audit_history(session, resource.audit_entity, record.id)[-20:][::-1]
            context.setdefault("user_names", user_names(session, {h.user_id for h in history}))
        return render_template(_template(resource, "detail"), resource=resource, record=record,
                               fields=_fields(session, resource), history=history,
                               can_write=can(_user(), resource.permission, "write"), **context)

    @require(write, "write")
    def new():
        return _form(resource, None)

    @require(write, "write")
    def edit(record_id: int):
        return _form(resource, record_id)

    @require(write, "write")
    def delete(record_id: int):
        try:
            with db.transaction() as session:
                record = resource.get(session, record_id)
                title = resource.title_of(record)
                resource.delete(session, record)
        except CRMError as exc:
            flash(exc.message, "error")
            return redirect(url_for(f"{resource.endpoint}.detail", record_id=record_id))
        flash(_("%(name)s was deleted.", name=title))
        return redirect(url_for(f"{resource.endpoint}.index"))

    bp.add_url_rule("/", "index", index)
    bp.add_url_rule("/mass", "mass", mass, methods=["POST"])
    bp.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    bp.add_url_rule("/<int:record_id>", "detail", detail)
    bp.add_url_rule("/<int:record_id>/edit", "edit", edit, methods=["GET", "POST"])
    if resource.delete is not None:
        bp.add_url_rule("/<int:record_id>/delete", "delete", delete, methods=["POST"])
    bp.resource = resource


def _query_string() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return "?" + query if query else ""


def _user():
    from flask import g
    return g.get("user")


def _fields(session, resource: Resource) -> list[FormField]:
    extra = custom_form_fields(session, resource.custom_entity) if resource.custom_entity else []
    return list(resource.fields) + extra


def _form(resource: Resource, record_id: int | None):
    session = db.session
    record = resource.get(session, record_id) if record_id is not None else None
    fields_ = _fields(session, resource)
    errors = FormErrors()
    values = None
    if request.method == "POST":
        values = request.form
        try:
            with db.transaction() as session:
                if record_id is not None:
                    record = resource.get(session, record_id)
                data = _read(session, resource, fields_, request.form, record)
                if record is None:
                    record = resource.create(session, data)
                else:
                    resource.update(session, record, data)
                saved_id = record.id
            flash(_("%(name)s was saved.", name=resource.title_of(record)))
            return redirect(url_for(f"{resource.endpoint}.detail", record_id=saved_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
            if record_id is not None:
                record = resource.get(db.session, record_id)
            else:
                record = None
    context = resource.form_context(session, record) if resource.form_context else {}
    status = 422 if errors else 200
    options = {f.name: f.options(session) for f in fields_ if f.type in ("select", "id", "ids")}
    return render_template(_template(resource, "form"), resource=resource, record=record, fields=fields_,
                           values=values, errors=errors, options=options, labels=labels_of(fields_),
                           **context), status


def _read(session, resource: Resource, fields_: list[FormField], form, record) -> dict:
    """The submitted form -> validated data for the service (the API's schema decides)."""
    raw, problems = {}, {}
    custom_fields = [f for f in fields_ if f.name.startswith("custom.")]
    for f in fields_:
        if f.name.startswith("custom.") or f.type in ("components", "prices", "textlist") or \
                (f.fixed and record is not None):
            continue
        try:
            raw[f.name] = f.read(form)
        except ValidationError as exc:
            problems.update(exc.fields)
    if resource.custom_entity:
        try:
            raw["custom"] = read_custom(custom_fields, form, record.custom if record is not None else None)
        except ValidationError as exc:
            problems.update(exc.fields)
    if resource.to_raw is not None:
        try:
            raw = resource.to_raw(session, form, raw, record)
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError(refusal_message(problems, fields_), problems)
    if "version" in form and record is not None:
        try:
            raw["version"] = int(form["version"])
        except ValueError:
            pass
    schema = resource.patch_schema() if record is not None and resource.patch_schema else resource.schema()
    if schema is None:
        return raw
    version = raw.pop("version", None)
    data = load(schema, raw)
    if version is not None and record is not None:
        data["version"] = version
    return data


def user_names(session, ids) -> dict:
    from sqlalchemy import select

    from crm.models import User
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())

