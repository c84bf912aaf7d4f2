"""Every message of the core and of each plugin has its Spanish translation, compiled.

The messages are extracted from the sources (Python and Jinja templates) the way
``pybabel extract`` does, so a new ``_("...")`` without a translation fails here, not in
front of a Spanish-speaking user. A plugin's catalogue lives in ``translations/`` beside its
module; the core loads it (see docs/writing-plugins.md)."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"core": ROOT / "core" / "crm",
            **{path.name: path / f"crm_{path.name}" for path in sorted((ROOT / "plugins").iterdir())
               if (path / "setup.cfg").exists()},
            "hello (the example plugin)": ROOT / "docs" / "example-plugin" / "crm_hello"}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.do"}}
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2),
            "lazy_ngettext": (1, 2)}


def _source_messages(package: Path) -> set[tuple]:
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            package, METHODS, OPTIONS, KEYWORDS, callback=None, strip_comment_tags=True):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            found.add((context, key))
    return found


def _catalogue(package: Path, suffix: str):
    path = package / "translations" / "es" / "LC_MESSAGES" / f"messages{suffix}"
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle) if suffix == ".po" else read_mo(handle)


def _translated(catalogue) -> dict:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]):
            m.string if isinstance(m.string, str) else tuple(m.string)
            for m in catalogue if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_every_message_has_a_spanish_translation_compiled(name):
    package = PACKAGES[name]
    messages = _source_messages(package)
    if not messages:
        pytest.skip(f"{name} has no user-facing messages")
    source = _catalogue(package, ".po")
    assert source is not None, f"{name}: no Spanish catalogue at {package}/translations/es/LC_MESSAGES/messages.po"
    translated = _translated(source)
    missing = sorted(f"{context + ': ' if context else ''}{text}" for context, text in messages - set(translated))
    assert missing == [], f"{name}: messages without a Spanish translation"
    compiled = _catalogue(package, ".mo")
    assert compiled is not None and _translated(compiled) == translated, \
        f"{name}: the .mo is out of date: pybabel compile -d {package.relative_to(ROOT)}/translations"
