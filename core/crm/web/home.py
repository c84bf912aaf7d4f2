"""The start page: the dashboard (sales this month, open orders, low stock,
overdue invoices, sales per month) and the plugins' ``home_panels``."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import format_date

from crm.db import db
from crm.permissions import require
from crm.services.dashboard_queries import dashboard
from crm.web.helpers import default_currency

bp = Blueprint("home", __name__)


@bp.route("/")
@require()
def index():
    board = dashboard(db.session, currency=default_currency())
    chart = {
        "type": "bar",
        "labels": [format_date(month, "MMM yy") for month, _total in board.sales_by_month],
        "series": [{"label": "sales", "values": [str(total) for _month, total in board.sales_by_month]}],
        "currency": board.currency,
    }
    return render_template("home.html", board=board, chart=chart)
