"""The web UI: server-rendered pages, signed in with a session cookie, CSRF on every form."""
from __future__ import annotations

from flask import Flask, Request, g, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user

from crm.db import db
from crm.money import is_digits

login_manager = LoginManager()
login_manager.login_view = "auth.login"


@login_manager.user_loader
def _load_user(user_id: str):
    """The session's user, while the session is valid (active user, not signed out, same
    generation), read with the configuration's change stamp (``crm.services.records``)."""
    from sqlalchemy import select

    from crm.models import User
    from crm.services.records import CONFIG_STAMP, note_config_stamp
    from crm.web.auth import session_is_valid
    if not is_digits(user_id):
        return None
    session = db.session
    row = session.execute(select(User, CONFIG_STAMP).where(User.id == int(user_id))).first()
    if row is None:
        return None
    user, stamp = row
    note_config_stamp(session, stamp)
    return user if session_is_valid(user) else None


class FormRequest(Request):
    """A request whose form values keep line breaks as ``\\n``. Browsers send every line break
    of a form as CRLF (HTML's form submission), so without this a textarea saved unchanged would
    store each ``\\n`` as ``\\r\\n``, and every page would read text differently from the API."""

    def _load_form_data(self) -> None:
        loaded = "form" in self.__dict__
        super()._load_form_data()
        if not loaded:
            self.__dict__["form"] = self.parameter_storage_class(
                [(key, value.replace("\r\n", "\n").replace("\r", "\n"))
                 for key, value in self.__dict__["form"].items(multi=True)])


def redirect_to_login():
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def render_error(status: int, message: str):
    return render_template("errors/error.html", status=status, message=message), status


def init_web(app: Flask) -> None:
    app.request_class = FormRequest
    login_manager.init_app(app)

    @app.before_request
    def _web_user():
        from crm.api import is_api_request
        from crm.context import set_actor
        from crm.i18n import remember_language
        from crm.web.health import PROBES
        if request.endpoint in PROBES:
            return  # probes answer without the database
        if not is_api_request() and current_user.is_authenticated:
            g.user = current_user._get_current_object()
            remember_language(g.user)
            set_actor(g.user)

    @app.teardown_request
    def _forget_actor(_exc=None):
        """The actor must not outlive the request (a test client runs requests in the caller's context)."""
        from crm.context import set_actor
        set_actor(None)

    from crm.web import admin, auth, health, home, lists
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(lists.bp)  # the saved views' actions that every list page posts to

    from crm.web import documents, email, master, reports, search, settings, stock
    from crm.web.helpers import init_helpers
    for blueprint in (*master.BLUEPRINTS, *documents.BLUEPRINTS, stock.bp, reports.bp, *settings.BLUEPRINTS,
                      search.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(email.bp)
    from crm.web import timeline
    app.register_blueprint(timeline.bp)
    from crm.web import imports
    app.register_blueprint(imports.bp)
    init_helpers(app)
