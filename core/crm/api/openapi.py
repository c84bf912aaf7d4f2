"""What the OpenAPI description at ``/api/v1/openapi.json`` says beyond what flask-smorest
infers from the marshmallow schemas, so that it is true of every endpoint, the core's and
the plugins':

* the error body is the API's own, ``{"error": {"code", "message", "fields", "request_id"}}``
  (:class:`ErrorSchema`), for every status an operation does not describe itself;
* money, quantities and rates (every ``fields.Decimal``) are decimal strings with a pattern,
  and, where a client sends them, a JSON number is accepted too (``oneOf``); their bounds
  are JSON numbers (:func:`decimal2properties`);
* the body of every ``PATCH`` has at least one member (``minProperties: 1``,
  :class:`PatchBodies`): an empty one is refused with 422 ``nothing_to_change``;
* schema names (:func:`schema_name`) honour a schema's ``class Meta: name = "..."``, and those
  of a plugin start with its id, so that two plugins' ``Settings`` never collide.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal

from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask_smorest import Api
from marshmallow import Schema, fields

from crm import money


def decimal_pattern(*, signed: bool, places: int | None) -> str:
    """A decimal as the API writes it: ASCII digits, a dot only with decimals after it (at
    most ``places`` of them), a minus sign only when ``signed``, no exponent."""
    decimals = f"[0-9]{{1,{places}}}" if places else "[0-9]+"
    return f"^{'-?' if signed else ''}[0-9]+(\\.{decimals})?$"


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={
        "description": "what went wrong, for programs: invalid, nothing_to_change, not_found, conflict, "
                       "stale_version, unauthorized, forbidden, ... (never translated)"})
    message = fields.String(required=True, metadata={
        "description": "what went wrong, for people, in the user's language"})
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "the reasons by field (a nested field as lines.0.quantity, "
                                 "the body as a whole as _body); only when fields are to blame"})
    request_id = fields.String(required=True, metadata={
        "description": "the request's id (its X-Request-ID header, the client's when it sent a sane one): "
                       "quote it when reporting a problem, it names the request's log lines"})


class ErrorSchema(Schema):
    """Every error answer of the API: ``{"error": {"code", "message", "fields", "request_id"}}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)


#: the package of a plugin's code: ``crm_<plugin id>``
PLUGIN_PACKAGE = re.compile(r"crm_([a-z][a-z0-9_]*)")


def camel_case(plugin_id: str) -> str:
    """``"item_lookup"`` -> ``"ItemLookup"``: how a plugin's schema names start."""
    return "".join(part.capitalize() for part in plugin_id.split("_"))


def schema_name(schema) -> str:
    """The name of a marshmallow schema (a class or an instance) among the OpenAPI description's
    components: the ``name`` of the ``Meta`` its class declares itself, else the class name
    without ``Schema``; for a schema defined in a plugin's package (``crm_<id>``), the plugin
    id in CamelCase comes first unless the name starts with it (``crm_hello``'s
    ``GreetingSchema`` is ``HelloGreeting``)."""
    resolved = resolve_schema_cls(schema)
    cls = resolved[0] if isinstance(resolved, list) else resolved
    meta = vars(cls).get("Meta")
    name = vars(meta).get("name") if meta is not None else None
    if not name:
        name = cls.__name__.removesuffix("Schema") or cls.__name__
    plugin = PLUGIN_PACKAGE.fullmatch(cls.__module__.split(".")[0])
    if plugin and not name.startswith(camel_case(plugin.group(1))):
        name = camel_case(plugin.group(1)) + name
    return name


class CrmApi(Api):
    """flask-smorest's Api describing the API's own error body, and writing its blueprints'
    OpenAPI description when the description is first read (``GET /api/v1/openapi.json``, the
    documentation pages, ``crm.docs_reference``) rather than as each blueprint is registered:
    writing it is half the cost of making an app, which most apps (a worker's, a command's, a
    test's) never read. The routes themselves are registered at once, as flask-smorest does."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args, **kwargs):
        self._undocumented: list[Callable[[], None]] = []
        self._documented = True
        self._documenting = threading.RLock()
        self._spec = None
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def spec(self):
        """The APISpec, with every blueprint registered so far described in it."""
        if not self._documented:
            with self._documenting:   # another thread asking meanwhile waits for the whole of it
                while self._undocumented:
                    self._undocumented.pop(0)()
                self._documented = True
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options) -> None:
        """flask-smorest's ``register_blueprint``, its description written later (:attr:`spec`)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

        def describe() -> None:
            blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
            self._spec.tag({"name": name, "description": blp.description})
        self._undocumented.append(describe)
        self._documented = False


def _json_number(value) -> int | float:
    value = Decimal(value)
    return int(value) if money.is_whole(value) else float(value)


def decimal2properties(self, field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: a ``fields.Decimal`` as a decimal string (its pattern
    allows the field's decimals and a sign when it may be negative) and, unless the field is
    read-only, as a JSON number within its bounds too. Bounds are numbers, not strings."""
    if not isinstance(field, fields.Decimal):
        return {}
    bounds = {key: _json_number(ret.pop(key)) for key in ("minimum", "maximum") if key in ret}
    nullable = ret.pop("nullable", False)
    ret.pop("type", None)
    ret.pop("format", None)
    places = None if field.dump_only else getattr(field, "max_places", None)
    signed = field.dump_only or bounds.get("minimum", -1) < 0
    text = {"type": "string", "format": "decimal", "pattern": decimal_pattern(signed=signed, places=places)}
    if nullable:  # on the string branch only: null must match exactly one branch
        text["nullable"] = True
    if field.dump_only:
        ret.update(text)
        return {}
    ret["oneOf"] = [text, {"type": "number", **bounds}]
    ret["description"] = _described(ret.get("description"),
                                    _bounds_text(bounds, places, "a decimal string or a JSON number"))
    return {}


def _bounds_text(bounds: dict, places: int | None, what: str) -> str:
    parts = [what]
    if "minimum" in bounds and "maximum" in bounds:
        parts.append(f"from {bounds['minimum']} to {bounds['maximum']}")
    if places:
        parts.append(f"at most {places} decimals")
    return "(" + ", ".join(parts) + ")"


def _described(description: str | None, bounds: str) -> str:
    return f"{description} {bounds}" if description else bounds


def decimal2parameter(self, field, ret: dict, **kwargs) -> dict:
    """apispec parameter attribute function: a query parameter is text, so a decimal one is
    described by its string form alone."""
    schema = ret.get("schema", {})
    if not isinstance(field, fields.Decimal) or "oneOf" not in schema:
        return {}
    text, number = schema.pop("oneOf")
    schema.update(text)
    bounds = {key: number[key] for key in ("minimum", "maximum") if key in number}
    ret["description"] = _described(field.metadata.get("description"),
                                    _bounds_text(bounds, getattr(field, "max_places", None), "a decimal"))
    return {}


def pattern2ecma(self, field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: a pattern is an ECMA 262 regular expression in OpenAPI;
    Python's end anchor ``\\Z`` (which ``$`` is there) and start anchor ``\\A`` are written as such."""
    pattern = ret.get("pattern")
    if isinstance(pattern, str):
        ret["pattern"] = pattern.replace("\\A", "^").replace("\\Z", "$")
    return {}


class PatchBodies(BasePlugin):
    """apispec plugin: the JSON body of every ``PATCH`` operation has at least one member."""

    def init_spec(self, spec):
        self.spec = spec

    def operation_helper(self, path=None, operations=None, **kwargs):
        body = (operations or {}).get("patch", {}).get("requestBody")
        if not body:
            return
        schema = body.get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        if ref.startswith("#/components/schemas/"):
            self.spec.components.schemas[ref.rsplit("/", 1)[1]]["minProperties"] = 1
        elif isinstance(schema, dict):
            schema["minProperties"] = 1


def make_api(app) -> CrmApi:
    api = CrmApi(app, spec_kwargs={"extra_plugins": [PatchBodies()],
                                   "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
    api.ma_plugin.converter.add_attribute_function(decimal2properties)
    api.ma_plugin.converter.add_attribute_function(pattern2ecma)
    api.ma_plugin.converter.add_parameter_attribute_function(decimal2parameter)
    return api
