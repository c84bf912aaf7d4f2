"""Sign in and out of the web UI; the browser session's id and generation (see
:mod:`crm.services.users`)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from crm.db import db
from crm.permissions import require
from crm.security import check_credentials, local_path
from crm.services import users

bp = Blueprint("auth", __name__)

SESSION_ID = "crm_session_id"
GENERATION = "crm_auth_generation"


def start_session(user) -> None:
    """A new browser session for ``user``: nothing kept from before signing in, a new random id."""
    session.clear()
    login_user(user)
    session[SESSION_ID] = users.new_session_id()
    session[GENERATION] = user.auth_generation


def keep_session(user) -> None:
    """After the signed-in user changed their own password: this session goes on, the others end."""
    session[GENERATION] = user.auth_generation


def session_is_valid(user) -> bool:
    return users.session_is_valid(db.session, user, session.get(SESSION_ID), session.get(GENERATION))


def end_session() -> None:
    """Sign this browser out; its cookie, replayed, is refused."""
    session_id = session.get(SESSION_ID)
    if session_id:
        with db.transaction() as tx:
            users.end_session(tx, session_id, cookie_lifetime=current_app.permanent_session_lifetime)
    logout_user()
    session.clear()


@bp.route("/login", methods=["GET", "POST"])
@require(public=True)
def login():
    error = None
    if request.method == "POST":
        try:
            user = check_credentials(db.session, request.form.get("username", "").strip(),
                                     request.form.get("password", ""))
        except users.TooManyAttempts:
            return render_template("auth/login.html",
                                   error=_("Too many failed attempts. Try again in a few minutes.")), 429
        db.session.commit()
        if user is not None:
            start_session(user)
            return redirect(local_path(request.args.get("next")) or url_for("home.index"))
        error = _("Wrong username or password.")
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@require()
def logout():
    end_session()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))
