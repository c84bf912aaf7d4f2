"""URL rules that are cheap to add: parsed once per process, built when first used.

Werkzeug parses every URL rule into the parts its matcher follows, and compiles two small Python
functions per rule (one builds the URL, one also appends unknown arguments as a query string), as
the rule is added. With some 400 rules that was most of the cost of making an app, paid by every
web worker, job worker and ``crm`` command, and again by every app a process makes (a test makes
one or more). :class:`Rule` keeps what parsing a rule gives, for the next app that adds the same
rule with the same converters, and compiles each builder the first time ``url_for`` needs it;
matching requests never needs them.
"""
from __future__ import annotations

from werkzeug.routing import Rule as WerkzeugRule

#: what parsing a rule gave: (the rule's own settings and converters) -> (parts, trace, converters)
_parsed: dict[tuple, tuple] = {}


class Rule(WerkzeugRule):
    """A werkzeug rule parsed once per process and whose builders are compiled on first use
    (``app.url_rule_class``)."""

    def compile(self) -> None:
        url_map = self.map
        key = (self.rule, self.host if url_map.host_matching else self.subdomain, url_map.host_matching,
               self.merge_slashes, tuple(url_map.converters.items()))
        parsed = _parsed.get(key)
        if parsed is None:
            super().compile()
            # converters keep the map they were made for, but never use it: they are shared
            _parsed[key] = (tuple(self._parts), tuple(self._trace), dict(self._converters))
            return
        parts, trace, converters = parsed
        self._parts, self._trace, self._converters = list(parts), list(trace), dict(converters)
        self.arguments.update(converters)  # the rule's variables, as parsing adds them
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        name = "_build_unknown" if append_unknown else "_build"

        def build_first(rule, **values):
            builder = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, name, builder)  # later calls go straight to it
            return builder(**values)
        return build_first
