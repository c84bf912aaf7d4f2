"""Workflow rules over the API, for administrators (see docs/workflows.md):

- ``GET /api/v1/workflows``, ``POST /api/v1/workflows``: the rules; a new one.
- ``GET``, ``PATCH``, ``DELETE /api/v1/workflows/<id>``: one rule (PATCH with its ``version``).
- ``GET /api/v1/workflows/<id>/runs``: its run log, newest first.
- ``GET /api/v1/workflows/fields/<entity>``: the fields a rule on an entity may compare.

A rule is refused with 422 naming the field that is wrong (``conditions.items[0].field`` for an
unknown field, ``actions[1].url`` for a webhook address that is not http(s)).
"""
from __future__ import annotations

from marshmallow import fields, validate

from crm.api.fields import Integer, clean_text
from crm.api.openapi import ErrorSchema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.errors import NotFound
from crm.permissions import require
from crm.services import workflows

blp = Blueprint("api_workflows", __name__, url_prefix="/api/v1/workflows", description="Workflow rules (administrators)")


class RuleIn(Schema):
    name = fields.String(validate=[validate.Length(min=1, max=200), clean_text])
    description = fields.String(validate=[validate.Length(max=workflows.MAX_TEXT), clean_text])
    enabled = fields.Boolean(metadata={"description": "off by default"})
    entity = fields.String(validate=validate.Length(max=60),
                           metadata={"description": "accounts, contacts, vendors, items, quotes, sales-orders, "
                                                    "purchase-orders or invoices"})
    trigger = fields.Dict(metadata={"description": '{"event": "created" | "updated" | "status_changed" | "deleted" | '
                                                   '"date" | "stock_changed" | a plugin\'s trigger, "to_status", '
                                                   '"field", "offset_days"}'})
    conditions = fields.Dict(metadata={"description": '{"match": "all" | "any", "items": [{"field", "op", "value"} '
                                                      'or {"field", "op", "value_field"} or a group]}'})
    actions = fields.List(fields.Dict(), validate=validate.Length(max=workflows.MAX_ACTIONS),
                          metadata={"description": 'each {"type": "send_email" | "update_field" | "add_comment" | '
                                                   '"notify" | "webhook" | a plugin\'s action, ...}'})
    version = Integer(metadata={"description": "the version read (PATCH): a stale one is refused (409)"})


class RuleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    enabled = fields.Boolean()
    entity = fields.String()
    trigger = fields.Dict()
    conditions = fields.Dict()
    actions = fields.List(fields.Dict())
    example = fields.String(metadata={"description": "the shipped example it is, or empty"})
    has_webhook_secret = fields.Function(lambda rule: bool(rule.webhook_secret))
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RunOut(Schema):
    id = fields.Integer()
    rule_id = fields.Integer()
    entity = fields.String()
    record_id = fields.Integer()
    event = fields.String()
    period = fields.String()
    status = fields.String(metadata={"description": "queued, running, retry, done or failed"})
    matched = fields.String(metadata={"description": "the conditions that held"})
    snapshot = fields.Dict(metadata={"description": "the record's fields when the trigger happened"})
    steps = fields.List(fields.Dict(), metadata={"description": "what each action did, or why not"})
    error = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


RULE_LIST = ListOf(RuleOut, "WorkflowRuleList")
RUN_LIST = ListOf(RunOut, "WorkflowRunList")


def _listing(found: list) -> dict:
    return {"items": found, "total": len(found), "page": 1, "per_page": max(1, len(found))}


@blp.route("", methods=["GET"])
@require(roles={"admin"})
@blp.response(200, RULE_LIST)
@blp.doc(summary="The workflow rules (the shipped examples included, off until turned on)")
def list_rules():
    with db.transaction() as session:
        workflows.ensure_examples(session)
    return _listing(workflows.list_rules(db.session))


@blp.route("", methods=["POST"])
@require(roles={"admin"})
@blp.arguments(RuleIn)
@blp.response(201, RuleOut)
@blp.alt_response(422, schema=ErrorSchema, description="a field of the rule is wrong (named)")
@blp.doc(summary="Add a workflow rule")
def create_rule(body):
    body.pop("version", None)
    for key in ("name", "entity", "trigger", "actions"):
        body.setdefault(key, None)
    with db.transaction() as session:
        rule = workflows.create_rule(session, body)
    return rule


@blp.route("/<int:rule_id>", methods=["GET"])
@require(roles={"admin"})
@blp.response(200, RuleOut)
@blp.doc(summary="One workflow rule")
def get_rule(rule_id):
    return workflows.get_rule(db.session, rule_id)


@blp.route("/<int:rule_id>", methods=["PATCH"])
@require(roles={"admin"})
@blp.arguments(RuleIn)
@blp.response(200, RuleOut)
@blp.alt_response(422, schema=ErrorSchema, description="a field of the rule is wrong (named)")
@blp.alt_response(409, schema=ErrorSchema, description="changed by someone else since the version sent")
@blp.doc(summary="Change a workflow rule (turn it on or off with enabled)")
def update_rule(body, rule_id):
    with db.transaction() as session:
        rule = workflows.update_rule(session, workflows.get_rule(session, rule_id), body)
    return rule


@blp.route("/<int:rule_id>", methods=["DELETE"])
@require(roles={"admin"})
@blp.response(204)
@blp.doc(summary="Delete a workflow rule and its run log")
def delete_rule(rule_id):
    with db.transaction() as session:
        workflows.delete_rule(session, workflows.get_rule(session, rule_id))


@blp.route("/<int:rule_id>/runs", methods=["GET"])
@require(roles={"admin"})
@blp.response(200, RUN_LIST)
@blp.doc(summary="The rule's run log, newest first (the last 100 runs)")
def runs(rule_id):
    rule = workflows.get_rule(db.session, rule_id)
    return _listing(workflows.runs_of(db.session, rule))


class FieldsOut(Schema):
    entity = fields.String()
    events = fields.List(fields.String())
    updatable = fields.List(fields.String())
    fields = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "field -> text, number, integer, date, datetime or bool"})


@blp.route("/fields/<string:entity>", methods=["GET"])
@require(roles={"admin"})
@blp.response(200, FieldsOut)
@blp.alt_response(404, schema=ErrorSchema, description="unknown entity")
@blp.doc(summary="What a rule on an entity may use: its fields, triggers and the fields it may set")
def entity_fields(entity):
    if entity not in workflows.ENTITIES:
        raise NotFound(f"unknown entity {entity[:60]}")
    return {"entity": entity, "fields": workflows.fields_of(entity), "events": list(workflows.events_for(entity)),
            "updatable": [f for f in workflows.ENTITIES[entity].updatable if f in workflows.fields_of(entity)]}
