"""Shared by every test in the repository. Fixtures come from ``crm.testing``."""
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests/test_plugin_guide.py runs the guide's tests

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "docs" / "example-plugin"))


@pytest.fixture(scope="session")
def crm_extra_plugins():
    """The example plugin of the docs is loaded in every test app."""
    from crm.plugins import module_candidate
    return [module_candidate("hello", "crm_hello.plugin")]
