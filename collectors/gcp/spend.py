"""BigQuery billing export -> FOCUS rows. Pure: SQL text, parameters and row mapping.

One parametrised query reads the window, aggregated to (day, project, service, SKU,
region, cost type, currency, invoice month, units) with credits summed per (type, name),
so the row count is bounded by the estate's shape, not its usage lines. The only user
text in the SQL is the table name, validated by `settings.TABLE` and backtick-quoted;
the window is passed as DATE parameters. The ingestion-time partition filter starts a
day before the window (usage is exported after it happens) and has no upper bound, so
late restatements of the window's days are read.

Rows are shaped like the flattened export (`service.description`, `credits` as JSON)
and mapped by `collectors.exports.gcp_billing.GcpBillingMapper`, the same mapping the
file import uses: a Usage/Tax/Adjustment row plus one Credit row per credit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.cloud import CostRows
from collectors.exports.common import FocusRow, MappingError, MapStats
from collectors.exports.gcp_billing import GcpBillingMapper
from collectors.gcp.settings import TABLE

EXPORT_SQL = """
SELECT
  g.day, g.billing_account_id, g.project_id, g.project_name, g.service_id,
  g.service_description, g.sku_id, g.sku_description, g.region, g.cost_type, g.currency,
  g.invoice_month, g.usage_unit, g.pricing_unit, g.cost, g.usage_amount,
  g.usage_amount_in_pricing_units,
  TO_JSON_STRING(ARRAY(
    SELECT AS STRUCT c.type AS type, c.name AS name, SUM(CAST(c.amount AS NUMERIC)) AS amount
    FROM UNNEST(g.credits) AS c
    GROUP BY c.type, c.name
    ORDER BY c.type, c.name
  )) AS credits
FROM (
  SELECT
    DATE(t.usage_start_time) AS day,
    t.billing_account_id,
    t.project.id AS project_id,
    ANY_VALUE(t.project.name) AS project_name,
    t.service.id AS service_id,
    t.service.description AS service_description,
    t.sku.id AS sku_id,
    t.sku.description AS sku_description,
    IFNULL(t.location.region, t.location.location) AS region,
    t.cost_type,
    t.currency,
    t.invoice.month AS invoice_month,
    t.usage.unit AS usage_unit,
    t.usage.pricing_unit AS pricing_unit,
    SUM(CAST(t.cost AS NUMERIC)) AS cost,
    SUM(CAST(t.usage.amount AS NUMERIC)) AS usage_amount,
    SUM(CAST(t.usage.amount_in_pricing_units AS NUMERIC)) AS usage_amount_in_pricing_units,
    ARRAY_CONCAT_AGG(t.credits) AS credits
  FROM `{table}` AS t
  WHERE DATE(t._PARTITIONTIME) >= DATE_SUB(@start_day, INTERVAL 1 DAY)
    AND t.usage_start_time >= TIMESTAMP(@start_day)
    AND t.usage_start_time < TIMESTAMP(@end_day)
    AND t.billing_account_id = @billing_account
  GROUP BY day, billing_account_id, project_id, service_id, service_description, sku_id,
    sku_description, region, cost_type, currency, invoice_month, usage_unit, pricing_unit
) AS g
ORDER BY g.day, g.project_id, g.service_id, g.sku_id
"""

# The FOCUS view (Google's BigQuery FOCUS view of the export) is FOCUS already.
FOCUS_SQL = """
SELECT
  DATE(v.ChargePeriodStart) AS day, v.BillingAccountId, v.SubAccountId, v.SubAccountName,
  v.ServiceName, v.ServiceCategory, v.RegionId, v.ChargeCategory, v.ChargeDescription,
  v.PricingCategory, v.BillingCurrency,
  SUM(CAST(v.BilledCost AS NUMERIC)) AS BilledCost,
  SUM(CAST(v.EffectiveCost AS NUMERIC)) AS EffectiveCost,
  SUM(CAST(v.ListCost AS NUMERIC)) AS ListCost
FROM `{table}` AS v
WHERE v.ChargePeriodStart >= TIMESTAMP(@start_day)
  AND v.ChargePeriodStart < TIMESTAMP(@end_day)
  AND v.BillingAccountId = @billing_account
GROUP BY day, BillingAccountId, SubAccountId, SubAccountName, ServiceName,
  ServiceCategory, RegionId, ChargeCategory, ChargeDescription, PricingCategory,
  BillingCurrency
ORDER BY day, SubAccountId, ServiceName
"""

# aggregated column -> the flattened export column GcpBillingMapper reads
EXPORT_COLUMNS = {
    "billing_account_id": "billing_account_id", "project_id": "project.id",
    "project_name": "project.name", "service_id": "service.id",
    "service_description": "service.description", "sku_id": "sku.id",
    "sku_description": "sku.description", "region": "location.region",
    "cost_type": "cost_type", "currency": "currency", "invoice_month": "invoice.month",
    "usage_unit": "usage.unit", "pricing_unit": "usage.pricing_unit", "cost": "cost",
    "usage_amount": "usage.amount",
    "usage_amount_in_pricing_units": "usage.amount_in_pricing_units", "credits": "credits",
}  # fmt: skip


FOCUS_COLUMNS = (
    "BillingAccountId", "SubAccountId", "SubAccountName", "ServiceName", "ServiceCategory",
    "RegionId", "ChargeCategory", "ChargeDescription", "PricingCategory", "BillingCurrency",
    "BilledCost", "EffectiveCost", "ListCost",
)  # fmt: skip


def query(kind: str, table: str, start: date, end: date, account: str) -> tuple[str, list[Any]]:
    """(SQL, parameters) reading [start, end) of `table` for one billing account."""
    if not TABLE.match(table):  # settings validated it; never format anything else in
        raise ValueError(f"refusing table name {table!r}")
    sql = (FOCUS_SQL if kind == "focus" else EXPORT_SQL).replace("{table}", table)
    params = [("start_day", "DATE", start), ("end_day", "DATE", end),
              ("billing_account", "STRING", account)]  # fmt: skip
    return sql, params


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal | float | int):
        return format(Decimal(str(value)), "f")
    return str(value)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def natural_key(source_key: str, parts: Iterable[Any]) -> str:
    material = "\x1f".join(["gcp-bq", source_key, *(str(p) for p in parts)])
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def export_row(row: Mapping[str, Any]) -> dict[str, str | None]:
    """One aggregated row -> the flattened export row GcpBillingMapper reads."""
    day = _day(row.get("day"))
    native = {col: _text(row.get(name)) for name, col in EXPORT_COLUMNS.items()}
    native["usage_start_time"] = f"{day.isoformat()}T00:00:00+00:00"
    native["usage_end_time"] = f"{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00"
    for column in ("billing_account_id", "cost", "currency"):
        if not native.get(column):
            raise ValueError(f"{column} is empty")
    if len(native["currency"] or "") != 3:
        raise ValueError("currency is not a currency code")
    return native


def map_export(rows: Iterable[Mapping[str, Any]], source_key: str) -> CostRows:
    """Aggregated export rows -> FOCUS rows; a bad row is quarantined, the rest kept."""
    out = CostRows()
    mapper, stats = GcpBillingMapper(), MapStats()
    for n, row in enumerate(rows, start=1):
        try:
            native = export_row(row)
            mapped = mapper.map_row(native, n, stats)
        except MappingError as exc:
            out.quarantine(f"{exc.column}: {exc.problem.split(':')[0]}")
            continue
        except (ValueError, TypeError) as exc:
            out.quarantine(f"bad row: {exc}")
            continue
        group = [native.get(c) for c in ("usage_start_time", "project.id", "service.id",
                 "sku.id", "sku.description", "location.region", "cost_type", "currency",
                 "invoice.month", "usage.unit", "usage.pricing_unit")]  # fmt: skip
        keys = [
            natural_key(
                source_key,
                [
                    *group,
                    r.get("ChargeCategory"),
                    r.get("ChargeDescription"),
                    r.get("x_CreditType"),
                ],
            )
            for r in mapped
        ]
        out.add(mapped, keys, "duplicate (day, project, service, sku) group")
    return out


CHARGE_CATEGORIES = frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"})


def _focus_problem(row: Mapping[str, Any]) -> str | None:
    """Why a FOCUS view row cannot be stored (a FOCUS-required value missing or bad)."""
    for name in ("BilledCost", "EffectiveCost"):
        try:
            if not Decimal(str(row.get(name))).is_finite():
                return f"{name} is not a number"
        except ArithmeticError:
            return f"{name} is not a number"
    if len(str(row.get("BillingCurrency") or "")) != 3:
        return "BillingCurrency is not a currency code"
    if not row.get("BillingAccountId"):
        return "BillingAccountId is empty"
    if row.get("ChargeCategory") not in CHARGE_CATEGORIES:
        return "ChargeCategory is not a FOCUS charge category"
    return None


def map_focus(rows: Iterable[Mapping[str, Any]], source_key: str) -> CostRows:
    """Aggregated FOCUS view rows -> FOCUS rows (already FOCUS: dates and text only)."""
    out = CostRows()
    for row in rows:
        try:
            day = _day(row.get("day"))
        except (TypeError, ValueError):
            out.quarantine("no or bad day")
            continue
        problem = _focus_problem(row)
        if problem:
            out.quarantine(problem)
            continue
        focus: FocusRow = {k: _text(row.get(k)) for k in FOCUS_COLUMNS}
        focus["ChargePeriodStart"] = f"{day.isoformat()}T00:00:00Z"
        focus["ChargePeriodEnd"] = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
        focus["ProviderName"] = focus["InvoiceIssuerName"] = "Google Cloud"
        focus["PublisherName"] = "Google Cloud"
        key = natural_key(source_key, [day, *(focus.get(k) for k in sorted(focus))])
        out.add([focus], [key], "duplicate FOCUS group")
    return out
