"""The hooks of the example plugin. The entry point ``hello = crm_hello.plugin``
makes this module the plugin; its id is ``hello``."""
from flask import url_for
from markupsafe import Markup, escape

from crm import hookimpl
from crm.ui import MenuItem
from crm_hello import models  # noqa: F401  (registers the plugin's table)


@hookimpl
def crm_api_blueprints():
    from crm_hello.api import blp
    return [blp]


@hookimpl
def crm_web_blueprints():
    from crm_hello.web import bp
    return [bp]


@hookimpl
def crm_menu_items(user):
    return [MenuItem("Greetings", url_for("hello.index"), order=500)]


@hookimpl
def crm_template_slot(slot, context):
    if slot == "home_panels":
        return Markup('<p class="hello-panel">{}</p>').format(escape("Hello from the example plugin!"))
