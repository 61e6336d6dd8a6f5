"""A local Price List Query API (moto has none: testing-notes §3) speaking its wire
protocol, JSON 1.1: POST /, `X-Amz-Target: AWSPriceListService.GetProducts`, body
{ServiceCode, Filters[{Type, Field, Value}], FormatVersion, NextToken, MaxResults};
answer {FormatVersion, PriceList: [<JSON string per product>], NextToken}.

It filters its products by the TERM_MATCH filters as AWS does, pages by MaxResults,
and can fail on purpose: `throttle` ThrottlingException answers first, or `deny`
(AccessDeniedException) or `expired` (ExpiredTokenException) on every request.
"""

from __future__ import annotations

import json
from typing import Any

from tests.json11_fake import Json11Server


def product(
    itype: str, region: str, usd: str, vcpu: int = 2, memory: str = "8 GiB", **attrs: str
) -> dict[str, Any]:
    """A real-shaped AmazonEC2 price list product (api-shapes: PriceList items)."""
    sku = f"SKU{abs(hash((itype, region, usd, tuple(attrs.items())))) % 10**10:010d}"
    attributes = {
        "instanceType": itype, "instanceFamily": "General purpose", "vcpu": str(vcpu),
        "memory": memory, "regionCode": region, "location": "US East (N. Virginia)",
        "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
        "capacitystatus": "Used", "licenseModel": "No License required",
        "servicecode": "AmazonEC2", "usagetype": f"BoxUsage:{itype}", "operation": "RunInstances",
        **attrs,
    }  # fmt: skip
    term = f"{sku}.JRTCKXETXF"
    return {
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"${usd} per On Demand Linux {itype} Instance Hour",
                            "appliesTo": [],
                            "rateCode": f"{term}.6YS6EN2CT7",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": usd},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2024-09-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": "20240901000000",
        "publicationDate": "2024-09-01T00:00:00Z",
    }


class FakePricing(Json11Server):
    def __init__(self, products: list[dict[str, Any]] | None = None):
        self.products: list[Any] = list(products or [])  # dicts, or raw strings (malformed)
        self.throttle = 0
        self.deny = False
        self.expired = False
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    def answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append(body)
        if target != "AWSPriceListService.GetProducts":
            return 400, {"__type": "UnknownOperationException", "message": target}
        if self.throttle > 0:
            self.throttle -= 1
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        if self.expired:
            return 400, {"__type": "ExpiredTokenException", "message": "token expired"}
        if self.deny:
            return 400, {
                "__type": "AccessDeniedException",
                "Message": "User: arn:aws:iam::1:user/x is not authorized to perform: "
                "pricing:GetProducts",
            }
        match = {f["Field"]: f["Value"] for f in body.get("Filters", [])}
        found = [
            p if isinstance(p, str) else json.dumps(p)
            for p in self.products
            if isinstance(p, str)
            or all(p["product"]["attributes"].get(k) == v for k, v in match.items())
        ]
        start = int(body.get("NextToken") or 0)
        size = int(body.get("MaxResults") or 100)
        reply: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": found[start : start + size],
        }
        if start + size < len(found):
            reply["NextToken"] = str(start + size)
        return 200, reply
