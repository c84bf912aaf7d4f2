"""The plugin's translations (English source, Spanish in ``translations/es``).

The core's Flask-Babel reads one list of translation directories, set when the
app is created (``BABEL_TRANSLATION_DIRECTORIES``, default ``crm/translations``),
and offers plugins no way to add theirs. So the plugin keeps its own
Flask-Babel :class:`~flask_babel.Domain` whose directories are the core's
followed by the plugin's: the plugin's strings come from its own catalogue and
the core's strings (the page layout its templates extend) keep the core's
translation. Compile the catalogue with
``pybabel compile -d plugins/accounting_sync/crm_accounting_sync/translations``.
"""
from __future__ import annotations

from pathlib import Path

from flask_babel import Domain, get_babel
from flask_babel.speaklater import LazyString

TRANSLATIONS = str(Path(__file__).parent / "translations")


class PluginDomain(Domain):
    @property
    def translation_directories(self):
        try:
            core = list(get_babel().translation_directories)
        except (KeyError, RuntimeError):  # no app, or an app without Babel
            core = []
        return core + [TRANSLATIONS]


domain = PluginDomain()


def gettext(string: str, **variables) -> str:
    return domain.gettext(string, **variables)


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    return domain.ngettext(singular, plural, num, **variables)


def lazy_gettext(string: str, **variables) -> LazyString:
    return LazyString(gettext, string, **variables)


_ = gettext
