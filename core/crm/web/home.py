"""The start page."""
from __future__ import annotations

from flask import Blueprint, render_template

from crm.permissions import require

bp = Blueprint("home", __name__)


@bp.route("/")
@require()
def index():
    return render_template("home.html")
