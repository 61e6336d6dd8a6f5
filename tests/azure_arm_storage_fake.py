"""A local Azure Resource Manager for the storage management plane, which Azurite lacks:
HTTPS (trustme CA, certificate for 127.0.0.1), driven by the real StorageManagementClient.

It speaks ARM's wire format (api-version 2023-05-01 REST examples) for:
- GET  /subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts (StorageAccounts_List)
- GET|PUT|DELETE .../resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/
  {account}/managementPolicies/default (ManagementPolicies_Get|CreateOrUpdate|Delete)
Errors as ARM sends them: 401 InvalidAuthenticationToken without the test bearer token,
404 ResourceNotFound / ManagementPolicyNotFound, 400 InvalidRequestContent for a policy
without rules, and 403 AuthorizationFailed for the writes of accounts in `denied`.
"""

from __future__ import annotations

import http.server
import json
import re
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from tests.azure_fake import TOKEN, account

SUB = "00000000-0000-0000-0000-0000000000a1"
ACCOUNTS = r"/subscriptions/([^/]+)/providers/microsoft\.storage/storageaccounts"
POLICY = (r"/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.storage/"
          r"storageaccounts/([^/]+)/managementpolicies/default")  # fmt: skip
Reply = tuple[int, dict[str, Any] | None]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class ArmStorageFake:
    def __init__(self, cert: trustme.LeafCert, ca_path: str):
        self.ca_path = ca_path
        self.accounts: dict[str, list[dict[str, Any]]] = {}  # subscription -> items
        self.policies: dict[str, list[dict[str, Any]]] = {}  # account name -> rules
        self.denied: set[str] = set()  # accounts whose policy writes answer 403
        self.requests: list[tuple[str, str]] = []  # (method, path)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, reply = outer.answer(self.command, self.path, self.headers, body)
                data = b"" if reply is None else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-ms-request-id", "00000000-0000-0000-0000-00000000f00d")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_account(self, name: str, group: str = "rg-data", sub: str = SUB) -> None:
        self.accounts.setdefault(sub, []).append(account(sub, group, name))

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] in ("PUT", "DELETE")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- serving ------------------------------------------------------------------------
    def answer(self, method: str, raw: str, headers: Any, body: Any) -> Reply:
        url = urlsplit(raw)
        path = url.path.lower()
        self.requests.append((method, url.path))
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, _error("InvalidAuthenticationToken", "The access token is invalid.")
        if "api-version" not in parse_qs(url.query):
            text = "The api-version query parameter (?api-version=) is required for all requests."
            return 400, _error("MissingApiVersionParameter", text)
        if m := re.fullmatch(ACCOUNTS, path):
            if method != "GET":
                return 405, _error("MethodNotAllowed", method)
            sub = next((s for s in self.accounts if s.lower() == m.group(1)), m.group(1))
            return 200, {"value": self.accounts.get(sub, [])}
        m = re.fullmatch(POLICY, path)
        if m is None:
            return 404, _error("InvalidResourceType", f"no route for {url.path}")
        name, scope = url.path.split("/")[8], url.path.rsplit("/managementPolicies", 1)[0]
        known = {a["name"]: a for items in self.accounts.values() for a in items}
        if name not in known or known[name]["id"].lower() != scope.lower():
            group = url.path.split("/")[4]
            return 404, _error("ResourceNotFound", f"The Resource '{_TYPE}/{name}' under "
                               f"resource group '{group}' was not found. For more details "
                               "please go to https://aka.ms/ARMResourceNotFoundFix")  # fmt: skip
        if method == "GET":
            if name not in self.policies:
                return 404, _error("ManagementPolicyNotFound",
                                   "No ManagementPolicy found for account " + name)  # fmt: skip
            return 200, self._policy(url.path, name)
        if name in self.denied:
            verb = "write" if method == "PUT" else "delete"
            return 403, _error("AuthorizationFailed", (
                "The client 'c0ffee00-0000-0000-0000-000000000000' with object id "
                "'c0ffee00-0000-0000-0000-000000000000' does not have authorization to "
                f"perform action '{_TYPE}/managementPolicies/{verb}' over scope "
                f"'{url.path}' or the scope is invalid. If access was recently granted, "
                "please refresh your credentials."))  # fmt: skip
        if method == "DELETE":
            found = self.policies.pop(name, None)
            return (200 if found is not None else 204), None
        rules = (((body or {}).get("properties") or {}).get("policy") or {}).get("rules")
        if not rules or any(not r.get("name") or r.get("type") != "Lifecycle"
                            or not (r.get("definition") or {}).get("actions")
                            for r in rules):  # fmt: skip
            return 400, _error("InvalidRequestContent", "The management policy must have "
                               "at least one rule, each with a name, type Lifecycle and "
                               "actions.")  # fmt: skip
        self.policies[name] = [dict(r) for r in rules]
        return 200, self._policy(url.path, name)

    def _policy(self, path: str, name: str) -> dict[str, Any]:
        return {"id": path, "name": "DefaultManagementPolicy",
                "type": f"{_TYPE}/managementPolicies",
                "properties": {"lastModifiedTime": "2026-11-23T07:00:00.0000000Z",
                               "policy": {"rules": self.policies[name]}}}  # fmt: skip


_TYPE = "Microsoft.Storage/storageAccounts"


@pytest.fixture(name="arm")
def arm_fixture(
    azure_ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ArmStorageFake]:
    """The session's test CA (tests/azure_fake.py `azure_ca`) signs this fake's cert."""
    ca, path = azure_ca
    monkeypatch.setenv("OPTIMIZER_AZURE_TEST_TOKEN", TOKEN)
    fake = ArmStorageFake(ca.issue_cert("127.0.0.1"), path)
    try:
        yield fake
    finally:
        fake.close()
