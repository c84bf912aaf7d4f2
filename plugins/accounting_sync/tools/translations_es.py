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
# the settings form and "Connect to QuickBooks"
ES.update({
    "Tryton URL": "URL de Tryton", "http://host:8000/<database>/": "http://servidor:8000/<base de datos>/",
    "User": "Usuario", "Password": "Contraseña", "Customers' party category": "Categoría de terceros de los clientes",
    "Default: Customer": "Por defecto: Customer", "Suppliers' party category": "Categoría de terceros de los proveedores",
    "Default: Supplier": "Por defecto: Supplier", "Products' account category": "Categoría contable de los productos",
    "Default: CRM": "Por defecto: CRM", "Unit of measure": "Unidad de medida", "Default: Unit": "Por defecto: Unit",
    "Payment term": "Plazo de pago", "both ways": "en ambos sentidos",
    "only to the accounting system": "solo hacia la contabilidad",
    "only from the accounting system": "solo desde la contabilidad", "not synced": "no se sincroniza",
    "the newest change wins": "gana el cambio más reciente", "ours wins": "gana el nuestro",
    "theirs wins": "gana el suyo", "decide by hand": "decidir a mano", "Tax codes": "Códigos de impuesto",
    "Payment methods": "Formas de pago", "must be a whole number": "debe ser un número entero",
    "must be a whole number, 0 or more": "debe ser un número entero, 0 o más",
    "must be an http:// or https:// address": "debe ser una dirección http:// o https://",
    "appears twice": "aparece dos veces",
    "write one 'ours = theirs' per line": "escriba un 'nuestro = suyo' por línea",
    "must name one of our custom fields: custom.<key>": "debe nombrar uno de nuestros campos personalizados: custom.<clave>",
    "is required: the remote field": "es obligatorio: el campo remoto",
    "use letters, digits, - and _ (at most 60)": "use letras, dígitos, - y _ (60 como máximo)",
    "must be one of %(values)s": "debe ser uno de %(values)s",
    "Fill in the settings of %(system)s, then save.": "Complete los ajustes de %(system)s y guarde.",
    "a connection with this name exists": "ya existe una conexión con este nombre",
    "Please correct the fields marked.": "Corrija los campos marcados.",
    "QuickBooks cannot be connected: %(reason)s": "No se puede conectar QuickBooks: %(reason)s",
    'This answer from QuickBooks does not belong to a connection started from this session (the state does not '
    'match), so it was refused and nothing was stored. Start again with "Connect to QuickBooks".':
        'Esta respuesta de QuickBooks no corresponde a una conexión iniciada desde esta sesión (el estado no '
        'coincide), así que se rechazó y no se guardó nada. Empiece de nuevo con "Conectar con QuickBooks".',
    "QuickBooks was not connected: access was denied on Intuit's consent screen. Nothing was changed.":
        "No se conectó QuickBooks: se denegó el acceso en la pantalla de consentimiento de Intuit. No se cambió nada.",
    "QuickBooks was not connected: Intuit answered %(error)s. Nothing was changed.":
        "No se conectó QuickBooks: Intuit respondió %(error)s. No se cambió nada.",
    "QuickBooks was not connected: the answer has no code or company id. Nothing was changed.":
        "No se conectó QuickBooks: la respuesta no trae código ni id de empresa. No se cambió nada.",
    "QuickBooks was not connected: %(reason)s": "No se conectó QuickBooks: %(reason)s",
    "Connected to QuickBooks: %(company)s.": "Conectado con QuickBooks: %(company)s.",
    "Connected, but QuickBooks does not answer yet: %(reason)s":
        "Conectado, pero QuickBooks aún no responde: %(reason)s",
    "The tokens were forgotten here, but Intuit did not confirm the revocation: %(reason)s":
        "Los tokens se olvidaron aquí, pero Intuit no confirmó la revocación: %(reason)s",
    "Disconnected from QuickBooks: the tokens were revoked and forgotten.":
        "Desconectado de QuickBooks: los tokens se revocaron y se olvidaron.",
    "Client ID of your Intuit app": "Client ID de su aplicación de Intuit",
    "Client secret of your Intuit app": "Client secret de su aplicación de Intuit", "Environment": "Entorno",
    "production, sandbox, or the URL of an OpenID discovery document":
        "production, sandbox, o la URL de un documento de descubrimiento OpenID",
    "Redirect URI": "URI de redirección",
    "As registered in your Intuit app; empty: this CRM's callback address":
        "Como está registrada en su aplicación de Intuit; vacía: la dirección de retorno de este CRM",
    "Webhook verifier token": "Token verificador de webhooks", "Company id (realm)": "Id de empresa (realm)",
    "Set by Connect to QuickBooks": "Lo fija Conectar con QuickBooks", "API base URL": "URL base de la API",
    "Empty: Intuit's, by environment": "Vacía: la de Intuit, según el entorno",
    "API minor version": "Versión menor de la API", "Timeout (seconds)": "Tiempo de espera (segundos)",
    "Products are created as": "Los productos se crean como", "Income account id": "Id de la cuenta de ingresos",
    "Expense account id": "Id de la cuenta de gastos", "Inventory asset account id": "Id de la cuenta de existencias",
    "QuickBooks connection refused": "Conexión con QuickBooks rechazada",
    "QuickBooks connection": "Conexión con QuickBooks",
    "Connected to the QuickBooks company %(realm)s.": "Conectado con la empresa de QuickBooks %(realm)s.",
    "Disconnect": "Desconectar", "Not connected to QuickBooks yet.": "Aún no está conectado con QuickBooks.",
    "Connect to QuickBooks": "Conectar con QuickBooks",
    "Enter the client ID and the client secret of your Intuit app below and save; then connect.":
        "Escriba abajo el client ID y el client secret de su aplicación de Intuit y guarde; después conecte.",
    "Redirect URI to register in your Intuit app:": "URI de redirección que debe registrar en su aplicación de Intuit:",
    "After choosing another system, save to see its settings.":
        "Tras elegir otro sistema, guarde para ver sus ajustes.",
    "Secrets are stored encrypted and never shown again.": "Los secretos se guardan cifrados y no se vuelven a mostrar.",
    "set: leave blank to keep": "guardado: deje en blanco para conservarlo",
    "What is synced, and who wins a conflict": "Qué se sincroniza y quién gana un conflicto",
    "When both sides changed a field": "Si ambos lados cambiaron un campo", "Conflict policy": "Política de conflictos",
    "Schedule": "Programación", "Sync every (minutes)": "Sincronizar cada (minutos)",
    "0 or empty: only by hand": "0 o vacío: solo a mano",
    "Run in the background above (pending records)": "En segundo plano a partir de (registros pendientes)",
    "Empty: 200": "Vacío: 200", "Custom fields": "Campos personalizados",
    "One of our custom fields (custom.<key>) and the field there; values can be translated, one 'ours = theirs' per line.":
        "Uno de nuestros campos personalizados (custom.<clave>) y el campo allí; los valores pueden traducirse, "
        "un 'nuestro = suyo' por línea.",
    "Our field": "Nuestro campo", "Their field": "Su campo", "Values": "Valores", "Default": "Por defecto",
    "Remove": "Quitar", "Value maps": "Tablas de equivalencias",
    "Our name and the code or id there; blank rows are ignored, clear a row to remove it.":
        "Nuestro nombre y el código o id allí; las filas vacías se ignoran, vacíe una fila para quitarla.",
    "Ours": "Nuestro", "Theirs": "Suyo",
})
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
        forms = PLURALS[key]   # CLDR's Spanish has a third form ("many": a million...): the plural again
        message.string = tuple(forms) + (forms[-1],) * (catalog.num_plurals - len(forms))
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
