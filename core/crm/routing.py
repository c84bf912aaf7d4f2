"""URL rules that write their URL builder when it is first used.

Werkzeug compiles two small Python functions for every URL rule as the rule is added (one builds
the URL, one also appends unknown arguments as a query string). With some 400 rules that was
three quarters of the cost of making an app, paid by every web worker, job worker and ``crm``
command, though most rules are never built in a given process. :class:`Rule` compiles each
function the first time ``url_for`` needs it, and keeps it; matching requests never needs them.
"""
from __future__ import annotations

from werkzeug.routing import Rule as WerkzeugRule


class Rule(WerkzeugRule):
    """A werkzeug rule whose builders are compiled on first use (``app.url_rule_class``)."""

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        name = "_build_unknown" if append_unknown else "_build"

        def build_first(rule, **values):
            builder = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, name, builder)  # later calls go straight to it
            return builder(**values)
        return build_first
