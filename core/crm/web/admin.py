"""Administration: the installed plugins, with an enable/disable switch."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from crm.db import db
from crm.errors import CRMError
from crm.permissions import require
from crm.plugins import get_registry
from crm.services import plugin_admin

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/plugins")
@require("plugins")
def plugins():
    return render_template("admin/plugins.html", plugins=get_registry().describe())


@bp.route("/plugins/<plugin_id>/<any(enable, disable):action>", methods=["POST"])
@require("plugins", "write")
def toggle_plugin(plugin_id: str, action: str):
    try:
        with db.transaction() as session:
            plugin_admin.set_enabled(session, get_registry(), plugin_id, action == "enable")
        flash(_("Plugin %(id)s enabled.", id=plugin_id) if action == "enable"
              else _("Plugin %(id)s disabled.", id=plugin_id))
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.plugins"))
