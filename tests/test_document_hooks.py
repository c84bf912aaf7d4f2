"""The document hooks: plugins validate, watch status changes and add fields."""
from __future__ import annotations

from crm import hookimpl
from crm.errors import ValidationError
from crm.testing import registered_plugin
from tests.test_documents import quote_body


class DocumentWatcher:
    def __init__(self):
        self.changes = []

    @hookimpl
    def crm_document_validate(self, session, document, data):
        if document.subject == "forbidden":
            raise ValidationError.for_field("subject", "this subject is not allowed here")

    @hookimpl
    def crm_document_status_changed(self, session, document, old_status, new_status):
        self.changes.append((document.number, old_status, new_status))

    @hookimpl
    def crm_document_serialize(self, document, data):
        data["watched"] = f"{document.number} is {document.status}"


def test_plugins_validate_watch_and_extend_documents(app, api, catalog):
    watcher = DocumentWatcher()
    with registered_plugin(app, watcher, "watcher"):
        refused = api.post("/quotes", json=quote_body(catalog, subject="forbidden"))
        assert refused.status_code == 422 and "subject" in refused.json()["error"]["fields"]
        assert api.get("/quotes").json()["total"] == 0
        quote = api.post("/quotes", json=quote_body(catalog)).json()
        assert quote["watched"] == "QUO-0001 is Created"
        accepted = api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"}).json()
        assert accepted["watched"] == "QUO-0001 is Accepted"
        assert watcher.changes == [("QUO-0001", "Created", "Accepted")]
    assert "watched" not in api.get(f"/quotes/{quote['id']}").json()
