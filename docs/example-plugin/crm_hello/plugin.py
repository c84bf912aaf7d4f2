"""The hooks of the example plugin. The entry point ``hello = crm_hello.plugin``
makes this module the plugin; its id is ``hello``."""
from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup

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
    return [MenuItem(_("Greetings"), url_for("hello.index"), order=500)]


@hookimpl
def crm_template_slot(slot, context):
    if slot == "home_panels":
        return Markup('<section class="card hello-panel"><p>{}</p></section>').format(
            _("Hello from the example plugin!"))
