"""Users (admin), settings (admin; plugin settings pages listed), and each user's
profile with their language."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.i18n import remember_language
from crm.labels import role_label
from crm.models import ROLES, Sequence, User
from crm.models.auth import LANGUAGES
from crm.permissions import require
from crm.services import numbering, user_changes, users
from crm.services.doctypes import DOC_TYPES
from crm.services.settings import all_settings, set_setting
from crm.web.auth import end_session, keep_session
from crm.web.common import FormErrors, list_page, list_query, parse_int, truthy
from crm.web.export import ExportColumn, export_response, requested_format

users_bp = Blueprint("users", __name__, url_prefix="/users")
settings_bp = Blueprint("settings", __name__, url_prefix="/settings")
profile_bp = Blueprint("profile", __name__, url_prefix="/profile")
BLUEPRINTS = [users_bp, settings_bp, profile_bp]

LANGUAGE_NAMES = {"en": "English", "es": "Español"}


# --- users --------------------------------------------------------------------------------------

#: the columns of the users page (admin/users.html), as its exports write them
USER_COLUMNS = [
    ExportColumn(_l("Username"), lambda u, _x: u.username), ExportColumn(_l("Name"), lambda u, _x: u.full_name),
    ExportColumn(_l("Role"), lambda u, _x: str(role_label(u.role))),
    ExportColumn(_l("Language"), lambda u, _x: LANGUAGE_NAMES.get(u.language, u.language)),
    ExportColumn(_l("Active"), lambda u, _x: u.active, "bool"),
]


@users_bp.route("/", endpoint="index")
@require("users")
def users_list():
    stmt = select(User)
    role = request.args.get("role", "")
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    listing = dict(model=User, search=[User.username, User.full_name, User.email],
                   sortable={"username": func.lower(User.username), "role": User.role,
                             "full_name": func.lower(User.full_name)},
                   default_sort=[func.lower(User.username)])
    fmt = requested_format()
    if fmt:
        return export_response(db.session, list_query(db.session, stmt, **listing), USER_COLUMNS, name="users",
                               fmt=fmt)
    page = list_page(db.session, stmt, **listing)
    return render_template("admin/users.html", page=page, roles=ROLES, role=role, languages=LANGUAGE_NAMES)


def _user_form(form, *, new: bool) -> dict:
    data = {"full_name": form.get("full_name", "").strip(), "email": form.get("email", "").strip(),
            "role": form.get("role", ""), "language": form.get("language", "en"),
            "active": truthy(form.get("active"))}
    if new:
        data["username"] = form.get("username", "").strip()
    if form.get("password"):
        data["password"] = form.get("password")
    return data


@users_bp.route("/new", methods=["GET", "POST"])
@require("users", "write")
def new():
    errors = FormErrors()
    if request.method == "POST":
        data = _user_form(request.form, new=True)
        try:
            with db.transaction() as session:
                user = users.create_user(session, data["username"], data.get("password", ""), data["role"],
                                         full_name=data["full_name"], email=data["email"], language=data["language"])
                user.active = data["active"]
                user_id = user.id
            flash(_("User %(name)s was created.", name=data["username"]))
            return redirect(url_for("users.edit", user_id=user_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    return render_template("admin/user_form.html", user=None, errors=errors, roles=ROLES,
                           languages=LANGUAGE_NAMES, values=request.form if request.method == "POST" else None), \
        (422 if errors else 200)


@users_bp.route("/<int:user_id>", methods=["GET", "POST"])
@require("users", "write")
def edit(user_id: int):
    errors = FormErrors()
    user = users.get_user(db.session, user_id)
    if request.method == "POST":
        data = _user_form(request.form, new=False)
        try:
            with db.transaction() as session:
                user = users.get_user(session, user_id)
                user_changes.update_user(session, user, data, acting=g.user)
            if user.id == g.user.id:
                keep_session(user)  # an admin's new password of their own ends their other sessions only
            flash(_("User %(name)s was saved.", name=user.username))
            return redirect(url_for("users.index"))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
            user = users.get_user(db.session, user_id)
    return render_template("admin/user_form.html", user=user, errors=errors, roles=ROLES, languages=LANGUAGE_NAMES,
                           values=request.form if request.method == "POST" else None), (422 if errors else 200)


# --- settings ------------------------------------------------------------------------------------

@settings_bp.route("/", methods=["GET"], endpoint="index")
@require("settings")
def settings_page():
    return _settings_page(FormErrors())


@settings_bp.route("/", methods=["POST"])
@require("settings", "write")
def save():
    try:
        with db.transaction() as session:
            _save_settings(session, request.form)
        flash(_("Settings saved."))
        return redirect(url_for("settings.index"))
    except CRMError as exc:
        return _settings_page(FormErrors.from_error(exc))


def _settings_page(errors: FormErrors):
    sequences = {s.doc_type: s for s in db.session.scalars(select(Sequence))}
    numbering_rows = [(name, kind, sequences.get(name)) for name, kind in DOC_TYPES.items()]
    return render_template("admin/settings.html", settings=all_settings(db.session), errors=errors,
                           numbering=numbering_rows, values=request.form if request.method == "POST" else None), \
        (422 if errors else 200)


def _save_settings(session, form) -> None:
    from crm.money import currency_precision
    currency = form.get("default_currency", "EUR").strip().upper()
    try:
        currency_precision(currency)
    except ValueError:
        raise ValidationError.for_field("default_currency", _("unknown currency code")) from None
    name = form.get("company_name", "").strip()
    if not name or len(name) > 200:
        raise ValidationError.for_field("company_name", _("is required (at most 200 characters)"))
    address = form.get("company_address", "")
    if len(address) > 2000:
        raise ValidationError.for_field("company_address", _("at most 2000 characters"))
    set_setting(session, "company_name", name)
    set_setting(session, "company_address", address)
    set_setting(session, "default_currency", currency)
    set_setting(session, "allow_backorders", truthy(form.get("allow_backorders")))
    set_setting(session, "allow_negative_stock", truthy(form.get("allow_negative_stock")))
    for doc_type in DOC_TYPES:
        prefix = form.get(f"numbering.{doc_type}.prefix")
        if prefix is None:
            continue
        try:
            padding = parse_int(form.get(f"numbering.{doc_type}.padding"), f"numbering.{doc_type}.padding")
            next_value = parse_int(form.get(f"numbering.{doc_type}.next_value"), f"numbering.{doc_type}.next_value")
            numbering.configure(session, doc_type, prefix=prefix.strip(), padding=padding, next_value=next_value)
        except ValidationError as exc:
            raise ValidationError(exc.message, {f"numbering.{doc_type}.{k.split('.')[-1]}": v
                                                for k, v in exc.fields.items()}) from None
    session.flush()


# --- profile -------------------------------------------------------------------------------------

@profile_bp.route("/", methods=["GET", "POST"], endpoint="index")
@require()
def profile():
    errors = FormErrors()
    if request.method == "POST":
        form = request.form
        data = {"full_name": form.get("full_name", "").strip(), "email": form.get("email", "").strip(),
                "language": form.get("language", "en"), "current_password": form.get("current_password", ""),
                "new_password": form.get("new_password", "")}
        try:
            with db.transaction() as session:
                user = g.user
                user_changes.update_profile(session, user, data)
                g.user = user
                remember_language(user)
            keep_session(user)  # a new password ends the other sessions, not this one
            from flask_babel import refresh
            refresh()
            flash(_("Your profile was saved."))
            return redirect(url_for("profile.index"))
        except CRMError as exc:
            errors = FormErrors.from_error(exc, rename=lambda k: "new_password" if k == "password" else k)
    return render_template("profile.html", errors=errors, languages=LANGUAGE_NAMES,
                           values=request.form if request.method == "POST" else None), (422 if errors else 200)


@profile_bp.route("/sign-out-everywhere", methods=["POST"])
@require()
def sign_out_everywhere():
    """End every session of the user, this one included, and revoke their API tokens."""
    with db.transaction() as session:
        users.end_all_sessions(session, g.user)
    end_session()
    flash(_("You have signed out everywhere: on every browser, and your API tokens are revoked."))
    return redirect(url_for("auth.login"))


__all__ = ["BLUEPRINTS", "LANGUAGES"]
