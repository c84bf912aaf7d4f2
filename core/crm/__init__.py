"""CRM core: an order-management application that plugins extend.

``create_app()`` builds the Flask app: database, plugins, REST API, web UI.
"""
from __future__ import annotations

import os

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from crm.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["create_app", "hookimpl", "__version__"]


def create_app(config: dict | None = None) -> Flask:
    """The application. ``config`` overrides settings read from the environment;
    ``EXTRA_PLUGINS`` (a list of :class:`crm.plugins.Candidate`) adds plugins that
    are not installed as distributions (tests, examples)."""
    from flask_wtf.csrf import CSRFProtect

    import crm.models  # noqa: F401  (registers the core's tables)
    import crm.services.audit  # noqa: F401  (audit trail listeners)
    import crm.services.workflows  # noqa: F401  (the listeners that keep deleted records for the workflow rules)
    from crm import config as crm_config
    from crm.api import init_api, is_api_request
    from crm.context import set_actor
    from crm.db import core_table_names, db
    from crm.i18n import init_i18n
    from crm.jsonutil import DecimalJSONProvider
    from crm.logs import init_request_ids
    from crm.plugins import PluginRegistry, installed_candidates
    from crm.request_guard import init_request_guard
    from crm.routing import Rule
    from crm.security import init_security
    from crm.ui import init_ui
    from crm.web import init_web
    from crm.web.health import PROBES

    instance_path = os.environ.get("CRM_INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    app = Flask(__name__, instance_path=os.path.abspath(instance_path))
    app.url_rule_class = Rule
    app.json_provider_class = DecimalJSONProvider
    app.json = DecimalJSONProvider(app)
    app.config.update(crm_config.from_environment(app.instance_path))
    app.config.update(config or {})
    app.config["DATABASE_URL"] = crm_config.normalise_database_url(app.config["DATABASE_URL"])
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below for pages; the API uses bearer tokens
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = crm_config.instance_secret_key(app.instance_path)

    db.init_app(app)
    init_security(app)
    init_request_ids(app)

    @app.before_request
    def _nobody_yet():
        set_actor(None)  # a thread serves many requests: never keep the previous user

    init_request_guard(app)  # NUL characters, JSON depth and number length: refused before any view

    core_tables = core_table_names()
    candidates = installed_candidates() + list(app.config.get("EXTRA_PLUGINS", []))
    registry = PluginRegistry(candidates, only=app.config.get("PLUGINS"), core_tables=core_tables)
    app.extensions["crm.plugins"] = registry

    app.url_map.converters["int"] = BoundedIntConverter
    csrf = CSRFProtect(app)
    init_i18n(app, [registry.plugins[p] for p in registry.order if registry.plugins[p].loaded])
    api = init_api(app)
    init_web(app)
    _register_workflows(app, api)
    init_ui(app)
    _register_plugin_blueprints(app, api, registry)

    plugin_state_max_age = float(app.config.get("PLUGIN_STATE_MAX_AGE", 2.0))

    @app.before_request
    def _plugin_state_and_csrf():
        if request.endpoint in PROBES:
            return  # probes answer without the database (and are GETs: no CSRF)
        # not a query per request: re-read at most every PLUGIN_STATE_MAX_AGE seconds
        # (changes made through this app's registry show at once, see PluginRegistry)
        registry.refresh_if_stale(db.session, plugin_state_max_age)
        owner = app.extensions["crm.blueprint_owners"].get(request.blueprint)
        if owner is not None and not registry.is_enabled(owner):
            abort(404)
        if not is_api_request() and app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()

    registry.pm.hook.crm_startup(app=app)
    return app


def _register_workflows(app, api) -> None:
    """The workflow rules' pages and API, and the notifications' (docs/workflows.md)."""
    from crm.api import workflows as workflows_api
    from crm.web import workflows as workflows_web
    api.register_blueprint(workflows_api.blp)
    app.register_blueprint(workflows_web.bp)
    app.register_blueprint(workflows_web.notifications_bp)


class BoundedIntConverter(IntegerConverter):
    """``<int:id>`` matches only ids the database can hold; anything else is a 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _register_plugin_blueprints(app, api, registry) -> None:
    """Register every loaded plugin's blueprints, enabled or not (a disabled
    plugin's routes exist but answer 404), remembering which plugin owns which.
    A plugin whose blueprints fail is recorded with its error, like a failed import."""
    owners: dict[str, str] = {}
    for hook_name, register in (("crm_api_blueprints", api.register_blueprint),
                                ("crm_web_blueprints", app.register_blueprint)):
        for plugin_id in list(registry.order):
            try:
                for blueprint in registry.call_one(plugin_id, hook_name) or []:
                    register(blueprint)
                    owners[blueprint.name] = plugin_id
            except Exception as exc:  # noqa: BLE001  a broken plugin must not stop the app
                registry.fail(plugin_id, f"{hook_name}: {type(exc).__name__}: {exc}")
    app.extensions["crm.blueprint_owners"] = owners
