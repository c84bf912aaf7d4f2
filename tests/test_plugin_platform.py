"""What a plugin author relies on beyond the hooks: the OpenAPI names of a plugin's schemas, the
order actions' description, and a plugin distribution that installs complete from a wheel."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crm.api.openapi import camel_case

ROOT = Path(__file__).resolve().parent.parent
#: the example plugin of the guide and the plugins of this repository, each a distribution
DISTRIBUTIONS = [ROOT / "docs" / "example-plugin",
                 *sorted(path for path in (ROOT / "plugins").iterdir() if (path / "setup.cfg").exists())]


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        found = {ref.rsplit("/", 1)[1]} if isinstance(ref, str) and ref.startswith("#/components/schemas/") else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _named_by(spec: dict, operation: dict) -> set[str]:
    """The schemas an operation refers to, and those they refer to."""
    names, todo = set(), _refs(operation)
    while todo:
        name = todo.pop()
        names.add(name)
        todo |= _refs(spec["components"]["schemas"][name]) - names
    return names


def test_every_schema_a_plugin_endpoint_names_is_the_core_s_or_starts_with_the_plugin_id(app, app_factory):
    """A plugin's operations in /api/v1/openapi.json refer to the core's schemas or to schemas
    whose names start with the plugin id in CamelCase (``HelloGreeting``), so that two plugins
    never collide."""
    core_names = set(app_factory(plugins=[]).test_client().get("/api/v1/openapi.json").get_json()
                     ["components"]["schemas"])
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    owners = app.extensions["crm.blueprint_owners"]
    checked, wrong = set(), []
    for rule in app.url_map.iter_rules():
        plugin_id = owners.get(rule.endpoint.rpartition(".")[0])
        path = spec["paths"].get(_openapi_path(rule.rule))
        if plugin_id is None or path is None:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for name in _named_by(spec, path.get(method.lower(), {})):
                checked.add(plugin_id)
                if name not in core_names and not name.startswith(camel_case(plugin_id)):
                    wrong.append(f"{plugin_id}: {method} {rule.rule} -> {name}")
    assert {"hello", "payments", "idca", "item_lookup", "accounting_sync"} <= checked
    assert wrong == []
    assert "HelloGreeting" in spec["components"]["schemas"] and "Greeting" not in spec["components"]["schemas"]


def test_the_order_actions_describe_their_body_their_answer_and_their_refusals(app):
    """Receipts, shipments and invoices of orders (``LineQuantities``): what to send, what comes
    back and why it may be refused are in /api/v1/openapi.json, not only in the code."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    actions = {path: item["post"] for path, item in spec["paths"].items()
               if re.search(r"\}/(receipts|shipments|invoices)$", path) and "post" in item}
    assert set(actions) == {"/api/v1/purchase-orders/{doc_id}/receipts", "/api/v1/sales-orders/{doc_id}/shipments",
                            "/api/v1/sales-orders/{doc_id}/invoices"}
    for path, operation in actions.items():
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for name in _named_by(spec, {"$ref": f"#/components/schemas/{body}"}):
            schema = spec["components"]["schemas"][name]
            undescribed = [field for field, prop in schema.get("properties", {}).items() if not prop.get("description")]
            assert undescribed == [], f"{path}: {name} does not describe {undescribed}"
        success = next(status for status in operation["responses"] if status.startswith("2"))
        assert operation["responses"][success]["description"] != "OK", path
        for status in ("404", "409"):
            answer = operation["responses"][status]
            assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), (path, status)
            assert answer["description"], (path, status)


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=[path.name for path in DISTRIBUTIONS])
def test_a_plugin_wheel_holds_every_file_of_its_package_and_builds_without_warnings(folder, tmp_path):
    """Installed from a wheel (not editable), a plugin has its templates, static files,
    migrations and compiled translations; setuptools has nothing to warn about."""
    source = tmp_path / folder.name
    shutil.copytree(folder, source, ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "build", "dist", "instance", "tests"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    warnings = [line for line in (built.stdout + built.stderr).splitlines() if "Warning" in line]
    assert warnings == []
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}
    (package,) = [path for path in source.glob("crm_*") if path.is_dir() and path.suffix != ".egg-info"]
    files = {str(path.relative_to(source)) for path in package.rglob("*") if path.is_file()}
    assert sorted(files - shipped) == []
    assert any(name.endswith("/LC_MESSAGES/messages.mo") for name in shipped), "no compiled translations"
    assert any("/migrations/versions/" in name for name in shipped), "no migrations"


def test_the_example_plugin_speaks_the_user_s_language(client, make_user, session):
    """Its catalogue (translations/ beside its module) is merged into the app's."""
    from crm.models import User
    from crm.testing import TEST_PASSWORD
    user = make_user("sales")
    session.get(User, user.id).language = "es"
    session.commit()
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    html = client.get("/").get_data(as_text=True)
    assert ">Saludos</a>" in html and "¡Hola desde el plugin de ejemplo!" in html
    assert "<h1>Saludos</h1>" in client.get("/hello/").get_data(as_text=True)


def test_the_documents_api_table_lists_every_document_endpoint(app_factory):
    """docs/documents.md's table of requests names every operation of the four documents in the
    core's OpenAPI description, and none that does not exist."""
    from crm.services.doctypes import DOC_TYPES
    spec = app_factory(plugins=[]).test_client().get("/api/v1/openapi.json").get_json()
    paths = [f"/{kind.path}" for kind in DOC_TYPES.values()]
    described = {f"{method.upper()} {path.removeprefix('/api/v1')}" for path, item in spec["paths"].items()
                 if any(path.removeprefix("/api/v1") == p or path.removeprefix("/api/v1").startswith(p + "/")
                        for p in paths)
                 for method in item if method != "parameters"}
    table = (ROOT / "docs" / "documents.md").read_text(encoding="utf-8").split("## The API", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for method, path in re.findall(r"^\| `(GET|POST|PATCH|PUT|DELETE) (/\S+)` \|", table, re.M):
        listed |= {f"{method} {path.replace('/<documents>', p)}" for p in paths} if "<documents>" in path \
            else {f"{method} {path}"}
    assert sorted(described - listed) == [], "document endpoints missing from docs/documents.md"
    assert sorted(listed - described) == [], "docs/documents.md lists endpoints that do not exist"


def test_the_css_classes_offered_to_plugin_panels_exist():
    page = (ROOT / "docs" / "hooks" / "user-interface.md").read_text(encoding="utf-8")
    table = page.split("**Styling a panel.**", 1)[1].split("\n\n", 2)[1]
    offered = {name for cell in re.findall(r"^\| ([^|]+) \|", table, re.M) for name in re.findall(r"`([\w-]+)`", cell)}
    css = (ROOT / "core" / "crm" / "static" / "crm.css").read_text(encoding="utf-8")
    assert len(offered) >= 10
    assert sorted(name for name in offered if not re.search(rf"\.{re.escape(name)}\b", css)) == []


def test_a_slot_inserts_markup_as_html_and_escapes_a_plain_string(app, client, make_user):
    """What docs/hooks/user-interface.md says of crm_template_slot's answer."""
    from markupsafe import Markup

    from crm.testing import TEST_PASSWORD, registered_plugin
    from tests.plugins.spy_plugin import SpyPlugin
    answers = {"home_panels": "<b>plain</b>"}
    spy = SpyPlugin(crm_template_slot=lambda slot, context: answers.get(slot))
    client.post("/login", data={"username": make_user("sales").username, "password": TEST_PASSWORD})
    with registered_plugin(app, spy, "slots"):
        assert "&lt;b&gt;plain&lt;/b&gt;" in client.get("/").get_data(as_text=True)
        answers["home_panels"] = Markup("<b>html</b>")
        assert "<b>html</b>" in client.get("/").get_data(as_text=True)
