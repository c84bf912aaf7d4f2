"""Taxes through the API: the pattern every master-data resource follows."""


def test_create_list_patch_delete_tax(api):
    r = api.post("/taxes", json={"name": "IVA 21%", "rate": "21"})
    assert r.status_code == 201, r.text
    tax = r.json()
    assert tax["rate"] == "21" and tax["applies_to"] == "items" and tax["version"] == 1
    listed = api.get("/taxes?q=iva").json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "IVA 21%"
    r = api.patch(f"/taxes/{tax['id']}", json={"rate": 21.5, "version": 1})
    assert r.status_code == 200 and r.json()["rate"] == "21.5" and r.json()["version"] == 2
    stale = api.patch(f"/taxes/{tax['id']}", json={"rate": "10", "version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    assert api.get(f"/taxes/{tax['id']}").json()["rate"] == "21.5"
    assert api.delete(f"/taxes/{tax['id']}").status_code == 204
    assert api.get(f"/taxes/{tax['id']}").status_code == 404


def test_bad_tax_input_names_the_field_and_changes_nothing(api):
    cases = [
        ({"name": "X"}, "rate"),
        ({"name": "X", "rate": "abc"}, "rate"),
        ({"name": "X", "rate": "-1"}, "rate"),
        ({"name": "X", "rate": "101"}, "rate"),
        ({"name": "X" * 500, "rate": "1"}, "name"),
        ({"name": "X", "rate": "1", "applies_to": "cars"}, "applies_to"),
        ({"name": "X", "rate": "1", "colour": "red"}, "colour"),
        ({"name": 5, "rate": "1"}, "name"),
    ]
    for body, field in cases:
        r = api.post("/taxes", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    assert api.get("/taxes").json()["total"] == 0


def test_tax_roles(api_as):
    sales = api_as("sales")
    assert sales.get("/taxes").status_code == 200
    assert sales.post("/taxes", json={"name": "T", "rate": "1"}).status_code == 403
    assert api_as("accounting").post("/taxes", json={"name": "T", "rate": "1"}).status_code == 201


def test_unknown_sort_is_a_422(api):
    r = api.get("/taxes?sort=colour")
    assert r.status_code == 422 and "sort" in r.json()["error"]["fields"]
