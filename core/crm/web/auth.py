"""Sign in and out of the web UI."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from crm.db import db
from crm.permissions import require
from crm.services import users

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@require(public=True)
def login():
    error = None
    if request.method == "POST":
        cfg = current_app.config
        username = request.form.get("username", "").strip()
        try:
            user = users.authenticate(db.session, username, request.form.get("password", ""),
                                      remote_addr=request.remote_addr or "",
                                      limit=cfg["LOGIN_ATTEMPTS_LIMIT"],
                                      window_seconds=cfg["LOGIN_ATTEMPTS_WINDOW_SECONDS"])
        except users.TooManyAttempts:
            return render_template("auth/login.html",
                                   error=_("Too many failed attempts. Try again in a few minutes.")), 429
        db.session.commit()
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong username or password.")
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@require()
def logout():
    logout_user()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))
