"""The settings form's fields of a Tryton connection (``TrytonConnector.settings_fields``) and
the units of measure products get there."""
from __future__ import annotations

from flask_babel import lazy_gettext as N_

from crm.accounting_connectors import RemoteValidationError, SettingField

SETTINGS_FIELDS = (
    SettingField("url", N_("Tryton URL"), type="url", required=True,
                 help=N_("Tryton's XML-RPC address: http://host:8000/<database>/rpc/")),
    SettingField("username", N_("User"), required=True),
    SettingField("password", N_("Password"), secret=True, required=True),
    SettingField("customer_category", N_("Customers' party category"), help=N_("Default: Customer")),
    SettingField("supplier_category", N_("Suppliers' party category"), help=N_("Default: Supplier")),
    SettingField("account_category", N_("Products' account category"), help=N_("Default: CRM")),
    SettingField("uom", N_("Unit of measure"),
                 help=N_("Of items whose usage unit is not mapped. Default: Unit")),
    SettingField("units", N_("Units of measure by usage unit"),
                 help=N_("Usage unit = Tryton unit, separated by ';' (e.g. jornada = Day; saco = Kilogram), "
                         "on top of the usual names in English and Spanish (hours, horas, h -> Hour; kg, kilo "
                         "-> Kilogram; m, metros -> Meter; l, litros -> Liter; pcs, ud -> Unit...)")),
    SettingField("payment_term", N_("Payment term")),
)


def _units(tryton_name: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, tryton_name)


#: usage units (lower case) -> Tryton's units of measure (``product.uom`` names), English and Spanish
DEFAULT_UNITS: dict[str, str] = {
    **_units("Unit", "u", "un", "ud", "uds", "unit", "units", "unidad", "unidades", "pc", "pcs", "piece",
             "pieces", "pieza", "piezas", "ea", "each"),
    **_units("Hour", "h", "hr", "hrs", "hour", "hours", "hora", "horas"),
    **_units("Minute", "min", "mins", "minute", "minutes", "minuto", "minutos"),
    **_units("Second", "s", "sec", "second", "seconds", "segundo", "segundos"),
    **_units("Day", "d", "day", "days", "día", "días", "dia", "dias"),
    **_units("Kilogram", "kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramo", "kilogramos"),
    **_units("Gram", "g", "gr", "gram", "grams", "gramo", "gramos"),
    **_units("Meter", "m", "meter", "meters", "metre", "metres", "metro", "metros"),
    **_units("Centimeter", "cm", "centimeter", "centimeters", "centímetro", "centímetros"),
    **_units("Kilometer", "km", "kilometer", "kilometers", "kilómetro", "kilómetros"),
    **_units("Square meter", "m2", "m²", "square meter", "square meters", "metro cuadrado", "metros cuadrados"),
    **_units("Cubic meter", "m3", "m³", "cubic meter", "cubic meters", "metro cúbico", "metros cúbicos"),
    **_units("Liter", "l", "lt", "liter", "liters", "litre", "litres", "litro", "litros"),
    **_units("Kilowatt-hour", "kwh", "kilowatt-hour", "kilowatt-hours"),
}


def units_map(text: str | None) -> dict[str, str]:
    """The default units with the connection's ``units`` setting on top ("jornada = Day; saco =
    Kilogram"): usage units in lower case -> Tryton unit names."""
    found = dict(DEFAULT_UNITS)
    for pair in (text or "").replace("\n", ";").split(";"):
        if not pair.strip():
            continue
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise RemoteValidationError(f"the setting units: {pair.strip()!r} is not 'usage unit = Tryton unit'")
        found[ours.strip().lower()] = theirs.strip()
    return found
