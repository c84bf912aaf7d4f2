"""The web UI: server-rendered pages, signed in with a session cookie, CSRF on every form."""
from __future__ import annotations

from flask import Flask, g, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user

from crm.db import db

login_manager = LoginManager()
login_manager.login_view = "auth.login"


@login_manager.user_loader
def _load_user(user_id: str):
    from crm.models import User
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def redirect_to_login():
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def render_error(status: int, message: str):
    return render_template("errors/error.html", status=status, message=message), status


def init_web(app: Flask) -> None:
    login_manager.init_app(app)

    @app.before_request
    def _web_user():
        from crm.api import is_api_request
        from crm.context import set_actor
        from crm.i18n import remember_language
        if not is_api_request() and current_user.is_authenticated:
            g.user = current_user._get_current_object()
            remember_language(g.user)
            set_actor(g.user)

    @app.teardown_request
    def _forget_actor(_exc=None):
        """The actor must not outlive the request (a test client runs requests in the caller's context)."""
        from crm.context import set_actor
        set_actor(None)

    from crm.web import auth, home, admin
    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(admin.bp)

    from crm.web import documents, master, reports, settings, stock
    from crm.web.helpers import init_helpers
    for blueprint in (*master.BLUEPRINTS, *documents.BLUEPRINTS, stock.bp, reports.bp, *settings.BLUEPRINTS):
        app.register_blueprint(blueprint)
    init_helpers(app)
