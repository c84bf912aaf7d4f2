"""``/api/v1/imports``: importing CSV and XLSX files (:mod:`crm.services.imports`).

Every row of an import is checked by the schema this API checks a request with (registered
here with :func:`crm.services.imports.register_loaders`), so that imported records obey the
same rules as those created through the API or the pages.

``POST /imports/preview`` reads a file (multipart ``file``) and answers its headers, the mapping
guessed (or given), the fields of the entity and what importing it would do, row by row, without
writing anything. ``POST /imports`` imports it: at once for a small file (201), by a worker for a
larger one (202, ``Location`` the import to poll for its progress). ``POST /imports/{id}/undo``
undoes the last import of an entity; ``GET /imports/{id}/rejects`` is the CSV of a partial
import's rejected rows; ``/imports/mappings`` keeps the mappings saved by name.
"""
from __future__ import annotations

import functools
import json

from flask import current_app, g, request
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import ValidationError as SchemaError, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crm.api import _flatten_messages
from crm.api.accounts import AccountSchema
from crm.api.contacts import ContactSchema
from crm.api.items import ProductSchema, ServiceSchema
from crm.api.price_books import ListPriceSchema
from crm.api.records import patch_schema
from crm.api.schema_messages import translate_fields
from crm.api.schemas import Blueprint, Schema
from crm.api.stock import AdjustmentSchema
from crm.api.vendors import VendorSchema
from crm.db import db
from crm.errors import NotFound, PermissionDenied, ValidationError
from crm.permissions import can, require
from crm.services import import_files, imports as service


def _loader(schema: Schema):
    def load(data: dict) -> dict:
        try:
            return schema.load(data)
        except SchemaError as exc:
            fields = translate_fields(_flatten_messages({"json": exc.messages}))
            first = next(iter(fields.items()), ("_body", ["invalid"]))
            raise ValidationError(f"{first[0]}: {first[1][0]}", fields) from None
    return load


def _register_loaders() -> None:
    for entity, schema_cls in (("products", ProductSchema), ("bundles", ProductSchema), ("services", ServiceSchema),
                               ("accounts", AccountSchema), ("contacts", ContactSchema), ("vendors", VendorSchema)):
        service.register_loaders(entity, _loader(schema_cls()), _loader(patch_schema(schema_cls)))
    for entity, schema_cls in (("price_book_entries", ListPriceSchema), ("stock", AdjustmentSchema)):
        service.register_loaders(entity, _loader(schema_cls()), _loader(schema_cls()))


_register_loaders()


blp = Blueprint("api_imports", __name__, url_prefix="/api/v1/imports", description="Imports of CSV and XLSX files")

FORM_FIELDS = {
    "file": {"type": "string", "format": "binary", "description": "the CSV or XLSX file"},
    "entity": {"type": "string", "enum": list(service.ENTITIES)},
    "mapping": {"type": "string", "description": "a JSON object: column header -> field key (see "
                                                 "/imports/fields/{entity}); guessed from the headers when left out"},
    "mapping_name": {"type": "string", "description": "a saved mapping to use instead"},
    "save_mapping_as": {"type": "string", "description": "save the mapping used under this name"},
    "key": {"type": "string", "enum": ["sku", "name", "email", "tax_id"],
            "description": "what finds a duplicate (default: the entity's first key the file has a column for)"},
    "on_duplicate": {"type": "string", "enum": list(service.ON_DUPLICATE), "default": "skip"},
    "partial": {"type": "boolean", "default": False,
                "description": "import the valid rows and keep the rejected ones (GET /imports/{id}/rejects)"},
    "locale": {"type": "string", "enum": list(service.LOCALES),
               "description": "how the file writes numbers and dates (default: guessed)"},
}
UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "entity"], "properties": FORM_FIELDS}}}}}


class RowErrorSchema(Schema):
    row = fields.Integer()
    column = fields.String()
    message = fields.String()


class ImportSchema(Schema):
    id = fields.Integer()
    entity = fields.String()
    filename = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed", "undone"]})
    options = fields.Dict()
    total_rows = fields.Integer()
    processed_rows = fields.Function(lambda run: service.progress_of(current_app, run))
    created = fields.Integer(attribute="created_count")
    updated = fields.Integer(attribute="updated_count")
    skipped = fields.Integer(attribute="skipped_count")
    rejected = fields.Integer(attribute="rejected_count")
    errors = fields.List(fields.Nested(RowErrorSchema))
    message = fields.String()
    undoable = fields.Function(lambda run: service.undoable(db.session, run))
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    undone_at = fields.DateTime(allow_none=True)


class FieldSchema(Schema):
    key = fields.String()
    label = fields.Function(lambda f: str(f.label))
    kind = fields.String()
    required = fields.Boolean()


class PreviewSchema(Schema):
    entity = fields.String()
    format = fields.String()
    headers = fields.List(fields.String())
    mapping = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                          metadata={"description": "column header -> field key (null: not imported)"})
    key = fields.String(allow_none=True)
    on_duplicate = fields.String()
    locale = fields.String()
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    skipped = fields.Integer()
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorSchema))
    fields_ = fields.List(fields.Nested(FieldSchema), data_key="fields")


class MappingSchema(Schema):
    id = fields.Integer(dump_only=True)
    entity = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    columns = fields.Dict(keys=fields.String(validate=validate.Length(max=200)),
                          values=fields.String(allow_none=True), required=True,
                          metadata={"description": "column header -> field key"})


class EntityArgs(Schema):
    entity = fields.String(validate=validate.OneOf(service.ENTITIES))


class UndoSchema(Schema):
    deleted = fields.Integer()
    restored = fields.Integer()
    reversed = fields.Integer()


def check_may_import(entity: str) -> None:
    """An import of ``entity`` needs the right to create such records."""
    service.check_entity(entity)
    if not can(g.get("user"), service.PERMISSIONS[entity], "write"):
        raise PermissionDenied(_("your role (%(role)s) may not import %(entity)s", role=g.user.role,
                                 entity=str(service.ENTITY_LABELS[entity]).lower()))


def may_import(view):
    """Check the right to import the ``entity`` of the URL before the body is read."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        check_may_import(kwargs["entity"])
        return view(*args, **kwargs)
    return wrapper


def max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or import_files.MAX_BYTES)


def uploaded() -> tuple[str, bytes, dict]:
    """The uploaded file (name, bytes) and the form's other fields; a file above the limit is
    refused before it is read whole."""
    limit = max_bytes()
    request.max_content_length = limit + 1024 * 1024   # the form's other fields too
    try:
        upload = request.files.get("file")
        form = request.form.to_dict()
    except RequestEntityTooLarge:
        raise import_files.refused(_("the file is larger than %(max)s MB: split it into smaller files",
                                     max=limit // (1024 * 1024))) from None
    if upload is None or not upload.filename:
        raise ValidationError.for_field("file", _("send the file as multipart form data (field file)"))
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise import_files.refused(_("the file is larger than %(max)s MB: split it into smaller files",
                                     max=limit // (1024 * 1024)))
    return upload.filename, data, form


def _flag(form: dict, name: str) -> bool:
    value = (form.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValidationError.for_field(name, _("must be true or false"))


def read_request(session) -> tuple[str, str, bytes, import_files.Sheet, service.Options, dict]:
    """entity, file name, bytes, sheet and checked options of an upload."""
    filename, data, form = uploaded()
    entity = form.get("entity") or ""
    check_may_import(entity)
    sheet = import_files.read(data, filename, max_bytes=max_bytes())
    mapping = None
    if form.get("mapping_name"):
        mapping = service.get_mapping(session, entity, form["mapping_name"]).columns
    if form.get("mapping"):
        try:
            mapping = json.loads(form["mapping"])
        except ValueError:
            raise ValidationError.for_field("mapping", _("must be a JSON object")) from None
        if not isinstance(mapping, dict):
            raise ValidationError.for_field("mapping", _("must be a JSON object"))
    options = service.options_from(session, entity, sheet, mapping=mapping, key=form.get("key") or None,
                                   on_duplicate=form.get("on_duplicate") or "skip", partial=_flag(form, "partial"),
                                   locale=form.get("locale") or None)
    return entity, filename, data, sheet, options, form


@blp.route("/preview")
class Preview(MethodView):
    @require()
    @blp.doc(**UPLOAD)
    @blp.response(200, PreviewSchema)
    def post(self):
        """What importing a file would do, row by row; nothing is written.

        Needs the right to create the entity's records. A mapping error (a required column
        missing) is a 422 ``missing_column``; a file that cannot be read, 422 ``invalid_file``.
        """
        session = db.session
        entity, _filename, _data, sheet, options, _form = read_request(session)
        try:
            outcome = service.run(session, entity, sheet, options)
        finally:
            session.rollback()
        return {**outcome.as_dict(), "entity": entity, "format": sheet.format, "headers": sheet.headers,
                "mapping": {h: options.mapping.get(h) for h in sheet.headers}, "key": options.key,
                "on_duplicate": options.on_duplicate, "fields_": service.fields_of(session, entity)}


@blp.route("")
class Imports(MethodView):
    @require()
    @blp.arguments(EntityArgs, location="query")
    @blp.response(200, ImportSchema(many=True))
    def get(self, args):
        """The latest imports (50), newest first, of the entities the user may import."""
        return [run for run in service.runs(db.session, args.get("entity"))
                if can(g.user, service.PERMISSIONS[run.entity], "write")]

    @require()
    @blp.doc(**UPLOAD)
    @blp.response(201, ImportSchema)
    @blp.alt_response(202, schema=ImportSchema, description="queued for a worker; poll its Location")
    def post(self):
        """Import a file: all rows or none unless ``partial``.

        A file of up to 1,000 rows is imported at once (201: ``done``, or ``failed`` with its
        errors and nothing written); a larger one is queued for a worker (202, ``Location``: poll
        ``processed_rows`` of ``total_rows``).
        """
        with db.transaction() as session:
            entity, filename, data, sheet, options, form = read_request(session)
            if form.get("save_mapping_as"):
                service.save_mapping(session, entity, form["save_mapping_as"], options.mapping)
            run = service.start(session, entity, filename, data, options, sheet)
        run_id = run.id
        app = current_app._get_current_object()
        if len(sheet.rows) <= service.SYNC_ROWS:
            service.run_queued(app, run_id)
            status = 201
        else:
            from crm.worker import enqueue
            enqueue(app, "crm.services.imports:run_queued", run_id=run_id)
            status = 202
        db.session.expire_all()
        run = service.get_run(db.session, run_id)
        return run, status, {"Location": f"/api/v1/imports/{run_id}"}


@blp.route("/<int:import_id>")
class ImportById(MethodView):
    @require()
    @blp.response(200, ImportSchema)
    def get(self, import_id):
        """An import: its status, progress, counts and first errors."""
        run = service.get_run(db.session, import_id)
        check_may_import(run.entity)
        return run


@blp.route("/<int:import_id>/undo")
class Undo(MethodView):
    @require()
    @blp.response(200, UndoSchema)
    def post(self, import_id):
        """Undo an import: remove what it created, restore what it updated.

        Only the last import of an entity; refused (409 ``not_undoable``) when a record it
        created is used by documents or other records, and then nothing is undone.
        """
        with db.transaction() as session:
            run = service.get_run(session, import_id, for_update=True)
            check_may_import(run.entity)
            return service.undo(session, run)


@blp.route("/<int:import_id>/rejects")
class Rejects(MethodView):
    @require()
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, import_id):
        """The rejected rows of a partial import as CSV: the file's columns, the row and its errors."""
        run = service.get_run(db.session, import_id)
        check_may_import(run.entity)
        if not run.rejects:
            raise NotFound(_("import %(id)s has no rejected rows", id=import_id), {"id": [_("no rejected rows")]})
        response = Response(run.rejects, content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="import-{import_id}-rejected.csv"'
        return response


@blp.route("/fields/<entity>")
class Fields(MethodView):
    @require()
    @blp.response(200, FieldSchema(many=True))
    def get(self, entity):
        """The fields an entity's columns can be mapped to (custom fields included)."""
        check_may_import(entity)
        return service.fields_of(db.session, entity)


@blp.route("/mappings/<entity>")
class Mappings(MethodView):
    @require()
    @blp.response(200, MappingSchema(many=True))
    def get(self, entity):
        """The mappings saved for an entity."""
        check_may_import(entity)
        return service.saved_mappings(db.session, entity)


@blp.route("/mappings/<entity>/<name>")
class MappingByName(MethodView):
    @require()
    @may_import
    @blp.arguments(MappingSchema)
    @blp.response(200, MappingSchema)
    def put(self, body, entity, name):
        """Save (or replace) the mapping ``name`` of an entity."""
        with db.transaction() as session:
            return service.save_mapping(session, entity, name, body["columns"])

    @require()
    @blp.response(204)
    def delete(self, entity, name):
        """Delete a saved mapping."""
        check_may_import(entity)
        with db.transaction() as session:
            service.delete_mapping(session, service.get_mapping(session, entity, name))
