"""Warehouses: the API (who may, bad input naming the field) and the admin pages."""
from __future__ import annotations

from warehouses_helpers import add_warehouse, signed_in


def test_the_admin_adds_changes_lists_and_deletes_warehouses(api):
    main = add_warehouse(api, "MAD", "Madrid", address="Calle Mayor 1\nMadrid")
    assert main["active"] is True and main["address"] == "Calle Mayor 1\nMadrid"
    add_warehouse(api, "BCN", "Barcelona", active=False)
    listed = api.get("/warehouses").json()
    assert [w["code"] for w in listed["items"]] == ["BCN", "MAD"] and listed["total"] == 2
    assert [w["code"] for w in api.get("/warehouses", params={"active": "true"}).json()["items"]] == ["MAD"]

    changed = api.patch(f"/warehouses/{main['id']}", json={"name": "Madrid centro"})
    assert changed.status_code == 200
    assert changed.json() | {"name": "Madrid"} == main
    assert api.get(f"/warehouses/{main['id']}").json()["name"] == "Madrid centro"

    assert api.delete(f"/warehouses/{main['id']}").status_code == 204
    assert api.get(f"/warehouses/{main['id']}").status_code == 404
    assert [w["code"] for w in api.get("/warehouses").json()["items"]] == ["BCN"]


def test_bad_input_is_refused_naming_the_field(api):
    add_warehouse(api, "MAD")
    for body, field in [({"name": "No code"}, "code"), ({"code": "MAD", "name": "Again"}, "code"),
                        ({"code": "a b", "name": "Spaces"}, "code"), ({"code": "X" * 21, "name": "Long"}, "code"),
                        ({"code": "NEW", "name": "  "}, "name"), ({"code": "NEW"}, "name"),
                        ({"code": "NEW", "name": "N", "active": "maybe"}, "active")]:
        response = api.post("/warehouses", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["error"]["fields"], (body, response.json())
    assert [w["code"] for w in api.get("/warehouses").json()["items"]] == ["MAD"]
    other = add_warehouse(api, "BCN")
    response = api.patch(f"/warehouses/{other['id']}", json={"code": "MAD"})
    assert response.status_code == 422 and "code" in response.json()["error"]["fields"]
    assert api.get(f"/warehouses/{other['id']}").json()["code"] == "BCN"
    assert api.get("/warehouses/999").status_code == 404


def test_the_teams_read_and_only_the_admin_writes(api, api_as):
    made = add_warehouse(api, "MAD")
    for role in ("warehouse", "purchasing", "sales"):
        client = api_as(role)
        assert client.get("/warehouses").status_code == 200
        assert client.get(f"/warehouses/{made['id']}").status_code == 200
        assert client.post("/warehouses", json={"code": "X", "name": "X"}).status_code == 403
        assert client.patch(f"/warehouses/{made['id']}", json={"name": "X"}).status_code == 403
        assert client.delete(f"/warehouses/{made['id']}").status_code == 403
    assert api_as("accounting").get("/warehouses").status_code == 403
    assert api.anonymous().get("/warehouses").status_code == 401
    assert api.get(f"/warehouses/{made['id']}").json()["name"] == "Warehouse MAD"


def test_the_admin_pages_add_and_edit_a_warehouse(app, api, make_user):
    client = signed_in(app.test_client(), make_user("admin"))
    page = client.get("/warehouses/new")
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    response = client.post("/warehouses/new", data={"code": "MAD", "name": "Madrid", "address": "Calle Mayor 1",
                                                    "active": "1"})
    assert response.status_code == 302
    made = api.get("/warehouses").json()["items"][0]
    assert (made["code"], made["name"], made["address"], made["active"]) == ("MAD", "Madrid", "Calle Mayor 1", True)

    refused = client.post("/warehouses/new", data={"code": "MAD", "name": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "another warehouse has the code MAD" in html and "give a name" in html

    response = client.post(f"/warehouses/{made['id']}/edit", data={"code": "MAD", "name": "Madrid centro",
                                                                   "address": ""})
    assert response.status_code == 302
    assert api.get(f"/warehouses/{made['id']}").json() | {"name": "Madrid", "address": "Calle Mayor 1",
                                                          "active": True} == made
    listing = client.get("/warehouses/").get_data(as_text=True)
    assert "Madrid centro" in listing and "New warehouse" in listing


def test_the_pages_in_spanish_and_for_the_other_roles(app, api, make_user):
    add_warehouse(api, "MAD", "Madrid")
    client = signed_in(app.test_client(), make_user("sales", language="es"))
    html = client.get("/warehouses/").get_data(as_text=True)
    assert "<h1>Almacenes</h1>" in html and "Madrid" in html and "Nuevo almacén" not in html
    assert ">Almacenes</a>" in client.get("/").get_data(as_text=True)
    assert client.get("/warehouses/new").status_code == 403
    accounting = signed_in(app.test_client(), make_user("accounting"))
    assert accounting.get("/warehouses/").status_code == 403
    assert ">Warehouses</a>" not in accounting.get("/").get_data(as_text=True)


def test_the_forms_need_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("admin")
    login = client.get("/login").get_data(as_text=True)
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    from crm.testing import TEST_PASSWORD
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    assert client.post("/warehouses/new", data={"code": "MAD", "name": "Madrid"}).status_code == 400
    form = client.get("/warehouses/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/warehouses/new", data={"code": "MAD", "name": "Madrid", "csrf_token": token}).status_code == 302
