"""``crm plugins install | uninstall | new`` with real pip: plugins built in the test from source
folders, installed from a wheel file, by name from a package index and from a folder (installed,
upgraded, refused) and a scaffolded plugin whose own tests pass as generated.

pip installs into a throwaway environment layered on this one (:func:`layered_python`), never
into this one: the tests running beside these (other pytest processes, the servers they start)
would otherwise find the plugins being installed and load them."""
from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from crm.db import db

pytestmark = pytest.mark.slow


@dataclass
class Outcome:
    exit_code: int
    output: str


class LayeredPython:
    """A Python whose own site-packages come first and that sees everything installed here too."""

    def __init__(self, folder: Path, app):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
        self.python = str(folder / "bin" / "python")
        own = subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
        (Path(own) / "_crm_tests_layered.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.env = {**os.environ, "CRM_DATABASE_URL": app.config["DATABASE_URL"],
                    "CRM_INSTANCE_PATH": app.instance_path}
        self.env.pop("PYTEST_ADDOPTS", None)

    def run(self, *args: str, cwd=None) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, *args], capture_output=True, text=True, env=self.env, cwd=cwd, check=False)

    def crm(self, *args: str) -> Outcome:
        done = self.run("-m", "crm.cli", *args)
        return Outcome(done.returncode, done.stdout + done.stderr)

    def imports(self, module: str) -> bool:
        return self.run("-c", f"import {module}").returncode == 0


@pytest.fixture
def layered_python(app, tmp_path):
    return LayeredPython(tmp_path / "venv", app)


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return folder


def _upg_plugin(folder: Path, version: str, migrations: dict[str, str]) -> Path:
    """The plugin ``upg`` (distribution crm-upg) at ``version`` with these migration files."""
    files = {
        "pyproject.toml": f'''
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "crm-upg"
            version = "{version}"
            description = "A plugin upgraded by the tests"
            dependencies = ["crm-core"]
            [project.entry-points."crm.plugins"]
            upg = "crm_upg.plugin"
            [tool.setuptools.packages.find]
            include = ["crm_upg*"]
            [tool.setuptools.package-data]
            crm_upg = ["migrations/*", "migrations/versions/*"]
            ''',
        "crm_upg/__init__.py": "",
        "crm_upg/plugin.py": '"""No hooks: tables only."""\n',
        "crm_upg/migrations/env.py": "from crm.migrate import run_env\n\nrun_env()\n",
    }
    files.update({f"crm_upg/migrations/versions/{name}": body for name, body in migrations.items()})
    return _write(folder, files)


FIRST = '''
    import sqlalchemy as sa
    from alembic import op
    revision = "upg_0001"
    down_revision = None
    def upgrade():
        op.create_table("upg_items", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(50), nullable=False))
    def downgrade():
        op.drop_table("upg_items")
    '''
SECOND = '''
    import sqlalchemy as sa
    from alembic import op
    revision = "upg_0002"
    down_revision = "upg_0001"
    def upgrade():
        with op.batch_alter_table("upg_items") as batch:
            batch.add_column(sa.Column("colour", sa.String(20), nullable=False, server_default="blue"))
    def downgrade():
        with op.batch_alter_table("upg_items") as batch:
            batch.drop_column("colour")
    '''
BROKEN = '''
    import sqlalchemy as sa
    from alembic import op
    revision = "upg_0003"
    down_revision = "upg_0002"
    def upgrade():
        op.create_table("upg_more", sa.Column("id", sa.Integer(), primary_key=True))
        op.execute("INSERT INTO upg_nowhere VALUES (1)")
    def downgrade():
        pass
    '''


def _columns(app, table):
    with db.engine(app).connect() as connection:
        return {c["name"] for c in inspect(connection).get_columns(table)} if inspect(connection).has_table(table) else None


def _state(app, plugin_id):
    with db.engine(app).connect() as connection:
        return connection.execute(text("SELECT enabled FROM plugin_states WHERE id = :id"), {"id": plugin_id}).scalar()


def _wheel(layered_python, folder: Path, into: Path) -> Path:
    """The wheel of the source ``folder``, built by pip into ``into``."""
    built = layered_python.run("-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(into),
                               str(folder))
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return next(into.glob("crm_upg-*.whl"))


def test_install_upgrade_a_failed_upgrade_and_uninstall_of_a_plugin(app, layered_python, tmp_path):
    """Installed from a wheel file, upgraded by name from a package index, upgraded from a folder."""
    crm = layered_python.crm
    wheel = _wheel(layered_python, _upg_plugin(tmp_path / "v1", "1.0.0", {"0001.py": FIRST}), tmp_path / "wheels")
    first = crm("plugins", "install", str(wheel))
    assert first.exit_code == 0, first.output
    assert "installed crm-upg 1.0.0: plugin(s) upg" in first.output and "upg: enabled" in first.output
    assert "restart" in first.output or "reloading" in first.output
    assert _columns(app, "upg_items") == {"id", "name"} and _state(app, "upg") in (True, 1)
    with db.engine(app).begin() as connection:
        connection.execute(text("INSERT INTO upg_items (name) VALUES ('kept')"))
    again = crm("plugins", "install", str(wheel))            # already there: pip does nothing, the plugin stays
    assert again.exit_code == 0, again.output
    assert "crm-upg 1.0.0 was already installed: plugin(s) upg" in again.output and "upg: enabled" in again.output

    index = tmp_path / "index"                               # a package index holding version 2.0.0
    _wheel(layered_python, _upg_plugin(tmp_path / "v2", "2.0.0", {"0001.py": FIRST, "0002.py": SECOND}), index)
    layered_python.env["PIP_FIND_LINKS"] = f"{index} {os.environ.get('PIP_FIND_LINKS', '')}".strip()
    second = crm("plugins", "install", "crm-upg")
    assert second.exit_code == 0, second.output
    current = crm("plugins", "install", "crm-upg")          # the newest already: pip installs nothing
    assert current.exit_code == 0, current.output
    assert "crm-upg 2.0.0 was already installed: plugin(s) upg" in current.output
    assert "installed crm-upg 2.0.0 (was 1.0.0)" in second.output and "its migrations ran" in second.output
    with db.engine(app).connect() as connection:
        assert connection.execute(text("SELECT name, colour FROM upg_items")).all() == [("kept", "blue")]

    third = crm("plugins", "install", str(_upg_plugin(tmp_path / "v3", "3.0.0", {
        "0001.py": FIRST, "0002.py": SECOND, "0003.py": BROKEN})))
    assert third.exit_code == 1
    assert "crm-upg 3.0.0 is installed but plugin 'upg' is disabled" in third.output
    assert "the migrations of plugin 'upg' failed and were rolled back" in third.output
    assert _columns(app, "upg_more") is None                      # rolled back
    assert _state(app, "upg") in (False, 0)
    with db.engine(app).connect() as connection:
        assert connection.execute(text("SELECT name FROM upg_items")).scalars().all() == ["kept"]

    gone = crm("plugins", "uninstall", "upg")
    assert gone.exit_code == 0, gone.output
    assert "uninstalled crm-upg" in gone.output
    assert not layered_python.imports("crm_upg")
    assert _columns(app, "upg_items") == {"id", "name", "colour"}     # the data stays without --purge


def test_installing_what_is_not_a_crm_plugin_is_refused_and_uninstalled_again(layered_python, tmp_path):
    folder = _write(tmp_path / "lib", {
        "pyproject.toml": '''
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "crm-i21-not-a-plugin"
            version = "1.0"
            [tool.setuptools]
            py-modules = ["crm_i21_not_a_plugin"]
            ''',
        "crm_i21_not_a_plugin.py": "VALUE = 1\n"})
    refused = layered_python.crm("plugins", "install", str(folder))
    assert refused.exit_code == 1
    assert ("crm-i21-not-a-plugin 1.0 is not a CRM plugin (it declares no 'crm.plugins' entry point): refused; "
            "it was uninstalled again") in refused.output
    assert not layered_python.imports("crm_i21_not_a_plugin")


def test_a_scaffolded_plugin_passes_its_own_tests_and_is_installed_and_enabled(app, layered_python, tmp_path):
    crm = layered_python.crm
    folder = tmp_path / "crm-i21scaf"
    made = crm("plugins", "new", "i21scaf", "--dir", str(folder), "--author", "Ana")
    assert made.exit_code == 0, made.output
    assert crm("plugins", "new", "i21scaf", "--dir", str(folder)).exit_code == 1  # not over it
    installed = crm("plugins", "install", str(folder))
    assert installed.exit_code == 0, installed.output
    assert "i21scaf: enabled (its migrations ran)" in installed.output
    assert _columns(app, "i21scaf_notes") == {"id", "text"}
    tests = layered_python.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=folder)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "4 passed" in tests.stdout
    gone = crm("plugins", "uninstall", "i21scaf", "--purge", "--confirm", "i21scaf")
    assert gone.exit_code == 0, gone.output
    assert _columns(app, "i21scaf_notes") is None
