"""The payments plugin's endpoints.

``/api/v1/payments/...`` (blueprint ``payments_api``): payments, statuses, methods,
credits, summary. ``/api/v1/invoices/<id>/...`` (blueprint ``payments_invoices_api``):
an invoice's payments, calculator and schedule (paths fixed by the API contract).
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import ValidationError as SchemaError, fields, validate

from crm.api.collection import paginate
from crm.api.fields import MAX_ID, Date, IdField, Integer, MoneyField, PercentField, Text
from crm.api.idempotency import create_once
from crm.api.schemas import Blueprint, ListArgs, ListOf, Schema, shared
from crm.db import db
from crm.errors import ValidationError
from crm.permissions import require
from crm_payments import services
from crm_payments.models import INTERVALS, Credit, Payment, PaymentMethod, PaymentStatus
from crm_payments.permissions import PAYMENTS

blp = Blueprint("payments_api", __name__, url_prefix="/api/v1/payments",
                description="Payments: statuses, types, credit, summary (payments plugin)")
invoices_blp = Blueprint("payments_invoices_api", __name__, url_prefix="/api/v1/invoices",
                         description="Payments of an invoice, calculator and schedule (payments plugin)")

IDEMPOTENCY_DOC = [{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}, "required": False,
                    "description": "repeat the creation safely: the same key and body return the first result"}]


class NameOrId(fields.Field):
    """A status or method given by name (``"Paid"``) or by id (``3``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise SchemaError(_("give a name or an id"))
        if isinstance(value, str) and len(value) > 60:
            raise SchemaError(_("at most 60 characters"))
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise SchemaError(_("not a valid id"))
        return value


# --- statuses and methods ------------------------------------------------------------------------

class PaymentsStatusSchema(Schema):
    class Meta:
        name = "PaymentsStatus"

    id = fields.Integer(dump_only=True)
    name = Text(60, required=True)
    counts_as_received = fields.Boolean(load_default=False,
                                        metadata={"description": "payments in it add to the invoice's received"})
    is_refund = fields.Boolean(load_default=False, metadata={"description": "subtracts from received (counts too)"})
    is_scheduled = fields.Boolean(load_default=False, metadata={"description": "an installment not paid yet"})
    is_failure = fields.Boolean(load_default=False,
                                metadata={"description": "a failed payment: never counts; announced as failed"})
    position = Integer(load_default=None, validate=validate.Range(min=0, max=10000))
    active = fields.Boolean(load_default=True)
    code = fields.String(dump_only=True, allow_none=True,
                         metadata={"description": "set on built-in rows (credit, failed); null on the others"})


class PaymentsStatusPatchSchema(PaymentsStatusSchema):
    class Meta:
        name = "PaymentsStatusPatch"


class PaymentsMethodSchema(Schema):
    class Meta:
        name = "PaymentsMethod"

    id = fields.Integer(dump_only=True)
    name = Text(60, required=True)
    position = Integer(load_default=None, validate=validate.Range(min=0, max=10000))
    active = fields.Boolean(load_default=True)
    code = fields.String(dump_only=True, allow_none=True,
                         metadata={"description": "set on built-in rows (credit); null on the others"})


class PaymentsMethodPatchSchema(PaymentsMethodSchema):
    class Meta:
        name = "PaymentsMethodPatch"


def _all(model):
    items = list(db.session.scalars(services.ordered(model)))
    return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


@blp.route("/statuses")
class Statuses(MethodView):
    @require(PAYMENTS)
    @blp.response(200, ListOf(PaymentsStatusSchema, "PaymentsStatusList"))
    def get(self):
        """Payment statuses and whether each counts as received, is a refund, is scheduled, is a failure."""
        return _all(PaymentStatus)

    @require("settings", "write")
    @blp.arguments(PaymentsStatusSchema)
    @blp.response(201, PaymentsStatusSchema)
    def post(self, body):
        """Add a status (admin). A refund status must count as received; a scheduled or failure one must not."""
        with db.transaction() as session:
            return services.create_status(session, body)


@blp.route("/statuses/<int:status_id>")
class StatusById(MethodView):
    @require(PAYMENTS)
    @blp.response(200, PaymentsStatusSchema)
    def get(self, status_id):
        """One status."""
        return services.get_status(db.session, status_id)

    @require("settings", "write")
    @blp.arguments(PaymentsStatusPatchSchema(partial=True))
    @blp.response(200, PaymentsStatusSchema)
    def patch(self, body, status_id):
        """Rename, reorder, (de)activate; the flags only while no payment uses the status (409)."""
        with db.transaction() as session:
            return services.update_status(session, services.get_status(session, status_id), _sent(body))

    @require("settings", "write")
    @blp.response(204)
    def delete(self, status_id):
        """Delete a status no payment uses (409 otherwise: deactivate it)."""
        with db.transaction() as session:
            services.delete_status(session, services.get_status(session, status_id))


@blp.route("/methods")
class Methods(MethodView):
    @require(PAYMENTS)
    @blp.response(200, ListOf(PaymentsMethodSchema, "PaymentsMethodList"))
    def get(self):
        """Payment types (methods)."""
        return _all(PaymentMethod)

    @require("settings", "write")
    @blp.arguments(PaymentsMethodSchema)
    @blp.response(201, PaymentsMethodSchema)
    def post(self, body):
        """Add a payment type (admin)."""
        with db.transaction() as session:
            return services.create_method(session, body)


@blp.route("/methods/<int:method_id>")
class MethodById(MethodView):
    @require(PAYMENTS)
    @blp.response(200, PaymentsMethodSchema)
    def get(self, method_id):
        """One payment type."""
        return services.get_method(db.session, method_id)

    @require("settings", "write")
    @blp.arguments(PaymentsMethodPatchSchema(partial=True))
    @blp.response(200, PaymentsMethodSchema)
    def patch(self, body, method_id):
        """Rename, reorder, (de)activate a payment type."""
        with db.transaction() as session:
            return services.update_method(session, services.get_method(session, method_id), _sent(body))

    @require("settings", "write")
    @blp.response(204)
    def delete(self, method_id):
        """Delete a payment type no payment uses (409 otherwise: deactivate it)."""
        with db.transaction() as session:
            services.delete_method(session, services.get_method(session, method_id))


def _sent(body: dict) -> dict:
    """Only the keys the client sent (partial schemas fill load_default values)."""
    raw = request.get_json(silent=True) or {}
    return {k: v for k, v in body.items() if k in raw}


# --- payments -------------------------------------------------------------------------------------

class PaymentsCreditRefSchema(Schema):
    class Meta:
        name = "PaymentsCreditRef"

    id = fields.Integer()
    amount = MoneyField()
    remaining = MoneyField()


class PaymentsPaymentSchema(Schema):
    class Meta:
        name = "PaymentsPayment"

    id = fields.Integer()
    invoice_id = fields.Integer()
    invoice_number = fields.Function(lambda p: p.invoice.number)
    account_id = fields.Function(lambda p: p.invoice.account_id)
    currency = fields.Function(lambda p: p.invoice.currency)
    amount = MoneyField(metadata={"description": "the amount applied to the invoice"})
    date = Date()
    method = fields.Function(lambda p: p.method.name if p.method else None)
    method_id = fields.Integer(allow_none=True)
    status = fields.Function(lambda p: p.status.name)
    status_id = fields.Integer()
    counts_as_received = fields.Function(lambda p: p.status.counts_as_received)
    is_refund = fields.Function(lambda p: p.status.is_refund)
    is_scheduled = fields.Function(lambda p: p.status.is_scheduled)
    is_failure = fields.Function(lambda p: p.status.is_failure)
    overdue = fields.Function(lambda p: services.is_overdue(p),
                              metadata={"description": "scheduled and its date has passed"})
    overdue_since = Date(allow_none=True, metadata={"description": "when the overdue job noticed it"})
    reference = fields.String()
    note = fields.String()
    schedule_id = fields.Integer(allow_none=True)
    credit_created = fields.Function(
        lambda p: shared(PaymentsCreditRefSchema).dump(p.credits_created[0]) if p.credits_created else None,
        metadata={"description": "customer credit made from the excess of this payment"})
    credit_applied_id = fields.Function(lambda p: p.applications[0].credit_id if p.applications else None,
                                        metadata={"description": "the customer credit this payment used"})
    created_by_id = fields.Integer(allow_none=True)
    created_by = fields.Function(lambda p: p.created_by.username if p.created_by else None)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class PaymentsPaymentInSchema(Schema):
    class Meta:
        name = "PaymentsPaymentIn"

    amount = MoneyField(required=True, metadata={"description": "more than 0, at the currency's precision"})
    date = Date(load_default=None, metadata={"description": "default: today"})
    method = NameOrId(load_default=None, allow_none=True, metadata={"description": "a payment type: name or id"})
    status = NameOrId(load_default=None, allow_none=True,
                      metadata={"description": "name or id; default: the first active status counting as received"})
    reference = Text(100)
    note = Text(2000)
    excess_as_credit = fields.Boolean(load_default=False, metadata={
        "description": "an amount above the balance pays the balance; the rest becomes customer credit"})


class PaymentsPaymentPatchSchema(Schema):
    class Meta:
        name = "PaymentsPaymentPatch"

    amount = MoneyField()
    date = Date()
    method = NameOrId(allow_none=True)
    status = NameOrId()
    reference = fields.String(validate=validate.Length(max=100))
    note = fields.String(validate=validate.Length(max=2000))
    excess_as_credit = fields.Boolean()
    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


class PaymentsListArgs(ListArgs):
    class Meta:
        name = "PaymentsListArgs"
        unknown = "exclude"

    invoice_id = IdField()
    account_id = IdField()
    status = NameOrId()
    method = NameOrId()
    overdue = fields.Boolean(metadata={"description": "scheduled payments past their date"})
    scheduled = fields.Boolean()
    counted = fields.Boolean(metadata={"description": "statuses that count as received (refunds too)"})
    date_from = Date(data_key="from")
    date_to = Date(data_key="to")


PAYMENT_SORT = {"date": Payment.date, "amount": Payment.amount, "created_at": Payment.created_at,
                "id": Payment.id}


def _list_payments(args: dict, invoice_id: int | None = None):
    session = db.session
    filters = dict(args)
    if invoice_id is not None:
        filters["invoice_id"] = invoice_id
    if filters.get("status") is not None:
        filters["status_id"] = services.find_status(session, filters["status"]).id
    if filters.get("method") is not None:
        filters["method_id"] = services.find_method(session, filters["method"]).id
    stmt = services.payments_query(filters)
    return paginate(session, stmt, {**args, "q": None}, model=Payment, sortable=PAYMENT_SORT,
                    default_sort=[Payment.date.desc(), Payment.id.desc()] if invoice_id is None
                    else [Payment.date, Payment.id])


@blp.route("")
class Payments(MethodView):
    @require(PAYMENTS)
    @blp.arguments(PaymentsListArgs, location="query")
    @blp.response(200, ListOf(PaymentsPaymentSchema, "PaymentsPaymentList"))
    def get(self, args):
        """All payments. Filters: invoice_id, account_id, status, method, overdue=true (scheduled payments
        past their date), scheduled, counted, from, to (payment date), q (reference, note, invoice number);
        sort: date, amount, created_at, id."""
        return _list_payments(args)


@blp.route("/<int:payment_id>")
class PaymentById(MethodView):
    @require(PAYMENTS)
    @blp.response(200, PaymentsPaymentSchema)
    def get(self, payment_id):
        """One payment."""
        return services.get_payment(db.session, payment_id)

    @require(PAYMENTS, "write")
    @blp.arguments(PaymentsPaymentPatchSchema)
    @blp.response(200, PaymentsPaymentSchema)
    def patch(self, body, payment_id):
        """Change a payment (e.g. ``{"status": "Paid"}`` for a scheduled one); the invoice's received, balance
        and status are recomputed in the same transaction. An amount above the balance is refused (422) unless
        ``excess_as_credit``."""
        with db.transaction() as session:
            return services.update_payment(session, payment_id, body)

    @require(PAYMENTS, "write")
    @blp.response(204)
    def delete(self, payment_id):
        """Delete a payment; the invoice is recomputed (back to its status before payments when none counts)."""
        with db.transaction() as session:
            services.delete_payment(session, payment_id)


@invoices_blp.route("/<int:invoice_id>/payments")
class InvoicePayments(MethodView):
    @require(PAYMENTS)
    @invoices_blp.arguments(PaymentsListArgs, location="query")
    @invoices_blp.response(200, ListOf(PaymentsPaymentSchema, "PaymentsInvoicePaymentList"))
    def get(self, args, invoice_id):
        """The invoice's payments, oldest first (same filters as ``/payments``)."""
        services.get_invoice(db.session, invoice_id)
        return _list_payments(args, invoice_id)

    @require(PAYMENTS, "write")
    @invoices_blp.arguments(PaymentsPaymentInSchema)
    @invoices_blp.response(201, PaymentsPaymentSchema)
    @invoices_blp.doc(parameters=IDEMPOTENCY_DOC)
    def post(self, body, invoice_id):
        """Record a payment on an issued invoice (Approved, Sent, Partially Paid, Paid). More than the balance
        -> 422 with the balance, unless ``excess_as_credit``. Honours ``Idempotency-Key``."""
        return create_once(f"payments:invoice:{invoice_id}", request.get_json(silent=True),
                           lambda session: services.record_payment(session, invoice_id, body),
                           services.get_payment, PaymentsPaymentSchema)


# --- calculator -------------------------------------------------------------------------------------

class PaymentsCalculatorArgs(Schema):
    class Meta:
        name = "PaymentsCalculatorArgs"

    basis = fields.String(load_default="balance", validate=validate.OneOf(services.BASES))
    percent = PercentField(load_default=None, metadata={"description": "default 100"})


class PaymentsPresetSchema(Schema):
    class Meta:
        name = "PaymentsPreset"

    percent = PercentField()
    amount = MoneyField()


class PaymentsCalculatorSchema(Schema):
    class Meta:
        name = "PaymentsCalculator"

    invoice_id = fields.Integer()
    currency = fields.String()
    basis = fields.String()
    percent = PercentField()
    base = MoneyField(minimum=None)
    amount = MoneyField(minimum=None, metadata={"description": "percent of base, rounded to the currency"})
    grand_total = MoneyField(minimum=None)
    received = MoneyField(minimum=None)
    balance = MoneyField(minimum=None)
    full_balance = MoneyField(minimum=None)
    exceeds_balance = fields.Boolean()
    presets = fields.List(fields.Nested(PaymentsPresetSchema))


@invoices_blp.route("/<int:invoice_id>/payment-calculator")
class Calculator(MethodView):
    @require(PAYMENTS)
    @invoices_blp.arguments(PaymentsCalculatorArgs, location="query")
    @invoices_blp.response(200, PaymentsCalculatorSchema)
    def get(self, args, invoice_id):
        """A proposed amount: ``percent`` (default 100) of the invoice's ``total`` or ``balance`` (default),
        rounded half-up to the currency, with the presets 25/33/50/100 %."""
        from decimal import Decimal
        invoice = services.get_invoice(db.session, invoice_id)
        percent = args.get("percent")
        if percent is not None and percent <= 0:
            raise ValidationError.for_field("percent", _("must be more than 0"))
        return services.calculate(invoice, args["basis"], percent if percent is not None else Decimal("100"))


# --- schedule --------------------------------------------------------------------------------------

class PaymentsScheduleInSchema(Schema):
    class Meta:
        name = "PaymentsScheduleIn"

    installments = Integer(required=True, validate=validate.Range(min=1, max=services.MAX_INSTALLMENTS))
    first_date = Date(required=True)
    interval = fields.String(load_default="monthly", validate=validate.OneOf(INTERVALS))
    method = NameOrId(load_default=None, allow_none=True)
    note = Text(2000)
    replace = fields.Boolean(load_default=False,
                             metadata={"description": "delete the invoice's open scheduled payments first"})


class PaymentsScheduleSchema(Schema):
    class Meta:
        name = "PaymentsSchedule"

    id = fields.Integer()
    invoice_id = fields.Integer()
    amount = MoneyField()
    installments = fields.Integer()
    first_date = Date()
    interval = fields.String()
    created_at = fields.DateTime()
    payments = fields.List(fields.Nested(PaymentsPaymentSchema))


@invoices_blp.route("/<int:invoice_id>/payment-schedule")
class Schedule(MethodView):
    @require(PAYMENTS, "write")
    @invoices_blp.arguments(PaymentsScheduleInSchema)
    @invoices_blp.response(201, PaymentsScheduleSchema)
    @invoices_blp.doc(parameters=IDEMPOTENCY_DOC)
    def post(self, body, invoice_id):
        """Split the balance into ``installments`` scheduled payments (weekly, monthly or quarterly from
        ``first_date``; month ends clamped) that add up to it exactly: the remainder goes on the last one.
        Honours ``Idempotency-Key``."""
        return create_once(f"payments:schedule:{invoice_id}", request.get_json(silent=True),
                           lambda session: services.create_schedule(session, invoice_id, body),
                           services.get_schedule, PaymentsScheduleSchema)


# --- credit -----------------------------------------------------------------------------------------

class PaymentsCreditApplicationSchema(Schema):
    class Meta:
        name = "PaymentsCreditApplication"

    id = fields.Integer()
    payment_id = fields.Integer()
    invoice_id = fields.Function(lambda a: a.payment.invoice_id)
    invoice_number = fields.Function(lambda a: a.payment.invoice.number)
    amount = MoneyField()
    created_at = fields.DateTime()


class PaymentsCreditSchema(Schema):
    class Meta:
        name = "PaymentsCredit"

    id = fields.Integer()
    account_id = fields.Integer()
    account_name = fields.Function(lambda c: c.account.name if c.account else None)
    currency = fields.String()
    amount = MoneyField()
    remaining = MoneyField()
    source_payment_id = fields.Integer(allow_none=True)
    source_invoice_id = fields.Integer(allow_none=True)
    source_invoice_number = fields.Function(lambda c: c.source_invoice.number if c.source_invoice else None)
    note = fields.String()
    created_at = fields.DateTime()
    applications = fields.List(fields.Nested(PaymentsCreditApplicationSchema))


class PaymentsCreditArgs(ListArgs):
    class Meta:
        name = "PaymentsCreditArgs"
        unknown = "exclude"

    account_id = IdField()
    open = fields.Boolean(metadata={"description": "only credit with something left"})


class PaymentsCreditApplySchema(Schema):
    class Meta:
        name = "PaymentsCreditApply"

    invoice_id = IdField(required=True)
    amount = MoneyField(load_default=None, metadata={"description": "default: as much as credit and balance allow"})
    date = Date(load_default=None)
    note = Text(2000)


@blp.route("/credits")
class Credits(MethodView):
    @require(PAYMENTS)
    @blp.arguments(PaymentsCreditArgs, location="query")
    @blp.response(200, ListOf(PaymentsCreditSchema, "PaymentsCreditList"))
    def get(self, args):
        """Customer credit (from overpayments). Filters: account_id, open=true."""
        from sqlalchemy import select
        stmt = select(Credit)
        if args.get("account_id") is not None:
            stmt = stmt.where(Credit.account_id == args["account_id"])
        if args.get("open"):
            stmt = stmt.where(Credit.remaining > 0)
        return paginate(db.session, stmt, {**args, "q": None}, model=Credit,
                        sortable={"created_at": Credit.created_at, "id": Credit.id})


@blp.route("/credits/<int:credit_id>")
class CreditById(MethodView):
    @require(PAYMENTS)
    @blp.response(200, PaymentsCreditSchema)
    def get(self, credit_id):
        """One credit and where it was applied."""
        return services.get_credit(db.session, credit_id)


@blp.route("/credits/<int:credit_id>/apply")
class CreditApply(MethodView):
    @require(PAYMENTS, "write")
    @blp.arguments(PaymentsCreditApplySchema)
    @blp.response(201, PaymentsPaymentSchema)
    @blp.doc(parameters=IDEMPOTENCY_DOC)
    def post(self, body, credit_id):
        """Apply credit to another invoice of the same account: a payment of the built-in Credit status and
        method; the credit goes down by as much, atomically, never below zero. Honours ``Idempotency-Key``."""
        return create_once(f"payments:credit:{credit_id}", request.get_json(silent=True),
                           lambda session: services.apply_credit(session, credit_id, body["invoice_id"], body),
                           services.get_payment)


# --- summary ----------------------------------------------------------------------------------------

class PaymentsSummaryArgs(Schema):
    class Meta:
        name = "PaymentsSummaryArgs"

    date_from = Date(data_key="from", load_default=None)
    date_to = Date(data_key="to", load_default=None)


class PaymentsCurrencySummarySchema(Schema):
    class Meta:
        name = "PaymentsCurrencySummary"

    currency = fields.String()
    invoices = fields.Integer()
    invoiced = MoneyField(minimum=None)
    received = MoneyField(minimum=None)
    outstanding = MoneyField(minimum=None)
    overdue = MoneyField(minimum=None, metadata={"description": "outstanding on invoices past their due date"})
    scheduled = MoneyField(minimum=None, metadata={"description": "open scheduled installments"})
    overdue_installments = MoneyField(minimum=None, metadata={"description": "scheduled installments past their date"})


class PaymentsMonthSchema(Schema):
    class Meta:
        name = "PaymentsMonth"

    month = fields.String()
    currency = fields.String()
    received = MoneyField(minimum=None)


class PaymentsSummarySchema(Schema):
    class Meta:
        name = "PaymentsSummary"

    date_from = Date(data_key="from", allow_none=True, attribute="from")
    date_to = Date(data_key="to", allow_none=True, attribute="to")
    today = Date()
    currencies = fields.List(fields.Nested(PaymentsCurrencySummarySchema))
    by_month = fields.List(fields.Nested(PaymentsMonthSchema))


@blp.route("/summary")
class Summary(MethodView):
    @require(PAYMENTS)
    @blp.arguments(PaymentsSummaryArgs, location="query")
    @blp.response(200, PaymentsSummarySchema)
    def get(self, args):
        """Invoiced, received, outstanding and overdue totals per currency, and receipts by month
        (``?from=&to=``: invoice dates and payment dates in the period)."""
        return services.summary(db.session, args.get("date_from"), args.get("date_to"))


BLUEPRINTS = [blp, invoices_blp]
__all__ = ["BLUEPRINTS", "blp", "invoices_blp"]
