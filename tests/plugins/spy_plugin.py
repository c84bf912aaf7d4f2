"""A test plugin that implements every hook of ``crm.hookspecs`` (like datasette's
``tests/plugins/my_plugin.py``).

Each implementation takes exactly the arguments of its spec, records the call in
``spy.calls`` and returns what the test asked for through ``answers``::

    spy = SpyPlugin(crm_menu_items=lambda user: [MenuItem("Spy", "/spy")])
    with registered_plugin(app, spy, "spy"):
        ...
    assert spy.calls_of("crm_menu_items")[0]["user"].username == "sam"

An answer that is callable is called with the hook's arguments; anything else is
returned as it is; a hook without an answer returns None (pluggy then ignores it).

``tests/test_hook_contract.py`` checks that this plugin implements every hook
with the spec's exact arguments, so a new hook spec has to be added here too.
Implementing a hook here is not a test of it: see ``test_hook_contract.py``.
"""
from __future__ import annotations

from crm import hookimpl


class SpyPlugin:
    def __init__(self, **answers):
        self.calls: list[tuple[str, dict]] = []
        self.answers = answers

    def calls_of(self, hook_name: str) -> list[dict]:
        """The arguments of every call of ``hook_name``, oldest first."""
        return [kwargs for name, kwargs in self.calls if name == hook_name]

    def _record(self, hook_name: str, **kwargs):
        self.calls.append((hook_name, kwargs))
        answer = self.answers.get(hook_name)
        return answer(**kwargs) if callable(answer) else answer

    # --- application ----------------------------------------------------------

    @hookimpl
    def crm_startup(self, app):
        return self._record("crm_startup", app=app)

    @hookimpl
    def crm_api_blueprints(self):
        return self._record("crm_api_blueprints")

    @hookimpl
    def crm_web_blueprints(self):
        return self._record("crm_web_blueprints")

    @hookimpl
    def crm_demo_data(self, session):
        return self._record("crm_demo_data", session=session)

    @hookimpl
    def crm_register_commands(self, cli):
        return self._record("crm_register_commands", cli=cli)

    # --- lines and totals -----------------------------------------------------

    @hookimpl
    def crm_line_columns(self, doc_type, session, document):
        return self._record("crm_line_columns", doc_type=doc_type, session=session, document=document)

    @hookimpl
    def crm_builtin_line_columns(self, doc_type, session, document):
        return self._record("crm_builtin_line_columns", doc_type=doc_type, session=session, document=document)

    @hookimpl
    def crm_line_custom_keys(self, doc_type, session, document):
        return self._record("crm_line_custom_keys", doc_type=doc_type, session=session, document=document)

    @hookimpl
    def crm_extra_totals(self, doc_type, session, document):
        return self._record("crm_extra_totals", doc_type=doc_type, session=session, document=document)

    @hookimpl
    def crm_totals_stage(self, stage, computation, document, session):
        return self._record("crm_totals_stage", stage=stage, computation=computation,
                            document=document, session=session)

    # --- items ----------------------------------------------------------------

    @hookimpl
    def crm_search_items(self, session, q, kind, limit):
        return self._record("crm_search_items", session=session, q=q, kind=kind, limit=limit)

    # --- documents and records ------------------------------------------------

    @hookimpl
    def crm_record_saved(self, session, entity, record, created):
        return self._record("crm_record_saved", session=session, entity=entity, record=record,
                            created=created)

    @hookimpl
    def crm_records_saved(self, session, entity, record_ids, created):
        return self._record("crm_records_saved", session=session, entity=entity, record_ids=record_ids,
                            created=created)

    @hookimpl
    def crm_record_deleted(self, session, entity, record_id):
        return self._record("crm_record_deleted", session=session, entity=entity, record_id=record_id)

    @hookimpl
    def crm_timeline_events(self, session, entity, record_id):
        return self._record("crm_timeline_events", session=session, entity=entity, record_id=record_id)

    @hookimpl
    def crm_document_validate(self, session, document, data):
        return self._record("crm_document_validate", session=session, document=document, data=data)

    @hookimpl
    def crm_document_status_changed(self, session, document, old_status, new_status):
        return self._record("crm_document_status_changed", session=session, document=document,
                            old_status=old_status, new_status=new_status)

    @hookimpl
    def crm_document_serialize(self, document, data):
        return self._record("crm_document_serialize", document=document, data=data)

    # --- stock ------------------------------------------------------------------

    @hookimpl
    def crm_stock_moved(self, session, moves):
        return self._record("crm_stock_moved", session=session, moves=moves)

    @hookimpl
    def crm_receipt_recorded(self, session, order, lines, moves):
        return self._record("crm_receipt_recorded", session=session, order=order, lines=lines, moves=moves)

    @hookimpl
    def crm_shipment_recorded(self, session, order, lines, moves):
        return self._record("crm_shipment_recorded", session=session, order=order, lines=lines, moves=moves)

    @hookimpl
    def crm_stock_adjusted(self, session, move):
        return self._record("crm_stock_adjusted", session=session, move=move)

    @hookimpl
    def crm_stock_location(self, session, purpose, document, line, product_id, quantity):
        return self._record("crm_stock_location", session=session, purpose=purpose, document=document, line=line,
                            product_id=product_id, quantity=quantity)

    @hookimpl
    def crm_stock_available(self, session, product_ids):
        return self._record("crm_stock_available", session=session, product_ids=product_ids)

    @hookimpl
    def crm_stock_location_choices(self, session, user):
        return self._record("crm_stock_location_choices", session=session, user=user)

    # --- invoices and payments ------------------------------------------------

    @hookimpl
    def crm_invoice_received(self, session, invoice):
        return self._record("crm_invoice_received", session=session, invoice=invoice)

    @hookimpl
    def crm_payment_event(self, session, event, payment, invoice):
        return self._record("crm_payment_event", session=session, event=event, payment=payment,
                            invoice=invoice)

    @hookimpl
    def crm_invoice_paid(self, session, invoice):
        return self._record("crm_invoice_paid", session=session, invoice=invoice)

    # --- user interface -------------------------------------------------------

    @hookimpl
    def crm_menu_items(self, user):
        return self._record("crm_menu_items", user=user)

    @hookimpl
    def crm_template_slot(self, slot, context):
        return self._record("crm_template_slot", slot=slot, context=context)

    @hookimpl
    def crm_settings_pages(self):
        return self._record("crm_settings_pages")

    @hookimpl
    def crm_search_kinds(self):
        return self._record("crm_search_kinds")

    # --- jobs -----------------------------------------------------------------

    @hookimpl
    def crm_scheduled_jobs(self):
        return self._record("crm_scheduled_jobs")

    # --- workflows ------------------------------------------------------------

    @hookimpl
    def crm_workflow_triggers(self):
        return self._record("crm_workflow_triggers")

    @hookimpl
    def crm_workflow_actions(self):
        return self._record("crm_workflow_actions")

    # --- PDF ------------------------------------------------------------------

    @hookimpl
    def crm_pdf_context(self, session, document, context):
        return self._record("crm_pdf_context", session=session, document=document, context=context)

    # --- accounting -----------------------------------------------------------

    @hookimpl
    def crm_accounting_connectors(self):
        return self._record("crm_accounting_connectors")

    @hookimpl
    def crm_accounting_entities(self):
        return self._record("crm_accounting_entities")
