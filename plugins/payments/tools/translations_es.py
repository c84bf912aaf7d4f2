"""The Spanish translations of the payments plugin, and the script that writes the catalogue.

    cd plugins/payments
    ../../.venv/bin/pybabel extract -F babel.cfg -k _l -k _ -k lazy_pgettext:1c,2 -o /tmp/payments.pot .
    ../../.venv/bin/python tools/translations_es.py /tmp/payments.pot

writes ``crm_payments/translations/es/LC_MESSAGES/messages.po`` and compiles ``messages.mo``;
it fails when a message has no translation here.
"""
from __future__ import annotations

import sys
from pathlib import Path

ES = {
    "Payments": "Pagos",
    "Sales": "Ventas",
    "Payments summary": "Resumen de cobros",
    "Payment statuses": "Estados de pago",
    "Payment types": "Tipos de pago",
    "no active payment status is marked as scheduled; add one in the payment settings":
        "ningún estado de pago activo está marcado como programado; añada uno en la configuración de pagos",
    "%(name)s is set only when customer credit is applied": "%(name)s solo se usa al aplicar saldo a favor del cliente",
    "%(name)s is inactive": "%(name)s está inactivo",
    "a refund status must also count as received (it is subtracted from what was received)":
        "un estado de devolución también debe contar como cobrado (se resta de lo cobrado)",
    "a scheduled status cannot count as received": "un estado programado no puede contar como cobrado",
    "is required": "es obligatorio",
    "%(name)s already exists": "%(name)s ya existe",
    "already exists": "ya existe",
    "%(name)s is built in: its flags cannot change": "%(name)s es de sistema: sus indicadores no pueden cambiar",
    "%(name)s is used by %(count)s payment(s): its flags cannot change (they would change the balance of those "
    "invoices); create a new status and deactivate this one":
        "%(name)s lo usan %(count)s pago(s): sus indicadores no pueden cambiar (cambiarían el saldo de esas "
        "facturas); cree un estado nuevo y desactive este",
    "in use": "en uso",
    "%(name)s is built in and cannot be deleted": "%(name)s es de sistema y no se puede eliminar",
    "%(name)s is used by %(count)s payment(s) and cannot be deleted; deactivate it instead":
        "%(name)s lo usan %(count)s pago(s) y no se puede eliminar; desactívelo",
    "approve or send it first": "apruébela o envíela antes",
    "its payments are closed": "sus pagos están cerrados",
    "invoice %(number)s is %(status)s: it takes no payments (%(hint)s)":
        "la factura %(number)s está en %(status)s: no admite pagos (%(hint)s)",
    "must be a decimal number": "debe ser un número decimal",
    "must be greater than zero": "debe ser mayor que cero",
    "at most %(places)s decimals in %(currency)s": "como máximo %(places)s decimales en %(currency)s",
    "amount %(amount)s is more than the balance of %(balance)s of invoice %(number)s; lower it, or record the "
    "excess as customer credit (excess_as_credit)":
        "el importe %(amount)s supera el saldo pendiente de %(balance)s de la factura %(number)s; redúzcalo o "
        "registre el exceso como saldo a favor del cliente",
    "more than the balance of %(balance)s": "supera el saldo pendiente de %(balance)s",
    "invoice %(number)s has no balance left to pay": "la factura %(number)s no tiene saldo pendiente",
    "nothing left to pay": "no queda nada por pagar",
    "a refund of %(amount)s is more than the %(received)s received on invoice %(number)s":
        "una devolución de %(amount)s supera los %(received)s cobrados de la factura %(number)s",
    "more than the %(received)s received": "supera los %(received)s cobrados",
    "%(used)s of the credit made from this payment (credit %(credit)s) was already applied; delete those credit "
    "payments first":
        "ya se aplicaron %(used)s del saldo a favor creado por este pago (saldo %(credit)s); elimine antes esos pagos",
    "this payment applied customer credit: only its date, reference and note can change; delete it to give the "
    "credit back":
        "este pago aplicó saldo a favor del cliente: solo pueden cambiar su fecha, referencia y nota; elimínelo para "
        "devolver el saldo",
    "deleting this payment would leave refunds larger than what was received on %(number)s; delete the refund first":
        "al eliminar este pago las devoluciones superarían lo cobrado de %(number)s; elimine antes la devolución",
    "invoice %(number)s belongs to another account than credit %(credit)s":
        "la factura %(number)s es de otra cuenta que el saldo a favor %(credit)s",
    "credit %(credit)s is in %(currency)s, invoice %(number)s in %(other)s":
        "el saldo a favor %(credit)s está en %(currency)s y la factura %(number)s en %(other)s",
    "credit %(credit)s is used up": "el saldo a favor %(credit)s está agotado",
    "only %(amount)s of credit %(credit)s is left": "solo quedan %(amount)s del saldo a favor %(credit)s",
    "amount %(amount)s is more than the balance of %(balance)s of invoice %(number)s":
        "el importe %(amount)s supera el saldo pendiente de %(balance)s de la factura %(number)s",
    "must be more than 0 and at most 100": "debe ser mayor que 0 y como máximo 100",
    "must be a whole number from 1 to %(max)s": "debe ser un número entero de 1 a %(max)s",
    "is required (a date)": "es obligatorio (una fecha)",
    "invoice %(number)s already has %(count)s scheduled payment(s); replace them or delete them first":
        "la factura %(number)s ya tiene %(count)s pago(s) programado(s); sustitúyalos o elimínelos antes",
    "invoice %(number)s has no balance left to schedule": "la factura %(number)s no tiene saldo pendiente que programar",
    "too many for a balance of %(balance)s": "demasiados para un saldo de %(balance)s",
    "weekly": "semanal",
    "monthly": "mensual",
    "quarterly": "trimestral",
    "must be a number": "debe ser un número",
    "must be a date (YYYY-MM-DD)": "debe ser una fecha (AAAA-MM-DD)",
    "must be a whole number": "debe ser un número entero",
    "%(percent)s %% of the %(basis)s": "%(percent)s %% del %(basis)s",
    "total": "total",
    "balance": "saldo pendiente",
    "Payment of %(amount)s recorded; %(credit)s recorded as customer credit.":
        "Pago de %(amount)s registrado; %(credit)s registrado como saldo a favor del cliente.",
    "Payment of %(amount)s recorded.": "Pago de %(amount)s registrado.",
    "Payment changed.": "Pago modificado.",
    "Payment of %(amount)s marked as paid.": "Pago de %(amount)s marcado como pagado.",
    "Payment deleted.": "Pago eliminado.",
    "The balance is scheduled in %(count)s installments.": "El saldo pendiente se ha programado en %(count)s plazos.",
    "Credit of %(amount)s applied.": "Saldo a favor de %(amount)s aplicado.",
    "Status %(name)s added.": "Estado %(name)s añadido.",
    "Status %(name)s saved.": "Estado %(name)s guardado.",
    "Status deleted.": "Estado eliminado.",
    "Payment type %(name)s added.": "Tipo de pago %(name)s añadido.",
    "Payment type %(name)s saved.": "Tipo de pago %(name)s guardado.",
    "Payment type deleted.": "Tipo de pago eliminado.",
    "more than the balance": "supera el saldo pendiente",
    "Grand total": "Total",
    "Received": "Cobrado",
    "Balance": "Saldo pendiente",
    "Status": "Estado",
    "Payments of %(number)s": "Pagos de %(number)s",
    "Date": "Fecha",
    "Amount": "Importe",
    "Type": "Tipo",
    "Reference": "Referencia",
    "Note": "Nota",
    "Recorded by": "Registrado por",
    "Actions": "Acciones",
    "overdue": "vencido",
    "(does not count as received)": "(no cuenta como cobrado)",
    "Mark paid": "Marcar pagado",
    "Edit": "Editar",
    "Excess as customer credit": "Exceso como saldo a favor",
    "Save": "Guardar",
    "Delete this payment?": "¿Eliminar este pago?",
    "Delete": "Eliminar",
    "No payments yet.": "Aún no hay pagos.",
    "Payments can be recorded once the invoice is approved or sent.":
        "Se pueden registrar pagos cuando la factura esté aprobada o enviada.",
    "This invoice takes no more payments.": "Esta factura no admite más pagos.",
    "Record a payment": "Registrar un pago",
    "Calculator": "Calculadora",
    "of the balance": "del saldo pendiente",
    "of the total": "del total",
    "Percent": "Porcentaje",
    "Calculate": "Calcular",
    "Full balance": "Saldo completo",
    "Record an excess as customer credit": "Registrar el exceso como saldo a favor del cliente",
    "Record payment": "Registrar pago",
    "Schedule the balance": "Programar el saldo pendiente",
    "Installments": "Plazos",
    "First date": "Primera fecha",
    "Every": "Cada",
    "Replace the %(count)s scheduled payments": "Sustituir los %(count)s pagos programados",
    "Schedule": "Programar",
    "Customer credit": "Saldo a favor del cliente",
    "%(amount)s left (from %(number)s)": "quedan %(amount)s (de %(number)s)",
    "Apply credit": "Aplicar saldo a favor",
    "Business summary": "Resumen del negocio",
    "Search": "Buscar",
    "Reference, note or invoice number…": "Referencia, nota o número de factura…",
    "all": "todos",
    "From": "Desde",
    "To": "Hasta",
    "Overdue only": "Solo vencidos",
    "Scheduled only": "Solo programados",
    "Clear": "Limpiar",
    "Invoice": "Factura",
    "Account": "Cuenta",
    "Nothing found.": "No se encontró nada.",
    "Pages": "Páginas",
    "%(total)s payments": "%(total)s pagos",
    "Previous": "Anterior",
    "Next": "Siguiente",
    "A type in use cannot be deleted: deactivate it.": "Un tipo en uso no se puede eliminar: desactívelo.",
    "Name": "Nombre",
    "Position": "Posición",
    "Active": "Activo",
    "built in": "de sistema",
    "Delete this payment type?": "¿Eliminar este tipo de pago?",
    "Add a payment type": "Añadir un tipo de pago",
    "Add": "Añadir",
    "A status that counts as received adds to the invoice's received amount; a refund subtracts; a scheduled status "
    "marks installments not paid yet. The flags of a status in use cannot change; a status in use cannot be deleted: "
    "deactivate it.":
        "Un estado que cuenta como cobrado suma a lo cobrado de la factura; una devolución resta; un estado programado "
        "marca plazos aún no pagados. Los indicadores de un estado en uso no pueden cambiar; un estado en uso no se "
        "puede eliminar: desactívelo.",
    "Counts as received": "Cuenta como cobrado",
    "Is a refund": "Es una devolución",
    "Is scheduled": "Es programado",
    "Delete this status?": "¿Eliminar este estado?",
    "Add a status": "Añadir un estado",
    "Show": "Mostrar",
    "Invoiced": "Facturado",
    "%(count)s issued invoices": "%(count)s facturas emitidas",
    "payments less refunds": "pagos menos devoluciones",
    "Outstanding": "Pendiente de cobro",
    "%(amount)s scheduled": "%(amount)s programados",
    "Overdue": "Vencido",
    "%(amount)s in overdue installments": "%(amount)s en plazos vencidos",
    "No issued invoices in this period.": "No hay facturas emitidas en este periodo.",
    "Receipts by month": "Cobros por mes",
    "Receipts by month in %(currency)s": "Cobros por mes en %(currency)s",
    "Month": "Mes",
    "Currency": "Moneda",
    "No payments received yet.": "Aún no se ha cobrado nada.",
}

#: the seeded status and type names, in the context "payment" (``pgettext``)
ES_PAYMENT = {
    "Paid": "Pagado",
    "Pending": "Pendiente",
    "Scheduled": "Programado",
    "Failed": "Fallido",
    "Refunded": "Devuelto",
    "Credit": "Saldo a favor",
    "Cash": "Efectivo",
    "Check": "Cheque",
    "Credit card": "Tarjeta de crédito",
    "Bank transfer": "Transferencia bancaria",
    "Direct debit": "Domiciliación bancaria",
}


def main(pot_path: str) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po
    with open(pot_path, "rb") as f:
        catalog = read_po(f, locale="es")
    catalog.locale = "es"
    catalog.project, catalog.version = "crm-payments", "0.1.0"
    catalog.fuzzy = False
    catalog.copyright_holder = "the CRM project"
    missing = []
    for message in catalog:
        if not message.id:
            continue
        table = ES_PAYMENT if message.context == "payment" else ES
        if message.id not in table:
            missing.append(f"{message.context or ''}|{message.id}")
        else:
            message.string = table[message.id]
    if missing:
        raise SystemExit("no Spanish for:\n" + "\n".join(missing))
    folder = Path(__file__).resolve().parent.parent / "crm_payments" / "translations" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "messages.po", "wb") as f:
        write_po(f, catalog, width=100, omit_header=False)
    with open(folder / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    print(f"{len(catalog) - 1} messages -> {folder}")


if __name__ == "__main__":
    main(sys.argv[1])
