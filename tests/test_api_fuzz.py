"""Schemathesis over the whole API -- every operation of the OpenAPI description, the core's
and every plugin's -- as an administrator, on a database holding the demo data, over real HTTP.

Each operation gets requests that fit its description (positive) and requests that do not
(negative). Every answer must be no server error, carry the content type its operation
documents, and match the schema documented for its status (for an undocumented status: the
error body). The run is bounded and repeatable: a fixed number of examples per operation and
mode, Hypothesis derandomized (the same requests every run), no deadline, no example database.
``CRM_FUZZ_EXAMPLES`` sets more examples for a deeper run by hand.

Nothing leaves the machine: while the run lasts, a connection or a name lookup for anything but
a loopback address fails (the accounting connectors would otherwise try the addresses the
fuzzer sends them).
"""
from __future__ import annotations

import collections
import ipaddress
import os
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "10"))
CHECK_NAMES = ["not_a_server_error", "response_schema_conformance", "content_type_conformance",
               "status_code_conformance"]
#: answers that only say who may do what: every operation taking the bearer token must also get
#: some other answer, or the run tested nothing but the sign-in
ACCESS_ANSWERS = {401, 403}


def _is_loopback(host) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    """Connections and name lookups for anything but a loopback address fail."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach no other machine ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"tests reach no other machine ({address[0]})")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


class Admin:
    """The fuzzer's ``Authorization`` header; a new token when an operation revoked it
    (``DELETE /auth/tokens/{id}`` may hit the fuzzer's own)."""

    def __init__(self, api_as):
        self.api_as = api_as
        self.client = api_as("admin")

    def headers(self) -> dict:
        if self.client.get("/auth/tokens").status_code == 401:
            self.client = self.api_as("admin")
        return {"Authorization": self.client.http.headers["Authorization"]}


def _fuzz(operation, mode, headers, checks, statuses):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call_and_validate(headers=headers, checks=checks)
        statuses[operation.label][response.status_code] += 1

    run()


@pytest.mark.slow
def test_every_operation_answers_as_described(api_as, live_server, runner, loopback_only):
    result = runner.invoke(["demo"])
    assert result.exit_code == 0, result.output
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    schema.config.update(base_url=live_server)
    load_all_checks()
    checks = CHECKS.get_by_names(CHECK_NAMES)
    admin = Admin(api_as)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            try:
                _fuzz(operation, mode, admin.headers(), checks, statuses)
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation is told, not the first
                failures.append(f"{mode.value} {operation.label}: {str(exc)[:2500]}")
    assert not failures, f"{len(failures)} operations answered outside their description:\n\n" + \
        "\n\n".join(failures)
    described = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items()
                 for method in item if method in ("get", "put", "post", "patch", "delete")}
    assert {operation.label for operation in operations} == described
    for prefix in ("/api/v1/payments", "/api/v1/item-lookup", "/api/v1/idca", "/api/v1/accounting-sync",
                   "/api/v1/hello"):
        assert any(prefix in label for label in statuses), f"no operation of {prefix} was tried"
    own_security = {operation.label for operation in operations if operation.definition.raw.get("security") == []}
    only_access = sorted(label for label, seen in statuses.items()
                         if set(seen) <= ACCESS_ANSWERS and label not in own_security)
    assert only_access == [], f"answered nothing but 401/403: {only_access}"
