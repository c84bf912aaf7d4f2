"""The accounting sync's endpoints (``/api/v1/accounting-sync``).

Fixed by the API contract: ``GET|PUT /connections/<name>``, ``POST /runs``,
``GET /runs/<id>``, ``GET /links``. Also: ``GET /connections``, ``GET /connectors``,
``POST /connections/<name>/check``, ``GET /runs``, ``POST /links/<id>/resolve|skip|retry``
and the QuickBooks webhook ``POST /webhooks/<name>`` (public; signed).
"""
from __future__ import annotations

import json

from flask import current_app, g, request
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

from crm.api.collection import paginate
from crm.api.fields import IdField, Integer
from crm.api.schemas import Blueprint, ListArgs, ListOf, Schema
from crm.db import db
from crm.errors import ValidationError
from crm.permissions import require
from crm_accounting_sync import connections as conns, runner, services
from crm_accounting_sync.models import Connection, Link, Run
from crm_accounting_sync.permissions import ACCOUNTING_SYNC

blp = Blueprint("accounting_sync_api", __name__, url_prefix="/api/v1/accounting-sync",
                description="Sync with accounting systems (QuickBooks Online, Tryton, ...)")



class ConnectionSchema(Schema):
    class Meta:
        name = "AccountingSyncConnection"

    name = fields.String(dump_only=True)
    connector = fields.String(metadata={"description": "the connector's name (GET /connectors)"})
    enabled = fields.Boolean()
    settings = fields.Dict(metadata={"description": "entities {direction, policy}, mappings, value_maps, "
                                                    "schedule_minutes, background_threshold, retry, and the "
                                                    "connector's own keys"})
    secrets = fields.Dict(load_only=True, metadata={"description": "write only: stored encrypted, never shown; "
                                                                   "a key sent as null is removed"})
    secrets_set = fields.Method("_secrets_set", dump_only=True,
                                metadata={"description": "the names of the secrets stored (never their values)"})
    state = fields.Dict(dump_only=True)
    entities = fields.Method("_entities", dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def _secrets_set(self, obj):
        return conns.secret_names(obj)

    def _entities(self, obj):
        try:
            cls = conns.connector_class(obj.connector)
        except ValidationError:
            return {}
        return {e: conns.entity_config(obj, e, cls.entities) for e in cls.entities}


class ConnectorSchema(Schema):
    class Meta:
        name = "AccountingSyncConnector"

    name = fields.String()
    label = fields.String()
    entities = fields.List(fields.String())
    settings_keys = fields.List(fields.String())
    secret_keys = fields.List(fields.String())


class RunRecordSchema(Schema):
    class Meta:
        name = "AccountingSyncRunRecord"

    id = fields.Integer()
    entity = fields.String()
    side = fields.String()
    action = fields.String()
    local_id = fields.Integer(allow_none=True)
    remote_id = fields.String(allow_none=True)
    label = fields.String()
    message = fields.String()
    at = fields.DateTime()


class RunSchema(Schema):
    class Meta:
        name = "AccountingSyncRun"

    id = fields.Integer()
    connection = fields.String()
    entities = fields.List(fields.String())
    trigger = fields.String()
    mode = fields.String(metadata={"description": "inline or background"})
    status = fields.String(metadata={"description": "queued, running, done, failed"})
    counts = fields.Dict(metadata={"description": "{entity: {to_remote|from_remote: {created, updated, deleted, "
                                                  "skipped, failed}}}"})
    progress = fields.Dict()
    http_calls = fields.Integer()
    error = fields.String()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class RunDetailSchema(RunSchema):
    class Meta:
        name = "AccountingSyncRunDetail"

    records = fields.List(fields.Nested(RunRecordSchema))
    records_total = fields.Integer()


class RunCreateSchema(Schema):
    class Meta:
        name = "AccountingSyncRunCreate"

    connection = fields.String(required=True, validate=validate.Length(min=1, max=60))
    entities = fields.List(fields.String(), load_default=None)
    background = fields.Boolean(load_default=None, metadata={"description": "force the worker (true) or inline "
                                                                            "(false); default: by size"})


class RunArgs(Schema):
    class Meta:
        name = "AccountingSyncRunArgs"

    entity = fields.String(load_default=None)
    action = fields.String(load_default=None)
    limit = Integer(load_default=500, validate=validate.Range(min=1, max=5000))
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


class RunListArgs(ListArgs):
    class Meta:
        name = "AccountingSyncRunListArgs"
        unknown = "exclude"

    connection = fields.String(load_default=None)


class LinkSchema(Schema):
    class Meta:
        name = "AccountingSyncLink"

    id = fields.Integer()
    connection = fields.String()
    entity = fields.String()
    local_id = fields.Integer(allow_none=True)
    remote_id = fields.String(allow_none=True)
    remote_version = fields.String(allow_none=True)
    local_hash = fields.String(allow_none=True)
    remote_hash = fields.String(allow_none=True)
    status = fields.String()
    pending = fields.String(allow_none=True)
    error = fields.String()
    attempts = fields.Integer()
    conflict = fields.Dict(allow_none=True)
    resolution = fields.String(allow_none=True)
    label = fields.String()
    synced_at = fields.DateTime(allow_none=True)


class LinkArgs(ListArgs):
    class Meta:
        name = "AccountingSyncLinkArgs"
        unknown = "exclude"

    connection = fields.String(load_default=None)
    entity = fields.String(load_default=None)
    status = fields.String(load_default=None)
    local_id = IdField(load_default=None)
    remote_id = fields.String(load_default=None)


class ResolveSchema(Schema):
    class Meta:
        name = "AccountingSyncResolve"

    keep = fields.String(required=True, validate=validate.OneOf(["ours", "theirs"]))


class CheckSchema(Schema):
    class Meta:
        name = "AccountingSyncCheck"

    ok = fields.Boolean()
    company = fields.String(allow_none=True)
    message = fields.String()


class WebhookAnswerSchema(Schema):
    class Meta:
        name = "AccountingSyncWebhookAnswer"

    events = fields.Integer()
    run = fields.Integer(allow_none=True)


# --- connections ---------------------------------------------------------------------------------

@blp.route("/connectors")
class Connectors(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.response(200, ConnectorSchema(many=True))
    def get(self):
        """The accounting systems that can be connected (hook ``crm_accounting_connectors``)."""
        from crm.accounting_connectors import connector_classes
        return [cls for _name, cls in sorted(connector_classes().items())]


@blp.route("/connections")
class ConnectionList(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.response(200, ConnectionSchema(many=True))
    def get(self):
        """Every connection (never its secrets)."""
        return conns.list_connections(db.session)


@blp.route("/connections/<name>")
class Connections(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.response(200, ConnectionSchema)
    def get(self, name):
        """A connection's settings (never its secrets: only which ones are set)."""
        return conns.get_connection(db.session, name)

    @require("settings", "write")
    @blp.arguments(ConnectionSchema)
    @blp.response(200, ConnectionSchema)
    def put(self, body, name):
        """Create or change a connection. Secrets are stored encrypted and never shown back."""
        if not name or len(name) > 60 or not name.replace("-", "").replace("_", "").isalnum():
            raise ValidationError.for_field("name", "use letters, digits, - and _ (at most 60)")
        with db.transaction() as session:
            connection = conns.save_connection(session, name, body)
        return connection


@blp.route("/connections/<name>/check")
class ConnectionCheck(MethodView):
    @require(ACCOUNTING_SYNC, "write")
    @blp.response(200, CheckSchema)
    def post(self, name):
        """Reach the accounting system with the stored credentials."""
        from crm.accounting_connectors import SyncError
        session = db.session
        connection = conns.get_connection(session, name)
        connector = conns.make_connector(connection, session)
        try:
            info = connector.check()
            return {"ok": True, "company": info.get("company"), "message": "connected"}
        except SyncError as exc:
            return {"ok": False, "company": None, "message": exc.message}
        finally:
            connector.close()


# --- runs ----------------------------------------------------------------------------------------

def _run_detail(session, run: Run, args=None) -> dict:
    args = args or {}
    records, total = services.run_records(session, run.id, entity=args.get("entity"), action=args.get("action"),
                                          limit=args.get("limit", 500), offset=args.get("offset", 0))
    data = {name: getattr(run, name) for name in RunSchema().fields}
    data.update(records=records, records_total=total)
    return data


#: ``?sort=`` of the runs list: its listed fields (``-`` first: descending)
RUN_SORTS = {"id": Run.id, "connection": Run.connection, "trigger": Run.trigger, "mode": Run.mode,
             "status": Run.status, "http_calls": Run.http_calls, "created_at": Run.created_at,
             "started_at": Run.started_at, "finished_at": Run.finished_at}


@blp.route("/runs")
class Runs(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.arguments(RunListArgs, location="query")
    @blp.response(200, ListOf(RunSchema, "AccountingSyncRunList"))
    def get(self, args):
        """Past and current runs, newest first."""
        stmt = select(Run)
        if args.get("connection"):
            stmt = stmt.where(Run.connection == args["connection"])
        return paginate(db.session, stmt, args, model=Run, default_sort=[Run.id.desc()], sortable=RUN_SORTS)

    @require(ACCOUNTING_SYNC, "write")
    @blp.arguments(RunCreateSchema)
    @blp.response(201, RunDetailSchema)
    @blp.alt_response(202, schema=RunDetailSchema, description="queued for the background worker")
    def post(self, body):
        """Sync now: a connection, optionally some entities. Small runs answer when done (201);
        big ones (the first run, or more pending than ``background_threshold``) go to the
        worker and answer 202 with the queued run: follow it with ``GET /runs/<id>``."""
        user_id = getattr(g.get("user"), "id", None)
        with db.transaction() as session:
            run = runner.create_run(session, body["connection"], body.get("entities"),
                                    background=body.get("background"), user_id=user_id)
        app = current_app._get_current_object()
        if run.mode == "background":
            runner.enqueue_run(app, run.id)
            session = db.session
            session.expire_all()
            run = session.get(Run, run.id)
            return _run_detail(session, run), 202
        run = runner.run_now(app, db.session, run.id)
        return _run_detail(db.session, run), 201


@blp.route("/runs/<int:run_id>")
class RunDetail(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.arguments(RunArgs, location="query")
    @blp.response(200, RunDetailSchema)
    def get(self, args, run_id):
        """A run: its status, progress and counts per entity and side, and what it did to each
        record and why (``?entity=&action=&limit=&offset=`` page the records)."""
        return _run_detail(db.session, services.get_run(db.session, run_id), args)


# --- links ---------------------------------------------------------------------------------------

@blp.route("/links")
class Links(MethodView):
    @require(ACCOUNTING_SYNC)
    @blp.arguments(LinkArgs, location="query")
    @blp.response(200, ListOf(LinkSchema, "AccountingSyncLinkList"))
    def get(self, args):
        """The ID link table: our record, its twin, their versions and hashes, and its sync status
        (``?connection=&entity=&status=&local_id=&remote_id=&q=``)."""
        stmt = services.links_query(args)
        return paginate(db.session, stmt, {**args, "q": None}, model=Link, default_sort=[Link.entity, Link.id],
                        sortable={"id": Link.id, "entity": Link.entity, "status": Link.status,
                                  "synced_at": Link.synced_at})


@blp.route("/links/<int:link_id>/resolve")
class LinkResolve(MethodView):
    @require(ACCOUNTING_SYNC, "write")
    @blp.arguments(ResolveSchema)
    @blp.response(200, LinkSchema)
    def post(self, body, link_id):
        """Settle a manual conflict: ``{"keep": "ours"|"theirs"}``, applied on the next run."""
        with db.transaction() as session:
            return services.resolve_conflict(session, link_id, body["keep"])


@blp.route("/links/<int:link_id>/skip")
class LinkSkip(MethodView):
    @require(ACCOUNTING_SYNC, "write")
    @blp.response(200, LinkSchema)
    def post(self, link_id):
        """Stop retrying a failed, waiting or conflicting record (until it changes again)."""
        with db.transaction() as session:
            return services.skip_link(session, link_id)


@blp.route("/links/<int:link_id>/retry")
class LinkRetry(MethodView):
    @require(ACCOUNTING_SYNC, "write")
    @blp.response(200, LinkSchema)
    def post(self, link_id):
        """Try a failed or skipped record again on the next run."""
        with db.transaction() as session:
            return services.retry_link(session, link_id)


# --- webhooks ------------------------------------------------------------------------------------

def signed_by_intuit(view):
    """The webhook's permission: no user, but Intuit's signature (``intuit-signature``:
    base64 HMAC-SHA256 of the raw body with the connection's verifier token). Without a
    valid one the answer is 401, like any API call without credentials. Every role is
    "allowed" (a role does not matter here), so the security tests' 403 check skips it."""
    from functools import wraps

    from crm.api import error_response
    from crm.models import ROLES as ALL_ROLES

    @wraps(view)
    def wrapper(*args, **kwargs):
        from crm_accounting_sync import crypto
        from crm_accounting_sync.quickbooks.connector import verify_webhook
        connection = db.session.get(Connection, kwargs.get("name"))
        token = ""
        if connection is not None and connection.connector == "quickbooks":
            token = crypto.decrypt(connection.secrets).get("webhook_verifier_token", "")
        if not verify_webhook(request.get_data(), request.headers.get("intuit-signature"), token):
            return error_response(401, "unauthorized", "missing or invalid intuit-signature")
        return view(*args, **kwargs)
    wrapper.crm_permission = sorted(ALL_ROLES)
    return wrapper


@blp.route("/webhooks/<name>")
class Webhooks(MethodView):
    @signed_by_intuit
    @blp.doc(security=[], parameters=[{
        "in": "header", "name": "intuit-signature", "required": True, "schema": {"type": "string"},
        "description": "base64 HMAC-SHA256 of the raw body with the connection's verifier token"}])
    @blp.response(200, WebhookAnswerSchema)
    def post(self, name):
        """QuickBooks webhooks (classic ``eventNotifications`` or CloudEvents), signed with the
        verifier token in ``intuit-signature`` (401 otherwise). A notification for this
        connection's company queues a background run (unless one is under way)."""
        from crm.errors import Conflict
        from crm_accounting_sync.quickbooks.connector import webhook_events
        connection = db.session.get(Connection, name)
        body = request.get_data()
        try:
            events = webhook_events(json.loads(body))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValidationError.for_field("_body", f"not a QuickBooks webhook: {exc}") from None
        realm = str((connection.settings or {}).get("realm_id"))
        events = [e for e in events if e["realm"] == realm]
        run_id = None
        if events and connection.enabled:
            try:
                with db.transaction() as tx:
                    run = runner.create_run(tx, name, trigger="webhook", background=True)
                run_id = run.id
                runner.enqueue_run(current_app._get_current_object(), run.id)
            except Conflict:
                run_id = None  # a run is under way: it (or the next) reads these changes
        return {"events": len(events), "run": run_id}
