"""Fixtures of the item lookup's tests (helpers in ``item_lookup_helpers``)."""
from __future__ import annotations

import uuid

import pytest

from crm.testing import TEST_PASSWORD
from item_lookup_helpers import Api, Shop, make_shop


@pytest.fixture
def shop(session) -> Shop:
    return make_shop(session)


@pytest.fixture
def token_for(app, make_user):
    """``token_for("sales")`` -> a bearer token of a new user with that role."""
    from crm.db import db
    from crm.services.users import issue_token

    def make(role="admin", **kwargs):
        user = make_user(role, **kwargs)
        with app.app_context():
            s = db.new_session(app)
            _, plain = issue_token(s, s.merge(user))
            s.commit()
            s.close()
        return plain
    return make


@pytest.fixture
def rest(client, token_for):
    """An admin's :class:`Api`."""
    return Api(client, token_for("admin"))


@pytest.fixture
def rest_as(app, token_for):
    def make(role):
        return Api(app.test_client(), token_for(role))
    return make


@pytest.fixture
def find(rest):
    """``find(kind="product", f1=["Tools"])`` -> the search's JSON body (asserting a 200)."""
    def run(**params):
        response = rest.get("/item-lookup/items", **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()
    return run


@pytest.fixture
def browser_user(make_user):
    """A signed-in page client factory: ``signed_in(client, role, language)``."""
    def sign_in(client, role="admin", language="en"):
        user = make_user(role, username=f"{role}-{uuid.uuid4().hex[:6]}", language=language)
        response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
        assert response.status_code == 302
        return user
    return sign_in
