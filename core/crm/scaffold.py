"""``crm plugins new NAME``: a new plugin distribution that works as generated.

It has its metadata and entry point (``pyproject.toml``: the core versions it supports are a
requirement on ``crm-core``), hook implementations (a menu entry, a page, an API endpoint), a
table with its first migration, a Spanish catalogue (compiled) and tests using ``crm.testing``
that pass as generated. ``docs/writing-plugins.md`` starts from it.
"""
from __future__ import annotations

import io
from pathlib import Path
from string import Template

from crm.plugins import PLUGIN_ID, core_version


class ScaffoldError(Exception):
    """The name or the folder cannot be used; nothing was written."""


def supported_cores(version: str) -> str:
    """The core versions a plugin made now supports: this one up to the next minor version
    (``0.1.0`` -> ``>=0.1,<0.2``), as the core's version numbers say what may break."""
    parts = (version.split(".") + ["0", "0"])[:2]
    try:
        major, minor = int(parts[0]), int(parts[1])
    except ValueError:
        return ""
    return f">={major}.{minor},<{major}.{minor + 1}"


FILES = {
    "pyproject.toml": '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$title: notes kept by the CRM (made with crm plugins new)"
authors = [{name = "$author"}]
requires-python = ">=3.11"
# the core versions this plugin supports: the CRM does not load it on another core
dependencies = ["crm-core$cores"]

[project.urls]
Homepage = "https://example.com/$dist"

# the entry point makes the module $package.plugin the plugin whose id is $id
[project.entry-points."crm.plugins"]
$id = "$package.plugin"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.setuptools.package-data]
$package = ["templates/**/*", "migrations/*", "migrations/versions/*", "translations/**/*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''',
    "README.md": '''\
# $dist

$title: a CRM plugin. Its page is `/$id/`, its API `/api/v1/$id/notes`.

```sh
pip install -e .          # into the CRM's environment
pytest                    # its tests, on SQLite (CRM_TEST_DATABASE_URL for PostgreSQL)
crm plugins enable $id    # creates its table (its migrations) and enables it
```

Messages: `pybabel extract -F babel.cfg -o $package/translations/messages.pot $package`, then
`pybabel update` / `pybabel compile -d $package/translations`.
''',
    "babel.cfg": '''\
[python: **.py]
[jinja2: **/templates/**.html]
''',
    "$package/__init__.py": '''\
"""$title: a CRM plugin."""
''',
    "$package/plugin.py": '''\
"""The hooks of the plugin $id (the entry point names this module)."""
from flask import url_for
from flask_babel import gettext as _

from crm import hookimpl
from crm.ui import MenuItem
from $package import models  # noqa: F401  (registers the plugin's table)


@hookimpl
def crm_web_blueprints():
    from $package.web import bp
    return [bp]


@hookimpl
def crm_api_blueprints():
    from $package.api import blp
    return [blp]


@hookimpl
def crm_menu_items(user):
    return [MenuItem(_("Notes"), url_for("$id.index"), order=500)]
''',
    "$package/models.py": '''\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class Note(Model):
    __tablename__ = "${id}_notes"  # every table of the plugin starts with its id

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
''',
    "$package/api.py": '''\
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from sqlalchemy import select

from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.permissions import EVERYONE, Resource, require
from $package.models import Note

#: who may read and add notes (shown on the roles page)
NOTES = Resource("${id}_notes", _l("Notes"), read=EVERYONE, write={"admin", "sales"},
                 description=_l("The notes of the plugin $id"))

blp = Blueprint("${id}_api", __name__, url_prefix="/api/v1/$id", description="$title")


class NoteSchema(Schema):
    id = fields.Integer(dump_only=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=200))


@blp.route("/notes")
class Notes(MethodView):
    @require(NOTES)
    @blp.response(200, ListOf(NoteSchema))
    def get(self):
        """All notes."""
        items = list(db.session.scalars(select(Note).order_by(Note.id)))
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require(NOTES, "write")
    @blp.arguments(NoteSchema)
    @blp.response(201, NoteSchema)
    def post(self, body):
        """Add a note."""
        with db.transaction() as session:
            note = Note(text=body["text"])
            session.add(note)
        return note
''',
    "$package/web.py": '''\
from flask import Blueprint, render_template
from sqlalchemy import select

from crm.db import db
from crm.permissions import require
from $package.api import NOTES
from $package.models import Note

bp = Blueprint("$id", __name__, url_prefix="/$id", template_folder="templates")


@bp.route("/")
@require(NOTES)
def index():
    notes = db.session.scalars(select(Note).order_by(Note.id))
    return render_template("$id/index.html", notes=notes)
''',
    "$package/templates/$id/index.html": '''\
{% extends "base.html" %}
{% block title %}{{ _("Notes") }}{% endblock %}
{% block content %}
<h1>{{ _("Notes") }}</h1>
<ul class="${id}-notes">{% for note in notes %}<li>{{ note.text }}</li>{% else %}<li>{{ _("No notes yet.") }}</li>{% endfor %}</ul>
{% endblock %}
''',
    "$package/migrations/env.py": '''\
from crm.migrate import run_env

run_env()
''',
    "$package/migrations/script.py.mako": '''\
"""$${message}

Revision ID: $${up_revision}
Revises: $${down_revision | comma,n}
"""
import sqlalchemy as sa
from alembic import op
$${imports if imports else ""}

revision = $${repr(up_revision)}
down_revision = $${repr(down_revision)}
branch_labels = $${repr(branch_labels)}
depends_on = $${repr(depends_on)}


def upgrade():
    $${upgrades if upgrades else "pass"}


def downgrade():
    $${downgrades if downgrades else "pass"}
''',
    "$package/migrations/versions/0001_notes.py": '''\
"""notes

Revision ID: ${id}_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "${id}_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "${id}_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_${id}_notes")),
    )


def downgrade():
    op.drop_table("${id}_notes")
''',
    "$package/translations/es/LC_MESSAGES/messages.po": '''\
msgid ""
msgstr ""
"Project-Id-Version: $dist 0.1.0\\n"
"Language: es\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Content-Transfer-Encoding: 8bit\\n"

msgid "Notes"
msgstr "Notas"

msgid "No notes yet."
msgstr "Todavía no hay notas."

msgid "The notes of the plugin $id"
msgstr "Las notas del plugin $id"
''',
    "tests/conftest.py": '''\
"""crm.testing (a pytest plugin installed with the CRM) gives the fixtures: app, api, api_as,
client, make_user, runner, session, page... The plugin is installed, so every test app loads it."""
''',
    "tests/test_$id.py": '''\
import pytest

from crm.testing import TEST_PASSWORD

pytestmark = pytest.mark.crm_plugins("$id")  # the test apps load this plugin alone


def test_the_api_adds_and_lists_notes(api, api_as):
    assert api.post("/$id/notes", json={"text": "hola"}).status_code == 201
    assert [n["text"] for n in api.get("/$id/notes").json()["items"]] == ["hola"]
    assert api_as("warehouse").post("/$id/notes", json={"text": "x"}).status_code == 403


def test_a_note_without_text_is_refused_naming_the_field(api):
    refused = api.post("/$id/notes", json={"text": ""})
    assert refused.status_code == 422 and "text" in refused.text
    assert api.get("/$id/notes").json()["items"] == []


def _signed_in(app, make_user, **user):
    account = make_user("sales", **user)
    client = app.test_client()
    client.post("/login", data={"username": account.username, "password": TEST_PASSWORD})
    return client


def test_the_page_lists_the_notes_in_english_and_spanish(app, api, make_user):
    api.post("/$id/notes", json={"text": "first note"})
    english = _signed_in(app, make_user).get("/$id/").get_data(as_text=True)
    assert "first note" in english and ">Notes</a>" in english
    spanish = _signed_in(app, make_user, language="es").get("/$id/").get_data(as_text=True)
    assert "<h1>Notas</h1>" in spanish


def test_a_disabled_plugin_answers_404(api, runner):
    assert runner.invoke(["plugins", "disable", "$id"]).exit_code == 0
    assert api.get("/$id/notes").status_code == 404
''',
}


def scaffold(name: str, directory: str | None = None, author: str = "") -> Path:
    """Write the distribution of the plugin ``name`` into ``directory`` (default:
    ``./crm-<name>``), which must not exist or be empty. Returns the folder."""
    if not PLUGIN_ID.match(name):
        raise ScaffoldError(f"invalid plugin id {name!r}: use lower case letters, digits and _, starting with a letter")
    dist = "crm-" + name.replace("_", "-")
    folder = Path(directory or dist).resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScaffoldError(f"{folder} exists and is not an empty folder: nothing was written")
    title = name.replace("_", " ").capitalize()
    values = {"id": name, "package": f"crm_{name}", "dist": dist, "title": title,
              "author": (author or "Your name").replace('"', "'"), "cores": supported_cores(core_version())}
    for path, content in FILES.items():
        target = folder / Template(path).substitute(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(content).substitute(values), encoding="utf-8")
    _compile_catalogue(folder / f"crm_{name}" / "translations" / "es" / "LC_MESSAGES")
    return folder


def _compile_catalogue(folder: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with open(folder / "messages.po", "rb") as source:
        catalog = read_po(source, locale="es")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (folder / "messages.mo").write_bytes(buffer.getvalue())
