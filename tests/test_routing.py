"""The app's URL rules (crm.routing) match and build every URL as werkzeug's own rules do, in
the first app of a process and in the apps after it, which reuse what parsing the rules gave."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.routing import AnyConverter, IntegerConverter, Map, PathConverter, Rule as WerkzeugRule, UnicodeConverter

from crm import BoundedIntConverter
from crm.routing import Rule

SAMPLES = {IntegerConverter: 7, UnicodeConverter: "a b&é", PathConverter: "a/b c.pdf"}


def _sample(converter):
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return next(value for kind, value in SAMPLES.items() if isinstance(converter, kind))


def test_every_rule_matches_and_builds_the_urls_werkzeug_does_in_each_app(app_factory):
    for app in (app_factory(), app_factory()):
        _check_rules(app)


def _check_rules(app):
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 300
    assert all(isinstance(rule, Rule) for rule in rules if rule.endpoint != "static")  # added by Flask() itself
    plain = Map([WerkzeugRule(rule.rule, endpoint=rule.endpoint, methods=rule.methods, defaults=rule.defaults)
                 for rule in rules], converters=app.url_map.converters)
    for ours, theirs in zip(rules, plain.iter_rules(), strict=True):
        values = {name: _sample(converter) for name, converter in ours._converters.items()}
        unknown = {**values, "q": "ü & =", "page": 2}
        for _ in range(2):  # the first call compiles the builder, the second uses it
            assert ours.build(values, append_unknown=False) == theirs.build(values, append_unknown=False)
            assert ours.build(unknown) == theirs.build(unknown), ours.rule
        refused = {**values, "id": "not a number"} if "id" in values else values
        assert ours.build(refused) == theirs.build(refused)
    ours, theirs = app.url_map.bind("crm.example"), plain.bind("crm.example")
    for rule in rules:
        values = {name: _sample(converter) for name, converter in rule._converters.items()}
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        path = theirs.build(rule.endpoint, values, method=method)
        assert ours.build(rule.endpoint, values, method=method) == path
        assert ours.match(path, method) == theirs.match(path, method), path


def test_a_rule_parsed_with_other_converters_is_parsed_again():
    unbounded = Map([Rule("/orders/<int:id>", endpoint="order")]).bind("crm.example")
    bounded = Map([Rule("/orders/<int:id>", endpoint="order")], converters={"int": BoundedIntConverter}).bind("crm.example")
    assert unbounded.match("/orders/4294967296") == ("order", {"id": 4294967296})
    assert bounded.match("/orders/12") == ("order", {"id": 12})
    with pytest.raises(NotFound):
        bounded.match("/orders/4294967296")


def test_url_for_answers_urls_of_the_core_and_the_plugins(app):
    from flask import url_for
    with app.test_request_context():
        assert url_for("api_items.ProductById", item_id=12, fields="a b") == "/api/v1/products/12?fields=a+b"
        assert url_for("static", filename="app.css").startswith("/static/app.css")
