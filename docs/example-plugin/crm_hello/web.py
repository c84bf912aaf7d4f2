from flask import Blueprint, render_template
from sqlalchemy import select

from crm.db import db
from crm.permissions import require
from crm_hello.api import GREETINGS
from crm_hello.models import Greeting

bp = Blueprint("hello", __name__, url_prefix="/hello", template_folder="templates")


@bp.route("/")
@require(GREETINGS)
def index():
    greetings = db.session.scalars(select(Greeting).order_by(Greeting.id))
    return render_template("hello/index.html", greetings=greetings)
