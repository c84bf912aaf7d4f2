"""Saved views of the list pages and the column chooser (crm.services.list_views,
crm.web.lists): a user saves a list's search, filters, sort and columns by name, opens the list
with it by default, and only an administrator shares a view with everyone; the columns chosen
are the columns shown and exported."""
from __future__ import annotations

import csv
import io
import re

import pytest

from crm.errors import NotFound, PermissionDenied, ValidationError
from crm.models import Account
from crm.models.views import ListView
from crm.services import list_views
from tests.test_web_pages import html_of, sign_in


def _user(session, user):
    """``user`` in ``session``, its transaction ended (an open one would lock SQLite for the others)."""
    from crm.models import User
    found = session.get(User, user.id)
    session.commit()
    return found


def test_a_view_keeps_the_query_and_columns_and_is_replaced_by_name(session, make_user):
    owner = _user(session, make_user("sales"))
    view = list_views.save_view(session, owner, "accounts.index", " Madrid ", query={"q": "López", "page": "3",
                                "export": "csv", "active": "1", "sort": ""}, columns=["name", "city", "name"])
    session.commit()
    assert (view.name, view.query, view.columns, view.shared) == ("Madrid", {"q": "López", "active": "1"},
                                                                   ["name", "city"], False)
    again = list_views.save_view(session, owner, "accounts.index", "Madrid", query={"q": "Ana"}, columns=[])
    session.commit()
    assert again.id == view.id and again.query == {"q": "Ana"}
    assert [v.name for v in list_views.views_for(session, owner, "accounts.index")] == ["Madrid"]


@pytest.mark.parametrize("name, field", [("", "name"), ("x" * 101, "name")])
def test_a_view_without_a_name_or_with_a_too_long_one_is_refused(session, make_user, name, field):
    owner = _user(session, make_user("sales"))
    with pytest.raises(ValidationError) as refused:
        list_views.save_view(session, owner, "accounts.index", name, query={})
    assert field in refused.value.fields
    assert session.query(ListView).count() == 0


def test_only_an_administrator_shares_and_a_shared_view_is_offered_to_everyone(session, make_user):
    sales, other = _user(session, make_user("sales")), _user(session, make_user("warehouse"))
    admin = _user(session, make_user("admin"))
    with pytest.raises(PermissionDenied):
        list_views.save_view(session, sales, "accounts.index", "Mine", query={}, shared=True)
    session.rollback()
    private = list_views.save_view(session, sales, "accounts.index", "Mine", query={"q": "a"})
    shared = list_views.save_view(session, admin, "accounts.index", "Team", query={"active": "1"}, shared=True)
    session.commit()
    assert [v.name for v in list_views.views_for(session, other, "accounts.index")] == ["Team"]
    assert [v.name for v in list_views.views_for(session, sales, "accounts.index")] == ["Mine", "Team"]
    with pytest.raises(NotFound):
        list_views.get_view(session, other, private.id)
    # someone else's shared view: opened and made default, but not deleted
    list_views.set_default(session, other, "accounts.index", list_views.get_view(session, other, shared.id))
    session.commit()
    assert list_views.default_view(session, other, "accounts.index").id == shared.id
    with pytest.raises(PermissionDenied):
        list_views.delete_view(session, other, shared)
    # no longer shared: gone from the others' lists and defaults
    list_views.share_view(session, admin, shared, False)
    session.commit()
    assert list_views.default_view(session, other, "accounts.index") is None
    assert list_views.views_for(session, other, "accounts.index") == []


def test_the_column_chooser_shows_and_exports_the_columns_chosen(app, make_user, session):
    session.add(Account(name="Acme", email="a@acme.example", website="acme.example", tax_id="B123"))
    session.commit()
    client = sign_in(app, make_user, "sales")
    html = html_of(client.get("/accounts/?columns=name,website,tax_id"))
    heads = re.findall(r'<th scope="col"[^>]*data-column="([^"]+)"', html)
    assert heads == ["name", "website", "tax_id"]
    assert "acme.example" in html and "B123" in html
    # the links of the page keep the choice: sort, pages, export
    export = re.search(r'href="([^"]*export=csv[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "columns=name" in export or "columns=name%2Cwebsite" in export
    rows = list(csv.reader(io.StringIO(client.get(export).get_data(as_text=True))))
    assert rows[0] == ["Name", "Website", "Tax number"] and rows[1] == ["Acme", "acme.example", "B123"]
    # unknown keys are ignored; none known -> the list's own columns
    html = html_of(client.get("/accounts/?columns=nope"))
    assert re.findall(r'data-column="([^"]+)"', html)[:2] == ["name", "email"]


def test_saving_a_view_then_the_list_opens_with_the_default_view(app, make_user, session):
    session.add_all([Account(name="Acme Madrid", active=True), Account(name="Old Co", active=False)])
    session.commit()
    client = sign_in(app, make_user, "sales")
    response = client.post("/list-views/", data={
        "list_key": "accounts.index", "name": "Active ones", "query": "active=1&q=&columns=name,active",
        "default": "1", "next": "/accounts/?active=1"})
    assert response.status_code == 302 and "view=" in response.location
    # the list without arguments opens the default view: its filter and columns
    opened = client.get("/accounts/")
    assert opened.status_code == 302 and "active=1" in opened.location and "columns=name%2Cactive" in opened.location
    html = html_of(client.get(opened.location))
    assert "Acme Madrid" in html and "Old Co" not in html
    assert re.findall(r'data-column="([^"]+)"', html) == ["name", "active"]
    # "without a view" stays without one
    assert client.get("/accounts/?view=none").status_code == 200
    view = session.query(ListView).one()
    session.commit()
    client.post("/list-views/no-default", data={"list_key": "accounts.index", "next": "/accounts/"})
    assert client.get("/accounts/").status_code == 200
    # sharing needs an administrator: refused, nothing changed
    client.post(f"/list-views/{view.id}/share", data={"shared": "1", "next": "/accounts/"})
    session.expire_all()
    assert session.get(ListView, view.id).shared is False


def test_a_view_of_an_unknown_list_is_refused(app, make_user, session):
    client = sign_in(app, make_user, "sales")
    response = client.post("/list-views/", data={"list_key": "nope.index", "name": "X", "query": "",
                                                 "next": "/accounts/"})
    assert response.status_code == 302
    assert session.query(ListView).count() == 0
