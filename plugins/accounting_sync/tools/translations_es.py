"""Fill the Spanish catalogue of the accounting sync (run after `pybabel extract`/`update`)."""
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ES = {
    "Accounting sync": "Sincronización contable", "Admin": "Administración", "Accounts": "Cuentas",
    "Contacts": "Contactos", "Vendors": "Proveedores", "Items": "Artículos", "Quotes": "Presupuestos",
    "Sales orders": "Pedidos de venta", "Purchase orders": "Pedidos de compra", "Invoices": "Facturas",
    "Payments": "Pagos", "created": "creado", "updated": "actualizado", "deleted": "eliminado",
    "skipped": "omitido", "failed": "fallido", "conflict": "conflicto", "waiting": "en espera",
    "to the accounting system": "hacia la contabilidad", "from the accounting system": "desde la contabilidad",
    "queued": "en cola", "running": "en curso", "done": "terminada", "in sync": "sincronizado",
    "The sync runs in the background; this page shows its progress.":
        "La sincronización se ejecuta en segundo plano; esta página muestra su avance.",
    "The sync stopped: %(error)s": "La sincronización se detuvo: %(error)s",
    "Sync finished.": "Sincronización terminada.",
    "The conflict is settled; the next sync applies it.":
        "El conflicto está resuelto; la próxima sincronización lo aplica.",
    "The record is skipped until it changes again.": "El registro se omite hasta que vuelva a cambiar.",
    "The record is tried again on the next sync.": "El registro se reintenta en la próxima sincronización.",
    "is required": "es obligatorio", "The connection was saved.": "La conexión se guardó.",
    "Customers, vendors, items, quotes, orders, invoices and payments kept the same here and in your accounting system, in both directions.":
        "Clientes, proveedores, artículos, presupuestos, pedidos, facturas y pagos iguales aquí y en su contabilidad, en ambos sentidos.",
    "Records that need attention": "Registros que requieren atención", "Connection settings": "Ajustes de conexión",
    "disabled": "desactivada", "Sync now": "Sincronizar ahora", "Only": "Solo", "Sync this": "Sincronizar esto",
    "No accounting system is connected yet.": "Aún no hay ninguna contabilidad conectada.",
    "Sync log": "Registro de sincronización", "Run": "Ejecución", "Connection": "Conexión", "Started": "Inicio",
    "Status": "Estado", "Created": "Creados", "Updated": "Actualizados", "Failed": "Fallidos",
    "No sync has run yet.": "Aún no se ha sincronizado nada.", "Synced records": "Registros sincronizados",
    "all": "todos", "Records": "Registros", "Search": "Buscar", "Filter": "Filtrar", "Record": "Registro",
    "Our id": "Nuestro id", "Remote id": "Id remoto", "Why": "Motivo", "Actions": "Acciones", "ours": "nuestro",
    "theirs": "suyo", "Keep ours": "Conservar el nuestro", "Keep theirs": "Conservar el suyo", "Skip": "Omitir",
    "Retry": "Reintentar", "No records.": "Sin registros.", "Sync run #%(id)s": "Sincronización n.º %(id)s",
    "Calls to the accounting system": "Llamadas a la contabilidad", "Direction": "Sentido",
    "Nothing to do: both sides agree.": "Nada que hacer: ambos lados coinciden.",
    "What happened to each record": "Qué pasó con cada registro", "show all": "ver todo", "What": "Qué",
    "Accounting sync settings": "Ajustes de la sincronización contable", "Settings": "Ajustes",
    "New connection": "Nueva conexión", "Name": "Nombre", "Accounting system": "Sistema contable",
    "Enabled": "Activada", "Credentials": "Credenciales",
    "Stored encrypted; never shown again. Leave a field empty to keep what is stored.":
        "Se guardan cifradas y no se vuelven a mostrar. Deje un campo vacío para conservar lo guardado.",
    "set": "guardada", "Forget it": "Olvidarla",
    "Directions, conflicts, mappings and schedule": "Sentidos, conflictos, correspondencias y programación",
    "Save": "Guardar", "Cancel": "Cancelar",
}
PLURALS = {
    "%(num)s record needs attention": ("%(num)s registro requiere atención", "%(num)s registros requieren atención"),
    "%(num)s record": ("%(num)s registro", "%(num)s registros"),
}

path = Path(sys.argv[1] if len(sys.argv) > 1 else "crm_accounting_sync/translations/es/LC_MESSAGES/messages.po")
with path.open("rb") as fh:
    catalog = read_po(fh, locale="es")
missing = []
for message in catalog:
    if not message.id:
        continue
    key = message.id[0] if isinstance(message.id, tuple) else message.id
    if key in PLURALS:
        message.string = PLURALS[key]
    elif key in ES:
        message.string = ES[key]
    elif key.startswith("JSON: entities"):
        message.string = ("JSON: entities {direction: both, to_remote, from_remote o none; policy: newest, ours, "
                          "theirs o manual}, mappings de campos personalizados [{entity, local: custom.<clave>, "
                          "remote, direction, map}], value_maps {tax_codes, payment_methods}, schedule_minutes "
                          "(0: solo a mano), y las claves propias del sistema.")
    else:
        missing.append(key)
with path.open("wb") as fh:
    write_po(fh, catalog, width=100)
if missing:
    print("untranslated:", missing)
