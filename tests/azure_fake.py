"""A local Azure for tests: an HTTPS server (trustme CA, certificate for 127.0.0.1)
speaking the REST shapes of `POST {scope}/providers/Microsoft.CostManagement/
query?api-version=…`, driven by the real CostManagementClient, and (`ArmFake`) the GETs
of the compute, storage and monitor clients and of the public Retail Prices API.

Responses are built like the 2023-11-01 REST examples (native-exports/azure): columns
then positional rows, `nextLink` with a `$skiptoken` when more pages follow. Failures
(429 with Retry-After, 401, 403, …) can be queued ahead of normal answers, or made
permanent. The bearer token must be TOKEN (OPTIMIZER_AZURE_TEST_TOKEN), else 401.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import trustme

TOKEN = "fake-token-for-tests"
QUERY_PATH = "/providers/Microsoft.CostManagement/query"


def columns(body: dict[str, Any]) -> list[dict[str, str]]:
    """A daily query's columns, as Azure orders them: the summed cost (named by the
    aggregation: Cost or PreTaxCost), UsageDate, the grouping dimensions, Currency."""
    cost = next(iter(body["dataset"]["aggregation"].values()))["name"]
    dims = [{"name": g["name"], "type": "String"} for g in body["dataset"].get("grouping", [])]
    return [{"name": cost, "type": "Number"}, {"name": "UsageDate", "type": "Number"}, *dims,
            {"name": "Currency", "type": "String"}]  # fmt: skip


DENIED = {
    "error": {
        "code": "AuthorizationFailed",
        "message": "The client 'c0ffee00-0000-0000-0000-000000000000' with object id "
        "'c0ffee00-0000-0000-0000-000000000000' does not have authorization to perform "
        "action 'Microsoft.CostManagement/query/action' over scope '{scope}' or the scope "
        "is invalid.",
    }
}
THROTTLED = {"error": {"code": "429", "message": "Too many requests. Please retry."}}
BAD_TOKEN = {"error": {"code": "InvalidAuthenticationToken", "message": "The access token "
                       "is invalid."}}  # fmt: skip
Failure = tuple[int, dict[str, str], dict[str, Any]]
Series = tuple[dict[str, str], list[Any]]  # (dimension values, data points)


def throttled(retry_after: str = "0") -> Failure:
    return 429, {"Retry-After": retry_after}, THROTTLED


def denied(action: str = "Microsoft.CostManagement/query/action") -> Failure:
    message = DENIED["error"]["message"].replace("Microsoft.CostManagement/query/action", action)
    return 403, {}, {"error": {"code": "AuthorizationFailed", "message": message}}


def unauthorized() -> Failure:
    return 401, {}, BAD_TOKEN


ARM_APIS = {  # path suffix (lower case) -> API label
    "/providers/microsoft.compute/virtualmachines": "vms",
    "/providers/microsoft.compute/virtualmachinescalesets": "vmss",
    "/providers/microsoft.compute/skus": "skus",
    "/providers/microsoft.storage/storageaccounts": "accounts",
    "/managementpolicies/default": "policies",
    "/providers/microsoft.insights/metrics": "metrics",
}
PRICES_PATH = "/api/retail/prices"
UNITS = {"Percentage CPU": "Percent", "BlobCapacity": "Bytes", "BlobCount": "Count"}


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vm(sub: str, rg: str, name: str, size: str | None, location: str = "eastus",
       spot: bool = False, tags: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A virtual_machines.list_all item (REST shape)."""
    props: dict[str, Any] = {"vmId": str(uuid.uuid4()), "provisioningState": "Succeeded"}
    if size is not None:
        props["hardwareProfile"] = {"vmSize": size}
    if spot:
        props |= {"priority": "Spot", "evictionPolicy": "Deallocate"}
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
            f"virtualMachines/{name}", "name": name, "type": "Microsoft.Compute/virtualMachines",
            "location": location, "tags": tags or {}, "properties": props}  # fmt: skip


def vmss(sub: str, rg: str, name: str, size: str, capacity: int, location: str = "eastus",
         spot: bool = False) -> dict[str, Any]:  # fmt: skip
    profile = {"priority": "Spot"} if spot else {}
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/{name}", "name": name, "location": location,
            "type": "Microsoft.Compute/virtualMachineScaleSets",
            "sku": {"name": size, "tier": "Standard", "capacity": capacity},
            "properties": {"orchestrationMode": "Uniform",
                           "virtualMachineProfile": profile}}  # fmt: skip


def sku(name: str, vcpu: int, memory_gb: float, locations: list[str]) -> dict[str, Any]:
    """A resource_skus.list item for a VM size."""
    return {"resourceType": "virtualMachines", "name": name, "tier": "Standard",
            "size": name.removeprefix("Standard_"), "family": "standardDSv3Family",
            "locations": locations, "restrictions": [],
            "capabilities": [{"name": "vCPUs", "value": str(vcpu)},
                             {"name": "MemoryGB", "value": str(memory_gb)}]}  # fmt: skip


def account(sub: str, rg: str, name: str, location: str = "eastus", kind: str = "StorageV2",
            tier: str = "Hot") -> dict[str, Any]:  # fmt: skip
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/"
            f"storageAccounts/{name}", "name": name, "location": location, "kind": kind,
            "type": "Microsoft.Storage/storageAccounts", "tags": {"owner": "data"},
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {"accessTier": tier, "provisioningState": "Succeeded"}}  # fmt: skip


def price(region: str, size: str, unit_price: Any, spot: bool = False, product: str = "",
          sku_name: str = "", unit: str = "1 Hour") -> dict[str, Any]:  # fmt: skip
    """A Retail Prices API item (Linux, Consumption) as prices.azure.com sends it."""
    short = size.removeprefix("Standard_").replace("_", " ")
    return {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": unit_price,
            "unitPrice": unit_price, "armRegionName": region, "location": "US East",
            "effectiveStartDate": "2024-01-01T00:00:00Z", "meterId": str(uuid.uuid4()),
            "meterName": f"{short}{' Spot' if spot else ''}", "productId": "DZH318Z0BQ4L",
            "skuId": "DZH318Z0BQ4L/00TG", "productName": product or "Virtual Machines DSv3 Series",
            "skuName": sku_name or f"{short}{' Spot' if spot else ''}",
            "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
            "serviceFamily": "Compute", "unitOfMeasure": unit, "type": "Consumption",
            "isPrimaryMeterRegion": True, "armSkuName": size}  # fmt: skip


def hourly(start: datetime, values: list[float | None]) -> list[dict[str, Any]]:
    """Monitor data points, one per hour from `start` (None: an hour without data)."""
    out = []
    for i, v in enumerate(values):
        point: dict[str, Any] = {"timeStamp": _ts(start + timedelta(hours=i))}
        if v is not None:
            point["average"] = v
        out.append(point)
    return out


def _within(point: dict[str, Any], first: datetime, last: datetime) -> bool:
    """A point inside the asked timespan (one that cannot be read is served as is)."""
    try:
        when = datetime.fromisoformat(str(point["timeStamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return True
    return first <= when < last


class ArmFake:
    """State and answers of the GET APIs; FakeAzure serves them beside the cost query."""

    def __init__(self) -> None:
        self.url = ""
        self.vms: dict[str, list[dict[str, Any]]] = {}  # subscription -> items
        self.scale_sets: dict[str, list[dict[str, Any]]] = {}
        self.skus: list[dict[str, Any]] = []
        self.accounts: dict[str, list[dict[str, Any]]] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}  # account id (lower) -> rules
        # (resource id lower, metric name) -> [(dimension values, data points)]
        self.series: dict[tuple[str, str], list[Series]] = {}
        self.prices: list[dict[str, Any]] = []
        # (resource id lower, metric name) -> series, for what `series` lacks (benchmarks:
        # made on request instead of held for 10k resources)
        self.series_factory: Callable[[str, str], list[Series]] | None = None
        self.page_size = 100
        self.fail: dict[str, list[Failure]] = {}  # API label -> failures served first
        self.fail_always: dict[str, Failure] = {}
        self.gets: list[dict[str, Any]] = []

    def add_series(self, resource_id: str, metric: str, points: list[Any],
                   dims: dict[str, str] | None = None) -> None:  # fmt: skip
        key = (resource_id.lower(), metric)
        self.series.setdefault(key, []).append((dims or {}, points))

    def got(self, api: str) -> int:
        return sum(1 for g in self.gets if g["api"] == api)

    def answer_get(self, raw_path: str, headers: Any) -> Failure:
        url = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.lower()
        api = "prices" if path == PRICES_PATH else next(
            (label for end, label in ARM_APIS.items() if path.endswith(end)), "?")  # fmt: skip
        self.gets.append({"api": api, "path": url.path, "query": query})
        if api != "prices" and headers.get("Authorization") != f"Bearer {TOKEN}":
            return unauthorized()
        if api in self.fail_always:
            return self.fail_always[api]
        if self.fail.get(api):
            return self.fail[api].pop(0)
        if api == "prices":
            return self._prices(query)
        if api == "?" or "api-version" not in query:
            return 404, {}, {"error": {"code": "NotFound", "message": url.path}}
        sub = url.path.split("/")[2] if path.startswith("/subscriptions/") else ""
        if api == "metrics":
            return self._metrics(url.path[: -len("/providers/Microsoft.Insights/metrics")], query)
        if api == "policies":
            rules = self.policies.get(url.path.lower().removesuffix("/managementpolicies/default"))
            if rules is None:
                return 404, {}, {"error": {"code": "ManagementPolicyNotFound", "message":
                                           "No ManagementPolicy found for account"}}  # fmt: skip
            return 200, {}, {"id": url.path, "name": "DefaultManagementPolicy",
                             "type": "Microsoft.Storage/storageAccounts/managementPolicies",
                             "properties": {"lastModifiedTime": "2024-01-01T00:00:00Z",
                                            "policy": {"rules": rules}}}  # fmt: skip
        items = {"vms": self.vms.get(sub, []), "vmss": self.scale_sets.get(sub, []),
                 "accounts": self.accounts.get(sub, []), "skus": self.skus}[api]  # fmt: skip
        if api == "skus":
            where = re.fullmatch(r"location eq '([^']+)'", query.get("$filter", ""))
            if where is None:
                return 400, {}, {"error": {"code": "BadRequest", "message": "location filter"}}
            items = [s for s in items if where.group(1) in s["locations"]]
        at = int(query.get("$skiptoken", "0"))
        page: dict[str, Any] = {"value": items[at : at + self.page_size]}
        if at + self.page_size < len(items):
            page["nextLink"] = (f"{self.url}{url.path}?api-version={query['api-version']}"
                                f"&$skiptoken={at + self.page_size}")  # fmt: skip
        return 200, {}, page

    def _metrics(self, resource_id: str, query: dict[str, str]) -> Failure:
        if query.get("interval") != "PT1H" or not query.get("aggregation"):
            return 400, {}, {"error": {"code": "BadRequest", "message": "interval/aggregation"}}
        first, last = (datetime.fromisoformat(t.replace("Z", "+00:00"))
                       for t in query["timespan"].split("/"))  # fmt: skip
        split = "$filter" in query  # "Tier eq '*'": one series per tier, else their sum
        value = []
        for name in query.get("metricnames", "").split(","):
            series = []
            key = (resource_id.lower(), name)
            found = self.series.get(key)
            if found is None and self.series_factory is not None:
                found = self.series_factory(*key)
            for dims, points in found or []:
                kept = [p for p in points if _within(p, first, last)]
                meta = [{"name": {"value": k.lower(), "localizedValue": k}, "value": v}
                        for k, v in dims.items()] if split else []  # fmt: skip
                series.append({"metadatavalues": meta, "data": kept})
            if not split and len(series) > 1:  # by dimension, asked unsplit: their sum
                sums: dict[str, float] = {}
                for s in series:
                    for p in s["data"]:
                        sums[p["timeStamp"]] = sums.get(p["timeStamp"], 0) + p.get("average", 0)
                series = [{"metadatavalues": [], "data": [
                    {"timeStamp": t, "average": v} for t, v in sorted(sums.items())]}]  # fmt: skip
            value.append({"id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
                          "type": "Microsoft.Insights/metrics", "errorCode": "Success",
                          "name": {"value": name, "localizedValue": name},
                          "unit": UNITS.get(name, "Count"), "timeseries": series})  # fmt: skip
        return 200, {}, {"cost": 0, "timespan": query["timespan"], "interval": "PT1H",
                         "namespace": "Microsoft.Compute/virtualMachines",
                         "resourceregion": "eastus", "value": value}  # fmt: skip

    def _prices(self, query: dict[str, str]) -> Failure:
        odata = query.get("$filter", "")
        region = re.search(r"armRegionName eq '([^']+)'", odata)
        if "serviceName eq 'Virtual Machines'" not in odata or region is None:
            return 400, {}, {"Error": {"Code": "BadRequest", "Message": "unexpected filter"}}
        items = [p for p in self.prices if p.get("armRegionName") == region.group(1)]
        at = int(query.get("$skip", "0"))
        page = items[at : at + self.page_size]
        link = None
        if at + self.page_size < len(items):
            link = (f"{self.url}{PRICES_PATH}?currencyCode=USD&$filter={quote(odata)}"
                    f"&$skip={at + self.page_size}")  # fmt: skip
        return 200, {}, {"BillingCurrency": "USD", "CustomerEntityId": "Default",
                         "CustomerEntityType": "Retail", "Items": page,
                         "NextPageLink": link, "Count": len(page)}  # fmt: skip


class FakeAzure(ArmFake):
    def __init__(self, cert: trustme.LeafCert, ca_path: str):
        ArmFake.__init__(self)
        self.ca_path = ca_path
        self.pages: dict[str, list[list[list[Any]]]] = {}  # type -> pages of rows
        self.queued: list[Failure] = []
        self.always: Failure | None = None
        self.refused_cost_column: str | None = None  # an aggregation name answered with 400
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Azure: no TLS handshake per call
            disable_nagle_algorithm = True  # headers and body go out without waiting

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self._reply(*outer.answer(self.path, self.headers, body))

            def do_GET(self) -> None:
                self._reply(*outer.answer_get(self.path, self.headers))

            def _reply(self, status: int, headers: dict[str, str], reply: Any) -> None:
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting ----------------------------------------------------------------------
    def set_rows(self, kind: str, rows: list[list[Any]], page_size: int = 1000) -> None:
        """The rows a query of `kind` returns, `page_size` per page (nextLink between)."""
        self.pages[kind] = [rows[i : i + page_size] for i in range(0, len(rows), page_size)]

    def calls(self, kind: str | None = None) -> int:
        return sum(1 for r in self.requests if kind is None or r["body"].get("type") == kind)

    # -- serving ------------------------------------------------------------------------
    def answer(self, raw_path: str, headers: Any, body: dict[str, Any]) -> Failure:
        url = urlsplit(raw_path)
        query = parse_qs(url.query)
        self.requests.append({"path": url.path, "query": query, "body": body})
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return unauthorized()
        if self.always is not None:
            return self.always
        if self.queued:
            return self.queued.pop(0)
        if not url.path.endswith(QUERY_PATH) or "api-version" not in query:
            return 404, {}, {"error": {"code": "NotFound", "message": url.path}}
        scope = url.path.removesuffix(QUERY_PATH)
        cost = next(iter(body["dataset"]["aggregation"].values()))["name"]
        if cost == self.refused_cost_column:
            message = f"Invalid query definition: aggregation column {cost} is not valid"
            return 400, {}, {"error": {"code": "BadRequest", "message": message}}
        if len(body["dataset"].get("grouping", [])) > 2:
            return 400, {}, {"error": {"code": "BadRequest", "message": "at most 2 groupings"}}
        if body.get("timeframe") != "Custom" or body["dataset"]["granularity"] != "Daily":
            return 400, {}, {"error": {"code": "BadRequest", "message": "unexpected query"}}
        kind = str(body.get("type"))
        pages = self.pages.get(kind) or [[]]
        token = query.get("$skiptoken", [None])[0]
        index = int(base64.b64decode(token).decode().split(":")[1]) if token else 0
        next_link = None
        if index + 1 < len(pages):
            skip = base64.b64encode(f"{kind}:{index + 1}".encode()).decode()
            next_link = (f"{self.url}{url.path}?api-version={query['api-version'][0]}"
                         f"&$skiptoken={quote(skip, safe='')}")  # fmt: skip
        qid = str(uuid.uuid4())
        return (
            200,
            {},
            {
                "id": f"{scope}/providers/Microsoft.CostManagement/Query/{qid}",
                "name": qid,
                "type": "microsoft.costmanagement/Query",
                "properties": {
                    "nextLink": next_link,
                    "columns": columns(body),
                    "rows": pages[index],
                },
            },
        )


@pytest.fixture(scope="session")
def azure_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("azure-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


@pytest.fixture(name="azure")
def azure_fixture(
    azure_ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAzure]:
    ca, path = azure_ca
    monkeypatch.setenv("OPTIMIZER_AZURE_TEST_TOKEN", TOKEN)
    fake = FakeAzure(ca.issue_cert("127.0.0.1"), path)
    try:
        yield fake
    finally:
        fake.close()
