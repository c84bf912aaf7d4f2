"""The contract of the hooks (after datasette's ``test_plugin_hooks_are_documented``
and ``test_plugin_hooks_have_tests``).

1. Documentation: every hook spec of :mod:`crm.hookspecs` has one section in
   ``docs/hooks/<group>.md`` headed by its exact signature (``## name(args)``,
   read with :func:`inspect.signature`), saying when it is called, its arguments,
   what it returns and whether it is ``firstresult``, with an example whose
   ``@hookimpl`` takes only arguments of the spec; no section names a hook or a
   signature that does not exist.
2. Tests: every hook spec is exercised by a test in ``tests/`` or
   ``plugins/*/tests/`` -- a ``test_*`` function that implements the hook (a
   nested ``def <hook>``, a module-level plugin class, function or source string
   of that test file that defines it and that the test uses, or a
   ``SpyPlugin(<hook>=...)`` answer) or calls it (``pm.hook.<hook>(...)``,
   ``hooks.call("<hook>", ...)``, ``spy.calls_of("<hook>")``). A bare
   mention (``"<hook>" in hooks``), this file and the spy plugin do not count.
   A hook that is not tested yet must be listed in ``PENDING_HOOK_TESTS``; a
   listed hook that has a test fails too, so the list only shrinks.
3. The spy plugin (``tests/plugins/spy_plugin.py``) implements every hook with
   the exact arguments of its spec.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

from crm import hookspecs
from crm.docs_reference import hook_groups

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
HOOK_DOCS = ROOT / "docs" / "hooks"
THIS_FILE = Path(__file__).resolve()
SPY_PLUGIN = THIS_FILE.parent / "plugins" / "spy_plugin.py"

#: The ``# --- <group> ---`` comments of crm/hookspecs.py -> their page in docs/hooks/.
GROUP_PAGES = {
    "application": "application.md",
    "lines and totals": "lines-and-totals.md",
    "items": "items.md",
    "documents and records": "documents.md",
    "stock": "stock.md",
    "stock locations": "stock-locations.md",
    "invoices and payments": "invoices-and-payments.md",
    "user interface": "user-interface.md",
    "jobs": "jobs.md",
    "workflows": "workflows.md",
    "PDF": "pdf.md",
    "accounting": "accounting.md",
}

#: Hooks without a behavioural test yet, because the core code that calls them
#: (documents, totals, item search, PDF, payment events, accounting) is being
#: written. Whoever adds the caller adds the test and removes the name here:
#: a hook that is tested while still listed fails ``test_every_hook_is_tested``.
PENDING_HOOK_TESTS: set[str] = set()

SECTION_LABELS = ("**Called:**", "**Arguments:**", "**Returns:**", "**firstresult:**")


# --- the specs -------------------------------------------------------------------

def _hookspecs() -> dict[str, object]:
    """name -> spec function (``pluggy.HookspecMarker("crm")`` marks them with ``crm_spec``)."""
    return {name: fn for name, fn in vars(hookspecs).items()
            if inspect.isfunction(fn) and hasattr(fn, "crm_spec")}


HOOKS = _hookspecs()


def _signature(name: str) -> str:
    return f"{name}({', '.join(inspect.signature(HOOKS[name]).parameters)})"


def _spec_args(name: str) -> list[str]:
    return list(inspect.signature(HOOKS[name]).parameters)


def test_hookspecs_module_declares_hooks_with_docstrings_under_a_known_group():
    assert len(HOOKS) >= 20, "crm.hookspecs lost its hooks?"
    functions = {n for n, f in vars(hookspecs).items()
                 if inspect.isfunction(f) and f.__module__ == hookspecs.__name__}
    assert functions == set(HOOKS), f"functions of crm.hookspecs without @hookspec: {sorted(functions - set(HOOKS))}"
    groups = hook_groups()
    for name, fn in HOOKS.items():
        assert name.startswith("crm_"), name
        assert (fn.__doc__ or "").strip(), f"{name} has no docstring"
        assert groups.get(name) in GROUP_PAGES, (
            f"{name} is under group {groups.get(name)!r}: add the group to GROUP_PAGES and a page to docs/hooks/")


# --- the documentation ------------------------------------------------------------

def _sections() -> list[tuple[str, str, str]]:
    """(page file name, heading, body) of every ``## `` section of docs/hooks/*.md."""
    found = []
    for page in sorted(HOOK_DOCS.glob("*.md")):
        text = page.read_text()
        text = re.sub(r"```.*?```", lambda m: re.sub(r"(?m)^#", " #", m.group(0)), text, flags=re.S)
        parts = re.split(r"(?m)^## ", text)
        for part in parts[1:]:
            heading, _, body = part.partition("\n")
            found.append((page.name, heading.strip(), body))
    return found


def _is_hook_heading(heading: str) -> bool:
    return heading.startswith("crm_") or re.match(r"^\w+\(.*\)$", heading) is not None


def _section(name: str) -> tuple[str, str]:
    matches = [(page, body) for page, heading, body in _sections() if heading == _signature(name)]
    assert len(matches) == 1, f"docs/hooks/ needs exactly one section '## {_signature(name)}', found {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_section_headed_by_its_exact_signature_in_its_group_page(name):
    page, _ = _section(name)
    expected = GROUP_PAGES[hook_groups()[name]]
    assert page == expected, f"{name} is documented in {page}; its group's page is {expected}"


def test_no_docs_section_names_a_hook_or_signature_that_does_not_exist():
    signatures = {_signature(n) for n in HOOKS}
    wrong = [f"{page}: ## {heading}" for page, heading, _ in _sections()
             if _is_hook_heading(heading) and heading not in signatures]
    assert wrong == [], "sections for unknown hooks or outdated signatures:\n" + "\n".join(wrong)


def _example_implementations(body: str, name: str) -> list[ast.FunctionDef]:
    defs = []
    for block in re.findall(r"```python\n(.*?)```", body, flags=re.S):
        tree = ast.parse(textwrap.dedent(block))  # a syntax error in an example fails here
        defs += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name
                 and any("hookimpl" in ast.unparse(d) for d in n.decorator_list)]
    return defs


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_section_says_when_what_returns_firstresult_and_has_an_example(name):
    _, body = _section(name)
    missing = [label for label in SECTION_LABELS if label not in body]
    assert missing == [], f"the section of {name} lacks {missing}"
    firstresult = HOOKS[name].crm_spec.get("firstresult", False)
    stated = re.search(r"\*\*firstresult:\*\*\s*(yes|no)\b", body)
    assert stated and stated.group(1) == ("yes" if firstresult else "no"), (
        f"{name}: the spec says firstresult={firstresult}; write '**firstresult:** {'yes' if firstresult else 'no'}'")
    examples = _example_implementations(body, name)
    assert examples, f"the section of {name} needs a ```python example with an @hookimpl def {name}(...)"
    for example in examples:
        args = [a.arg for a in example.args.args if a.arg != "self"]
        extra = sorted(set(args) - set(_spec_args(name)))
        assert extra == [], f"the example of {name} takes {extra}, which the spec does not pass"


def test_hook_docs_index_links_every_group_page_and_nothing_else_lives_there():
    pages = {p.name for p in HOOK_DOCS.glob("*.md")}
    assert pages == set(GROUP_PAGES.values()) | {"README.md"}
    index = (HOOK_DOCS / "README.md").read_text()
    for page in GROUP_PAGES.values():
        assert f"({page})" in index, f"docs/hooks/README.md does not link {page}"
    for name in HOOKS:
        assert name in index, f"docs/hooks/README.md does not list {name}"


def test_every_template_slot_is_documented_and_core_templates_use_only_declared_slots():
    from crm import ui
    page = (HOOK_DOCS / GROUP_PAGES["user interface"]).read_text()
    undocumented = [name for name in ui.SLOTS if f"| `{name}` |" not in page]
    assert undocumented == [], f"add these slots to the slot table of {GROUP_PAGES['user interface']}"
    templates = ROOT / "core" / "crm" / "templates"
    used = {name for path in templates.rglob("*.html")
            for name in re.findall(r"""\bslot\(\s*["'](\w+)["']""", path.read_text())}
    assert "home_panels" in used
    assert used - set(ui.SLOTS) == set(), "declare these slots in crm.ui.SLOTS and document them"


# --- the tests ------------------------------------------------------------------------

def _test_files() -> list[Path]:
    patterns = ("test_*.py", "*_test.py")
    files = {f for pattern in patterns for f in (ROOT / "tests").rglob(pattern)}
    files |= {f for pattern in patterns for f in ROOT.glob(f"plugins/*/tests/**/{pattern}")}
    return sorted(f for f in files if f.resolve() not in (THIS_FILE, SPY_PLUGIN.resolve()))


def _implemented_in(node: ast.AST, hook_names) -> set[str]:
    return {n.name for n in ast.walk(node)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in hook_names}


def _holders(tree: ast.Module, hook_names) -> dict[str, set[str]]:
    """Module-level classes, functions and plugin source strings that implement hooks."""
    holders = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("test"):
            name, implemented = node.name, _implemented_in(node, hook_names)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            try:
                plugin_source = ast.parse(textwrap.dedent(node.value.value))
            except SyntaxError:
                continue
            name, implemented = node.targets[0].id, _implemented_in(plugin_source, hook_names)
        else:
            continue
        if implemented:
            holders[name] = implemented
    return holders


def _test_functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from (n for n in node.body
                        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test"))


def hooks_exercised_by(source: str, hook_names) -> set[str]:
    """The hooks that the test functions of ``source`` implement or call (see the module docstring)."""
    hook_names = set(hook_names)
    tree = ast.parse(source)
    holders = _holders(tree, hook_names)
    found = set()
    for test in _test_functions(tree):
        for node in ast.walk(test):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in hook_names:
                found.add(node.name)                      # implements it
            elif isinstance(node, ast.Attribute) and node.attr in hook_names:
                found.add(node.attr)                      # pm.hook.<hook>(...)
            elif isinstance(node, ast.keyword) and node.arg in hook_names:
                found.add(node.arg)                       # SpyPlugin(<hook>=answer)
            elif isinstance(node, ast.Call):              # hooks.call("<hook>"), spy.calls_of("<hook>")
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    if isinstance(arg, ast.Constant) and arg.value in hook_names:
                        found.add(arg.value)
            elif isinstance(node, ast.Name) and node.id in holders:
                found |= holders[node.id]                 # a plugin defined beside the test
    return found


@functools.lru_cache(maxsize=1)
def _tested_hooks() -> dict[str, list[str]]:
    tested: dict[str, list[str]] = {}
    for path in _test_files():
        for name in hooks_exercised_by(path.read_text(), HOOKS):
            tested.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return tested


def test_the_detector_counts_implementations_and_calls_but_not_mentions():
    source = textwrap.dedent('''
        PLUGIN_SOURCE = """
        @hookimpl
        def crm_jobs_hook():
            return []
        """

        class MenuPlugin:
            @hookimpl
            def crm_menu_hook(self, user):
                return []

        def test_mentions_only():
            assert "crm_mention_hook" in registry.hooks_of("x")
            crm_mention_hook = 1

        def test_implements():
            @hookimpl
            def crm_nested_hook(app):
                pass

        def test_calls():
            registry.pm.hook.crm_called_hook(app=app)
            hooks.call("crm_ordered_hook", slot="x")
            SpyPlugin(crm_spied_hook=lambda: [])

        def test_uses_holders():
            with registered_plugin(app, MenuPlugin()):
                install(PLUGIN_SOURCE)

        def helper():
            hooks.call("crm_helper_hook")
    ''')
    names = {"crm_jobs_hook", "crm_menu_hook", "crm_mention_hook", "crm_nested_hook", "crm_called_hook",
             "crm_ordered_hook", "crm_spied_hook", "crm_helper_hook"}
    assert hooks_exercised_by(source, names) == {
        "crm_jobs_hook", "crm_menu_hook", "crm_nested_hook", "crm_called_hook", "crm_ordered_hook", "crm_spied_hook"}


def test_pending_hook_tests_names_only_existing_hooks():
    assert PENDING_HOOK_TESTS <= set(HOOKS), f"not hooks: {sorted(PENDING_HOOK_TESTS - set(HOOKS))}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_tested_or_pending(name):
    where = _tested_hooks().get(name)
    if name in PENDING_HOOK_TESTS:
        assert not where, f"{name} is tested now ({', '.join(where)}): remove it from PENDING_HOOK_TESTS"
    else:
        assert where, (f"no test implements or calls {name}: add one (see tests/test_hooks_app.py), "
                       "or, while its caller is being written, list it in PENDING_HOOK_TESTS")


# --- the spy plugin -----------------------------------------------------------------------

def _spy_plugin_class():
    name = "crm_tests_spy_plugin"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, SPY_PLUGIN)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module.SpyPlugin


def test_spy_plugin_implements_every_hook_with_the_spec_arguments():
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    spy = _spy_plugin_class()()
    pm.register(spy, name="spy")
    pm.check_pending()
    implemented = {caller.name: caller for caller in pm.get_hookcallers(spy)}
    assert set(implemented) == set(HOOKS), f"spy plugin misses {sorted(set(HOOKS) - set(implemented))}"
    for name, caller in implemented.items():
        (impl,) = caller.get_hookimpls()
        assert list(impl.argnames) == _spec_args(name), f"spy {name}{impl.argnames} != spec {_signature(name)}"
