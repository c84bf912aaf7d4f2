"""Mass actions on a list's rows (crm.services.mass_actions, the lists' "Actions on several
records"): edit a field, change status, delete, assign; on the rows ticked or every row the
list's filter matches; allowed by the role's right to write the list's records; all or nothing,
each refused record named with its reason; in the audit trail."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.context import acting_as
from crm.errors import PermissionDenied
from crm.models import Account, AuditEntry, Contact, Item
from crm.services import accounts, documents, mass_actions
from crm.services.mass_actions import MassActionRefused, MassTarget
from crm.web.master import ACCOUNTS, PRODUCTS
from tests.test_web_pages import html_of, sign_in


def _user(session, user):
    """``user`` in ``session``, its transaction ended (an open one would lock SQLite for the others)."""
    from crm.models import User
    found = session.get(User, user.id)
    session.commit()
    return found


def _accounts(session, *names, **values):
    made = [Account(name=name, **values) for name in names]
    session.add_all(made)
    session.commit()
    return made


TARGET = MassTarget("accounts", "accounts", lambda a: a.name, update=accounts.update_account,
                    delete=accounts.delete_account, assignable=True)


def test_a_mass_edit_changes_every_record_and_is_audited(session, make_user):
    admin = _user(session, make_user("admin"))
    made = _accounts(session, "A", "B", "C")
    with acting_as(admin):
        result = mass_actions.run(session, admin, TARGET, made, "edit", data={"active": False})
        session.commit()
    assert result.count == 3
    assert session.scalars(select(Account.active)).all() == [False, False, False]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "accounts")).all()
    assert sum(1 for a in audit if a.action == "update") == 3
    summary = [a for a in audit if a.action == "mass_edit"]
    assert len(summary) == 1 and summary[0].changes["ids"] == [a.id for a in made]
    assert summary[0].user_id == admin.id


def test_a_mass_delete_is_refused_whole_naming_each_record_in_use(session, make_user):
    admin = _user(session, make_user("admin"))
    free, used, also_used = _accounts(session, "Free Co", "Used Co", "Also Used")
    session.add_all([Contact(last_name="Ana", account_id=used.id), Contact(last_name="Bea", account_id=also_used.id)])
    session.commit()
    with pytest.raises(MassActionRefused) as refused:
        mass_actions.run(session, admin, TARGET, [free, used, also_used], "delete")
    session.rollback()
    lines = refused.value.fields["records"]
    assert len(lines) == 2 and lines[0].startswith("Used Co: ") and lines[1].startswith("Also Used: ")
    assert "contacts" in lines[0]
    # all or nothing: the free one is still there
    assert sorted(session.scalars(select(Account.name))) == ["Also Used", "Free Co", "Used Co"]
    assert session.scalars(select(AuditEntry).where(AuditEntry.action.like("mass_%"))).all() == []


def test_a_mass_action_needs_the_right_to_write_the_records(session, make_user):
    warehouse = _user(session, make_user("warehouse"))
    made = _accounts(session, "A")
    with pytest.raises(PermissionDenied):
        mass_actions.run(session, warehouse, TARGET, made, "delete")
    session.rollback()
    assert session.scalar(select(Account.name)) == "A"


def test_assign_sets_the_user_responsible_and_refuses_an_inactive_one(session, make_user):
    admin = _user(session, make_user("admin"))
    seller = _user(session, make_user("sales"))
    gone = _user(session, make_user("sales"))
    gone.active = False
    session.commit()
    made = _accounts(session, "A", "B")
    with pytest.raises(mass_actions.ValidationError):
        mass_actions.run(session, admin, TARGET, made, "assign", assign_to=gone.id)
    session.rollback()
    mass_actions.run(session, admin, TARGET, made, "assign", assign_to=seller.id)
    session.commit()
    assert set(session.scalars(select(Account.assigned_user_id))) == {seller.id}


def test_a_mass_status_change_follows_the_status_rules_all_or_nothing(session, make_user, catalog):
    admin = _user(session, make_user("admin"))
    with acting_as(admin):
        quotes = [documents.create_document(session, "quote", {
            "account_id": catalog.account, "subject": f"Q{n}",
            "lines": [{"item_id": catalog.widget, "quantity": Decimal("1")}]}) for n in range(3)]
        session.commit()
        documents.change_status(session, quotes[2], "Rejected")
        session.commit()
    target = MassTarget("quotes", "quotes", lambda d: d.number,
                        change_status=lambda s, d, status: documents.change_status(s, d, status))
    with pytest.raises(MassActionRefused) as refused:
        mass_actions.run(session, admin, target, quotes, "status", status="Accepted")
    session.rollback()
    assert [line.split(":")[0] for line in refused.value.fields["records"]] == [quotes[2].number]
    session.expire_all()
    assert [session.get(type(q), q.id).status for q in quotes] == ["Created", "Created", "Rejected"]
    mass_actions.run(session, admin, target, quotes[:2], "status", status="Delivered")
    session.commit()
    session.expire_all()
    assert [session.get(type(q), q.id).status for q in quotes] == ["Delivered", "Delivered", "Rejected"]


# --- the pages ------------------------------------------------------------------------------------

def test_the_list_page_edits_the_rows_ticked(app, make_user, session):
    made = _accounts(session, "A", "B", "C")
    client = sign_in(app, make_user, "sales")
    html = html_of(client.get("/accounts/"))
    assert 'id="mass-form"' in html and "data-select-all" in html
    response = client.post("/accounts/mass", data={"scope": "selected", "ids": [made[0].id, made[2].id],
                                                   "action": "edit", "field": "active", "value.active": "0"})
    assert response.status_code == 302
    session.expire_all()
    assert [a.active for a in session.scalars(select(Account).order_by(Account.id))] == [False, True, False]


def test_the_list_page_acts_on_every_row_its_filter_matches(app, make_user, session):
    _accounts(session, "Madrid one", "Madrid two", "Bilbao")
    client = sign_in(app, make_user, "admin")
    seller = make_user("sales")
    response = client.post("/accounts/mass?q=Madrid", data={"scope": "all", "action": "assign",
                                                            "user_id": str(seller.id)})
    assert response.status_code == 302 and "q=Madrid" in response.location
    session.expire_all()
    assigned = {a.name: a.assigned_user_id for a in session.scalars(select(Account))}
    assert assigned == {"Madrid one": seller.id, "Madrid two": seller.id, "Bilbao": None}
    session.commit()
    # the list filters and shows who it is assigned to
    html = html_of(client.get(f"/accounts/?assigned_user_id={seller.id}"))
    assert "Madrid one" in html and "Bilbao" not in html


def test_the_list_page_refuses_a_delete_of_records_in_use_and_says_which(app, make_user, session, catalog):
    client = sign_in(app, make_user, "purchasing")
    ids = [catalog.widget, catalog.gadget]   # the widget and gadget are components of the kit
    response = client.post("/products/mass", data={"scope": "selected", "ids": ids, "action": "delete"},
                           follow_redirects=True)
    html = html_of(response)
    assert "Nothing was changed" in html and "Widget" in html and "Gadget" in html
    session.expire_all()
    assert session.get(Item, catalog.widget) is not None and session.get(Item, catalog.gadget) is not None


def test_a_mass_edit_refuses_a_bad_value_naming_the_field(app, make_user, session, catalog):
    client = sign_in(app, make_user, "purchasing")
    response = client.post("/products/mass", data={"scope": "selected", "ids": [catalog.widget], "action": "edit",
                                                   "field": "unit_price", "value.unit_price": "abc"},
                           follow_redirects=True)
    assert "unit_price" in html_of(response) or "Unit price" in html_of(response)
    session.expire_all()
    assert session.get(Item, catalog.widget).unit_price == Decimal("19.99")
    session.commit()
    response = client.post("/products/mass", data={"scope": "selected", "ids": [catalog.widget], "action": "edit",
                                                   "field": "name", "value.name": "X"}, follow_redirects=True)
    assert "choose one of the fields offered" in html_of(response)
    session.expire_all()
    assert session.get(Item, catalog.widget).name == "Widget"


def test_a_role_that_may_not_write_gets_no_mass_actions_and_is_refused(app, make_user, session):
    made = _accounts(session, "A")
    client = sign_in(app, make_user, "warehouse")
    assert 'id="mass-form"' not in html_of(client.get("/accounts/"))
    response = client.post("/accounts/mass", data={"scope": "selected", "ids": [made[0].id], "action": "delete"})
    assert response.status_code == 403
    assert session.scalar(select(Account.name)) == "A"


def test_every_mass_field_of_the_lists_is_a_field_of_their_form():
    for resource in (ACCOUNTS, PRODUCTS):
        names = {f.name for f in resource.fields}
        assert set(resource.mass_fields) <= names


def test_the_quotes_list_changes_status_and_assigns_through_the_documents_rules(app, make_user, session, catalog):
    admin = _user(session, make_user("admin"))
    with acting_as(admin):
        quotes = [documents.create_document(session, "quote", {
            "account_id": catalog.account, "subject": f"Q{n}",
            "lines": [{"item_id": catalog.widget, "quantity": Decimal("1")}]}) for n in range(2)]
        session.commit()
        documents.change_status(session, quotes[1], "Rejected")
        session.commit()
    numbers = [q.number for q in quotes]
    client = sign_in(app, make_user, "sales")
    html = html_of(client.get("/quotes/"))
    assert 'name="status"' in html and 'value="assign"' in html
    client.post("/quotes/mass", data={"scope": "all", "action": "assign", "user_id": str(admin.id)})
    html = html_of(client.get(f"/quotes/?assigned_user_id={admin.id}&columns=number,assigned_to"))
    assert re.findall(r'data-column="([^"]+)"', html) == ["number", "assigned_to"]
    assert numbers[0] in html and numbers[1] in html
    # a rejected quote cannot be accepted: refused whole, the other one unchanged too
    response = client.post("/quotes/mass", data={"scope": "all", "action": "status", "status": "Accepted"},
                           follow_redirects=True)
    html = html_of(response)
    assert "Nothing was changed: 1 of 2" in html and numbers[1] in html
    response = client.post("/quotes/mass", data={"scope": "selected", "ids": [quotes[0].id], "action": "status",
                                                 "status": "Delivered"})
    assert response.status_code == 302
    session.expire_all()
    found = [session.get(type(q), q.id) for q in quotes]
    assert [q.status for q in found] == ["Delivered", "Rejected"]
    assert {q.assigned_user_id for q in found} == {admin.id}
    assert found[0].history[-1].to_status == "Delivered"
    session.commit()
