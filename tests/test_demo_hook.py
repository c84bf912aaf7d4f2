"""Plugins add their own demo data through ``crm_demo_data``."""
import pytest
from sqlalchemy import func, select

from crm import hookimpl
from crm.testing import registered_plugin


@pytest.mark.slow
def test_plugins_load_their_demo_data_once(app, runner, session):
    from crm_hello.models import Greeting

    class DemoGreetings:
        @hookimpl
        def crm_demo_data(self, session):
            if session.scalar(select(Greeting.id).limit(1)) is not None:
                return {}
            session.add(Greeting(text="¡Hola!"))
            return {"greetings": 1}

    with registered_plugin(app, DemoGreetings(), "demo_greetings"):
        first = runner.invoke(["demo"])
        assert first.exit_code == 0, first.output
        assert "1 greetings" in first.output
        again = runner.invoke(["demo"])
        assert again.exit_code == 0 and "greetings" not in again.output
    assert session.scalar(select(func.count()).select_from(Greeting)) == 1
