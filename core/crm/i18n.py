"""Languages (English and Spanish), chosen per user, and locale-aware formats."""
from __future__ import annotations

from decimal import Decimal

from flask import Flask, g, has_request_context, request
from flask_babel import format_currency, format_date, format_decimal, get_locale

LANGUAGES = ("en", "es")


def remember_language(user) -> None:
    """Keep the signed-in user's language for the request, read while the session is sound: the
    first translated message may come after a failed flush, when the user's row cannot load."""
    g.language = getattr(user, "language", None)


def select_locale() -> str:
    """The signed-in user's language; else the browser's; else English (jobs, CLI)."""
    language = g.get("language")
    if language in LANGUAGES:
        return language
    if has_request_context():
        return request.accept_languages.best_match(LANGUAGES) or "en"
    return "en"


def money(amount, currency: str = "EUR") -> str:
    if amount is None:
        return ""
    return format_currency(Decimal(amount), currency)


def init_i18n(app: Flask, plugins=()) -> None:
    """Flask-Babel with the core's catalogue and the ``translations/`` folder of every loaded
    plugin: one merged catalogue per language, so plugins use ``flask_babel.gettext`` like the
    core. A later folder overrides an earlier one: the core's comes last, so a word both
    translate keeps the core's translation everywhere."""
    from flask_babel import Babel
    core = app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")
    folders = [str(plugin.translations_dir) for plugin in plugins if plugin.translations_dir] + [core]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(folders)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(current_locale=lambda: str(get_locale()))
    app.jinja_env.filters.update(money=money, number=format_decimal, date=format_date)
