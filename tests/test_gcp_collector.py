"""The GCP collector's settings, check() and spend: the real google-cloud-bigquery client
against a local fake of the BigQuery REST API (tests/gcp_fake.py). The SQL and the
parameters the fake receives are asserted on; the rows are mapped by the export file
mapping (collectors/exports/gcp_billing.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from collectors.gcp import spend
from collectors.gcp.collector import GcpCollector
from collectors.gcp.settings import GcpSource
from store import costs
from store.models import CostRecord, SourceState
from tests.conftest import run_cli
from tests.gcp_data import ACCOUNT, PROJECT, TABLE, bq_row
from tests.gcp_fake import FakeGcp, denied, error, gcp_fixture, throttled, unauthorized  # noqa: F401
from tests.gcp_storage import free_port

TODAY = date(2024, 3, 10)


def d(n: int) -> date:
    return TODAY - timedelta(days=n)


def source(gcp: FakeGcp, **kw: Any) -> GcpSource:
    base: dict[str, Any] = {
        "type": "gcp", "name": "corp", "billing_account": ACCOUNT, "projects": [PROJECT],
        "bigquery_table": TABLE, "endpoints": gcp.endpoints(), "first_days": 3,
        "max_attempts": 2, "retry_seconds": 0, "prices": False, "inventory": False,
        "metrics": False, "storage": False,
    }  # fmt: skip
    return GcpSource(**{**base, **kw})


def totals(engine: Engine) -> tuple[int, Decimal, Decimal]:
    with engine.connect() as conn:
        t = costs.totals(conn, "corp")
    return t.rows, t.billed_cost, t.effective_cost


def state(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(SourceState.__table__)).one()


SUD = '[{"type":"SUSTAINED_USAGE_DISCOUNT","name":"Sustained usage discount","amount":-0.25}]'


# -- settings -------------------------------------------------------------------------
def test_settings_validate_account_table_and_refuse_credentials(gcp: FakeGcp) -> None:
    src = source(gcp, billing_account="012345-6789ab-cdef01")
    assert src.billing_account == ACCOUNT and src.bigquery_project == PROJECT
    assert src.restate_days == 3 and src.bigquery_kind == "standard"
    for bad in ("x.y", f"{PROJECT}.d.t`; DROP TABLE x; --", f"{PROJECT}.d.t.u", "a b.c.d"):
        with pytest.raises(ValidationError, match=r"project\.dataset\.table"):
            source(gcp, bigquery_table=bad)
    with pytest.raises(ValidationError, match="billing_account"):
        source(gcp, billing_account="12345")
    with pytest.raises(ValidationError, match=r"credentials never go in optimizer\.toml"):
        source(gcp, private_key_json="{...}")
    with pytest.raises(ValidationError, match="needs bigquery_table"):
        source(gcp, bigquery_table=None)
    with pytest.raises(ValidationError, match="extra"):
        source(gcp, project="p")


def test_query_is_parametrised_and_only_the_validated_table_is_in_the_sql() -> None:
    sql, params = spend.query("standard", TABLE, d(3), TODAY, ACCOUNT)
    assert f"FROM `{TABLE}` AS t" in sql and "@start_day" in sql and "@end_day" in sql
    assert "_PARTITIONTIME" in sql and "@billing_account" in sql
    assert params == [("start_day", "DATE", d(3)), ("end_day", "DATE", TODAY),
                      ("billing_account", "STRING", ACCOUNT)]  # fmt: skip
    with pytest.raises(ValueError, match="refusing"):
        spend.query("standard", "p.d.t`--", d(3), TODAY, ACCOUNT)
    # the detailed (resource-level) table has the same columns: same aggregate, bounded
    assert spend.query("detailed", TABLE, d(3), TODAY, ACCOUNT)[0] == sql
    focus_sql, focus_params = spend.query("focus", TABLE, d(3), TODAY, ACCOUNT)
    assert "ChargePeriodStart >= TIMESTAMP(@start_day)" in focus_sql and focus_params == params


# -- check ----------------------------------------------------------------------------
def test_check_ok_runs_a_zero_row_query(gcp: FakeGcp) -> None:
    result = GcpCollector(source(gcp)).check()
    assert result.status == "ok", result
    sent = gcp.bq_queries()[0]
    assert sent["query"] == f"SELECT 1 AS ok FROM `{TABLE}` WHERE FALSE"


@pytest.mark.parametrize(
    ("failure", "status", "hint", "permission"),
    [
        (unauthorized(), "auth_failed", "gcloud auth application-default login", None),
        (denied("bigquery.jobs.create"), "permission_denied", "bigquery.jobs.create",
         "bigquery.jobs.create"),
        (error(403, "Access Denied: Table x: User does not have permission to query table x."),
         "permission_denied", "bigquery.jobs.create", "bigquery.jobs.create"),
        (throttled(), "throttled", "max_attempts", None),
        (error(404, "Not found: Table shop-prod-1:billing_export.x"), "invalid_config",
         "bigquery_table", None),
    ],
)  # fmt: skip
def test_check_maps_errors_to_statuses(
    gcp: FakeGcp, failure: Any, status: str, hint: str, permission: str | None
) -> None:
    gcp.always["bigquery"] = failure
    result = GcpCollector(source(gcp)).check()
    assert result.status == status, result
    assert hint in result.hint and result.missing_permission == permission


def test_missing_application_default_credentials_is_auth_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, gcp: FakeGcp
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    src = source(gcp, endpoints={})
    result = GcpCollector(src).check()
    assert result.status == "auth_failed"
    assert "gcloud auth application-default login" in result.hint


def test_expired_credentials_are_auth_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, gcp: FakeGcp
) -> None:
    """Real ADC (a service-account file, a throwaway key made here, whose token endpoint
    is the fake): the token request is refused as Google refuses a revoked key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
        "private_key": pem, "client_email": f"optimizer@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"{gcp.url}/token",
    }))  # fmt: skip
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    result = GcpCollector(source(gcp, endpoints={})).check()
    assert result.status == "auth_failed", result
    assert "expired or revoked" in result.detail and "application-default" in result.hint
    assert gcp.calls("oauth") == 1 and gcp.calls("bigquery") == 0


def test_unreachable_endpoint(gcp: FakeGcp) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = GcpCollector(source(gcp, endpoints={"bigquery": url}, max_attempts=1)).check()
    assert result.status == "unreachable", result


# -- spend ----------------------------------------------------------------------------
def test_collect_maps_rows_credits_and_taxes_through_the_export_mapping(
    gcp: FakeGcp, engine: Engine
) -> None:
    gcp.page_size = 2  # getQueryResults paging
    gcp.bq_rows = [
        bq_row(d(3), "Compute Engine", "10.5", SUD),
        bq_row(d(3), "Cloud Storage", "0.335"),
        bq_row(d(2), "Compute Engine", "11"),
        bq_row(d(1), "Compute Engine", "1.2", cost_type="tax", sku_id=None),
        bq_row(d(1), "Support", "-2", cost_type="adjustment"),
    ]
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.window == (d(3), TODAY) and s.rows == {"cost_records": 6}
    assert s.api_calls == {"bigquery.jobs.getQueryResults": 2, "bigquery.jobs.query": 1}
    sent = gcp.bq_queries()[0]
    assert f"FROM `{TABLE}`" in sent["query"] and "GROUP BY" in sent["query"]
    params = {p["name"]: p["parameterValue"]["value"] for p in sent["queryParameters"]}
    assert params == {"start_day": d(3).isoformat(), "end_day": TODAY.isoformat(),
                      "billing_account": ACCOUNT}  # fmt: skip
    rows, billed, effective = totals(engine)
    # net = Σ cost + Σ credits = 10.5 + 0.335 + 11 + 1.2 - 2 - 0.25
    assert rows == 6 and billed == Decimal("20.785") and effective == billed
    with engine.connect() as conn:
        t = CostRecord.__table__  # type: ignore[attr-defined]
        got = conn.execute(
            sa.select(t.c.charge_category, sa.func.count()).group_by(t.c.charge_category)
        ).all()
    assert dict(got) == {"Usage": 3, "Credit": 1, "Tax": 1, "Adjustment": 1}
    mark = state(engine)
    assert mark.last_status == "ok" and mark.watermark.date() == TODAY


def test_rerun_replaces_restated_days_and_never_double_counts(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_rows = [bq_row(d(3), "Compute Engine", "10"), bq_row(d(1), "Compute Engine", "5")]
    collector = GcpCollector(source(gcp, restate_days=2))
    assert collector.collect(engine, TODAY).status == "ok"
    assert totals(engine)[:2] == (2, Decimal("15"))
    # next day: the window is [watermark - 2 days, today); d(1) was restated to 6
    gcp.bq_rows = [bq_row(d(1), "Compute Engine", "6"), bq_row(d(0), "Compute Engine", "7")]
    s = collector.collect(engine, TODAY + timedelta(days=1))
    assert s.window == (d(2), TODAY + timedelta(days=1)) and s.status == "ok"
    assert totals(engine)[:2] == (3, Decimal("23"))  # 10 + 6 + 7
    assert collector.collect(engine, TODAY + timedelta(days=1)).status == "ok"
    assert totals(engine)[:2] == (3, Decimal("23"))  # same again: replaced, not doubled


def test_malformed_rows_are_quarantined_and_counted(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_rows = [
        bq_row(d(2), "Compute Engine", "3"),
        bq_row(d(2), "Networking", "1", credits="not json at all"),
        bq_row(d(2), "Logging", "1", currency=None),
        bq_row(d(1), "Compute Engine", "3", cost_type="mystery"),  # kept as Adjustment
        bq_row(d(2), "Compute Engine", "3"),  # the same group twice
    ]
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok" and s.rows == {"cost_records": 2}
    assert sum(s.quarantined.values()) == 3, s.quarantined
    assert any("credits" in k for k in s.quarantined)
    assert any("duplicate" in k for k in s.quarantined)


def test_empty_window_is_ok_with_no_rows(gcp: FakeGcp, engine: Engine) -> None:
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok" and s.rows == {"cost_records": 0}


def test_throttling_is_retried_then_reported(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_rows = [bq_row(d(2), "Compute Engine", "3")]
    gcp.queued["bigquery"] = [throttled()]
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok" and s.api_calls["bigquery.jobs.query"] == 2
    gcp.always["bigquery"] = throttled()
    failed = GcpCollector(source(gcp, max_attempts=3)).collect(engine, TODAY + timedelta(1))
    assert failed.status == "throttled" and failed.api_calls["bigquery.jobs.query"] == 3
    assert totals(engine)[:2] == (1, Decimal("3"))  # the earlier run's rows are intact
    assert state(engine).watermark.date() == TODAY  # not moved by the failure


def test_bigquery_rate_limit_403_is_retried_as_throttling(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_rows = [bq_row(d(2), "Compute Engine", "3")]
    limit = error(
        403, "Exceeded rate limits: too many table update operations", "rateLimitExceeded"
    )
    gcp.queued["bigquery"] = [limit]
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok" and s.api_calls["bigquery.jobs.query"] == 2
    gcp.always["bigquery"] = limit
    failed = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert failed.status == "throttled" and failed.api_calls["bigquery.jobs.query"] == 2


def test_permission_denied_keeps_watermark_and_store(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_rows = [bq_row(d(2), "Compute Engine", "3")]
    assert GcpCollector(source(gcp)).collect(engine, TODAY).status == "ok"
    gcp.always["bigquery"] = denied("bigquery.tables.getData")
    s = GcpCollector(source(gcp)).collect(engine, TODAY + timedelta(days=2))
    assert s.status == "permission_denied" and "bigquery.tables.getData" in s.hint
    assert totals(engine)[:2] == (1, Decimal("3"))
    mark = state(engine)
    assert mark.watermark.date() == TODAY and mark.last_status == "failed"


def test_focus_view_rows(gcp: FakeGcp, engine: Engine) -> None:
    gcp.bq_schema = [("day", "DATE"), ("BillingAccountId", "STRING"),
                     ("SubAccountId", "STRING"), ("ServiceName", "STRING"),
                     ("ChargeCategory", "STRING"), ("BillingCurrency", "STRING"),
                     ("BilledCost", "NUMERIC"), ("EffectiveCost", "NUMERIC"),
                     ("ListCost", "NUMERIC")]  # fmt: skip
    base = {"BillingAccountId": ACCOUNT, "SubAccountId": PROJECT, "ChargeCategory": "Usage",
            "BillingCurrency": "USD"}  # fmt: skip
    gcp.bq_rows = [
        {**base, "day": d(2).isoformat(), "ServiceName": "Compute Engine", "BilledCost": "4",
         "EffectiveCost": "3.5", "ListCost": "5"},
        {**base, "day": d(1).isoformat(), "ServiceName": "BigQuery", "BilledCost": "1",
         "EffectiveCost": "1", "ListCost": "1"},
        {**base, "day": d(1).isoformat(), "ServiceName": "Bad", "BilledCost": "2",
         "EffectiveCost": "2", "ListCost": "2", "BillingCurrency": None},
        {**base, "day": d(1).isoformat(), "ServiceName": "Bad", "BilledCost": "2",
         "EffectiveCost": None, "ListCost": "2"},
        {**base, "day": d(1).isoformat(), "ServiceName": "Bad", "BilledCost": "2",
         "EffectiveCost": "2", "ListCost": "2", "ChargeCategory": "Refund"},
    ]  # fmt: skip
    s = GcpCollector(source(gcp, bigquery_kind="focus")).collect(engine, TODAY)
    assert s.status == "ok" and s.rows == {"cost_records": 2}, s
    assert s.quarantined == {"BillingCurrency is not a currency code": 1,
                             "EffectiveCost is not a number": 1,
                             "ChargeCategory is not a FOCUS charge category": 1}  # fmt: skip
    assert (
        "FROM `" in gcp.bq_queries()[0]["query"]
        and "ChargePeriodStart" in (gcp.bq_queries()[0]["query"])
    )
    assert totals(engine) == (2, Decimal("5"), Decimal("4.5"))


def test_one_failing_kind_does_not_stop_the_others(gcp: FakeGcp, engine: Engine) -> None:
    """Storage denied: spend is still stored, the status names the storage permission
    and the watermark stays, so the next run re-reads the window."""
    gcp.bq_rows = [bq_row(d(2), "Compute Engine", "3")]
    gcp.always["other"] = denied("storage.buckets.list")  # the storage endpoint is the fake
    s = GcpCollector(source(gcp, storage=True)).collect(engine, TODAY)
    assert s.status == "permission_denied" and "storage.buckets.list" in s.hint, s
    assert s.rows == {"cost_records": 1} and totals(engine)[:2] == (1, Decimal("3"))
    assert state(engine).watermark is None


def test_cli_collect_gcp_and_sources_test(gcp: FakeGcp, tmp_path: Any) -> None:
    """`optimizer collect gcp --json` and `sources test` as users run them, against the
    fake (the config names its endpoints)."""
    today = date.today()
    gcp.bq_rows = [bq_row(today - timedelta(days=1), "Compute Engine", "4.5", SUD)]
    ep = gcp.endpoints()
    config = tmp_path / "optimizer.toml"
    config.write_text(
        f'[[sources]]\ntype = "gcp"\nname = "corp"\nbilling_account = "{ACCOUNT}"\n'
        f'projects = ["{PROJECT}"]\nbigquery_table = "{TABLE}"\nprices = false\n'
        "inventory = false\nmetrics = false\nstorage = false\n"
        f'endpoints = {{ bigquery = "{ep["bigquery"]}" }}\n'
    )
    db = str(tmp_path / "s.db")
    assert run_cli("--db", db, "init").returncode == 0
    out = run_cli("--db", db, "--config", str(config), "--json", "collect", "gcp")
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["status"] == "ok" and result["rows"] == {"cost_records": 2}
    assert result["detail"] == f"billing account {ACCOUNT}"
    tested = run_cli("--db", db, "--config", str(config), "--json", "sources", "test")
    assert tested.returncode == 0 and json.loads(tested.stdout)[0]["status"] == "ok"
    missing = run_cli("--db", db, "--config", str(config), "collect", "gcp", "--source", "x")
    assert missing.returncode == 2 and "no GCP source configured named 'x'" in missing.stderr
