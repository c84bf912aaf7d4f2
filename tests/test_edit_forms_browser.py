"""Edit forms in a real browser (Playwright on Debian's chromium, the ``page`` fixture): a
product's edit page shows its taxes ticked and saving it unchanged keeps them (the next quote
line still has its VAT); a new custom field is not required unless ticked; a blank new quote
shows no error until it is submitted."""
from __future__ import annotations

import pytest

from crm.testing import sign_in

pytestmark = pytest.mark.crm_plugins("hello")


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def test_saving_a_product_unchanged_keeps_its_taxes(page, api, make_user):
    iva = created(api.post("/taxes", json={"name": "IVA 21%", "rate": "21"}))["id"]
    created(api.post("/taxes", json={"name": "IVA 10%", "rate": "10"}))
    recargo = created(api.post("/taxes", json={"name": "Recargo 5.2%", "rate": "5.2"}))["id"]
    product = created(api.post("/products", json={"name": "Widget", "sku": "W-1", "unit_price": "100",
                                                  "tax_ids": [iva, recargo]}))["id"]
    account = created(api.post("/accounts", json={"name": "Ferretería López"}))["id"]
    sign_in(page, make_user("admin"))

    def ticked() -> set[int]:
        boxes = page.locator('input[type=checkbox][name="tax_ids"]')
        return {int(boxes.nth(i).get_attribute("value")) for i in range(boxes.count()) if boxes.nth(i).is_checked()}

    page.goto(f"/products/{product}/edit")
    assert page.get_by_label("IVA 21% (21 %)").is_checked() and page.get_by_label("Recargo 5.2% (5.2 %)").is_checked()
    assert ticked() == {iva, recargo}
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.url.endswith(f"/products/{product}")
    assert "Widget was saved." in page.locator(".flash").first.inner_text()
    page.goto(f"/products/{product}/edit")
    assert ticked() == {iva, recargo}
    assert api.get(f"/products/{product}").json()["tax_ids"] == [iva, recargo]
    quote = created(api.post("/quotes", json={"account_id": account, "lines": [{"item_id": product, "quantity": "1"}]}))
    assert quote["lines"][0]["tax_ids"] == [iva, recargo] and quote["lines"][0]["tax"] == "26.20"


def test_a_new_custom_field_starts_not_required_and_a_required_choice_starts_empty(page, api, make_user):
    account = created(api.post("/accounts", json={"name": "Ferretería López"}))["id"]
    created(api.post("/custom-fields", json={"entity": "accounts", "key": "tier", "label": "Tier", "type": "select",
                                             "choices": ["gold", "silver"], "required": True}))
    sign_in(page, make_user("admin"))
    page.goto("/custom-fields/new")
    assert not page.get_by_label("Required").is_checked() and page.get_by_label("Active").is_checked()
    page.goto(f"/accounts/{account}/edit")
    assert page.get_by_label("Tier").input_value() == ""      # not silently the first choice
    page.get_by_role("button", name="Save").click()
    assert page.locator(".flash.error").inner_text().startswith("Tier: is required")
    assert api.get(f"/accounts/{account}").json()["custom"] == {}


def test_a_blank_new_quote_shows_no_error_until_it_is_submitted(page, api, make_user):
    created(api.post("/accounts", json={"name": "Ferretería López"}))
    sign_in(page, make_user("sales"))
    with page.expect_response(lambda r: r.url.endswith("/quotes/preview")):   # the editor's first preview
        page.goto("/quotes/new")
    page.wait_for_load_state("networkidle")
    assert page.locator(".flash.error, .field-error, [aria-invalid=true]").count() == 0
    assert "is required" not in page.locator("main").inner_text()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "is required" in page.locator(".flash.error").inner_text()
