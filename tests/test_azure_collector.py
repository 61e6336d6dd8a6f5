"""The Azure collector: the real CostManagementClient against an HTTPS fake
(tests/azure_fake.py) speaking the Cost Management query REST shapes."""

from __future__ import annotations

import json
import socket
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.azure import mapping
from collectors.azure.collector import AzureCollector, totals
from collectors.azure.settings import AzureSource
from optimizer.config import load_config
from store.models import SourceState
from tests.azure_fake import (  # noqa: F401
    FakeAzure,
    azure_ca,
    azure_fixture,
    denied,
    throttled,
    unauthorized,
)

TODAY = date(2024, 3, 10)
SUB = "00000000-0000-0000-0000-000000000001"


def d(n: int) -> date:
    return TODAY - timedelta(days=n)


def ymd(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def row(
    day: date, service: str, cost: Any, charge: str = "Usage", currency: str = "USD"
) -> list[Any]:
    """A row of a subscription scope's query: grouped by ServiceName and ChargeType."""
    return [cost, ymd(day), service, charge, currency]


def source(azure: FakeAzure, **kw: Any) -> AzureSource:
    """A spend-only source (inventory, metrics, storage, prices: tests/test_azure_estate.py)."""
    base: dict[str, Any] = {"type": "azure", "name": "corp", "scope": f"/subscriptions/{SUB}",
                            "endpoint_url": azure.url, "ca_bundle": azure.ca_path,
                            "first_days": 3, "max_attempts": 2, "inventory": False,
                            "metrics": False, "storage": False, "prices": False}  # fmt: skip
    return AzureSource(**{**base, **kw})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(SourceState.__table__)).one()  # type: ignore[attr-defined]


def test_collect_follows_pages_and_joins_actual_and_amortized(
    azure: FakeAzure, sqlite_engine: Engine
) -> None:
    azure.set_rows("ActualCost", [
        row(d(3), "Virtual Machines", 10.005), row(d(3), "Storage", 0.335),
        row(d(2), "Virtual Machines", 11.1), row(d(1), "Virtual Machines", 12),
        row(d(1), "Reservations", 100.0, "Purchase"),  # amortized over the term
    ], page_size=2)  # fmt: skip
    azure.set_rows("AmortizedCost", [
        row(d(3), "Virtual Machines", 9.5), row(d(3), "Storage", 0.335),
        row(d(2), "Virtual Machines", 11.1), row(d(1), "Virtual Machines", 12),
        row(d(1), "Bandwidth", 0.01),  # only amortized: billed 0
    ])  # fmt: skip
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok", s
    assert s.window == (d(3), TODAY) and s.rows == {"cost_records": 6}
    assert s.api_calls == {"query.usage ActualCost": 3, "query.usage AmortizedCost": 1}
    assert azure.calls() == 4 and not s.quarantined
    skips = [r["query"].get("$skiptoken") for r in azure.requests]
    assert skips[0] is None and skips[1] and skips[2] and skips[1] != skips[2]
    body = azure.requests[0]["body"]
    assert body["timePeriod"] == {"from": f"{d(3)}T00:00:00+00:00", "to": f"{d(1)}T23:59:59+00:00"}
    assert len(body["dataset"]["grouping"]) <= 2
    assert azure.requests[0]["path"] == (
        f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/query"
    )
    assert totals(sqlite_engine, "corp") == (6, Decimal("133.44"), Decimal("32.945"))
    with sqlite_engine.connect() as conn:
        vm = conn.execute(sa.text(
            "select billed_cost, effective_cost, sub_account_id, provider_name, billing_currency,"
            " charge_category from cost_record where billed_cost = '10.005'")).one()  # fmt: skip
    assert (Decimal(str(vm[0])), Decimal(str(vm[1]))) == (Decimal("10.005"), Decimal("9.5"))
    assert tuple(vm[2:]) == (SUB, "Microsoft", "USD", "Usage")
    st = state(sqlite_engine)
    assert st.last_status == "ok" and st.watermark.date() == TODAY


def test_rerun_is_idempotent_and_restate_replaces(azure: FakeAzure, sqlite_engine: Engine) -> None:
    src = source(azure, first_days=3, restate_days=1)
    rows = [row(d(4), "VM", "1.00"), row(d(3), "VM", "2.00"), row(d(2), "VM", "3.00")]
    for kind in mapping.KINDS:
        azure.set_rows(kind, rows)
    yesterday = TODAY - timedelta(days=1)
    first = AzureCollector(src).collect(sqlite_engine, yesterday)
    again = AzureCollector(src).collect(sqlite_engine, yesterday)  # same days again
    assert first.status == again.status == "ok" and first.window == (d(4), yesterday)
    assert totals(sqlite_engine, "corp") == (3, Decimal("6"), Decimal("6"))
    # next night: the window restates d(2) (restate_days=1) and adds d(1); d(2) changed
    for kind in mapping.KINDS:
        azure.set_rows(kind, [row(d(2), "VM", "3.50"), row(d(1), "VM", "4.00")])
    s = AzureCollector(src).collect(sqlite_engine, TODAY)
    assert s.window == (d(2), TODAY)
    assert totals(sqlite_engine, "corp") == (4, Decimal("10.50"), Decimal("10.50"))


def test_malformed_rows_quarantined_rest_kept(azure: FakeAzure, sqlite_engine: Engine) -> None:
    good = row(d(1), "Storage", 2.5)
    azure.set_rows("ActualCost", [
        good, row(d(1), "VM", "12,50"), [1.0, 20240231, "VM", "Usage", "USD"],
        row(d(1), "", 1.0), [1.0, ymd(d(1))], row(d(9), "VM", 1.0),
        row(d(1), "VM", 1, currency="$"),
    ])  # fmt: skip
    azure.set_rows("AmortizedCost", [good])
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["cost_records"] == 1
    assert s.quarantined == {
        "cost is not a number": 1,
        "UsageDate is not a calendar day": 1,
        "row has no ServiceName": 1,
        "row does not match columns": 1,
        "UsageDate outside the queried window": 1,
        "Currency is not a currency code": 1,
    }
    assert totals(sqlite_engine, "corp") == (1, Decimal("2.5"), Decimal("2.5"))


def test_429_retried_after_retry_after_then_ok(azure: FakeAzure, sqlite_engine: Engine) -> None:
    azure.set_rows("ActualCost", [row(d(1), "VM", 1.25)])
    azure.set_rows("AmortizedCost", [row(d(1), "VM", 1.25)])
    azure.queued.append(throttled("0"))
    s = AzureCollector(source(azure, max_attempts=2)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["cost_records"] == 1
    assert azure.calls() == 3  # the SDK retried the throttled request once
    assert s.api_calls == {"query.usage ActualCost": 1, "query.usage AmortizedCost": 1}


@pytest.mark.parametrize(
    ("failure", "status", "permission"),
    [
        (throttled("0"), "throttled", None),
        (unauthorized(), "auth_failed", None),
        (denied(), "permission_denied", "Microsoft.CostManagement/query/action"),
    ],
)
def test_failures_map_to_status_and_state(
    azure: FakeAzure, sqlite_engine: Engine, failure: Any, status: str, permission: str | None
) -> None:
    azure.always = failure
    collector = AzureCollector(source(azure, max_attempts=2))
    s = collector.collect(sqlite_engine, TODAY)
    assert s.status == status and s.hint, s
    assert state(sqlite_engine).last_status == "failed"
    assert s.api_calls == {"query.usage ActualCost": 1}
    expected = 2 if status == "throttled" else 1  # 429 is retried (max_attempts 2)
    assert azure.calls() == expected
    c = collector.check()
    assert (c.status, c.missing_permission) == (status, permission)
    if permission:
        assert "Cost Management Reader" in c.hint and permission in c.detail


def test_unreachable(azure: FakeAzure, sqlite_engine: Engine) -> None:
    down = source(azure, endpoint_url=f"https://127.0.0.1:{free_port()}", max_attempts=1)
    s = AzureCollector(down).collect(sqlite_engine, TODAY)
    assert s.status == "unreachable" and "endpoint_url" in s.hint
    assert AzureCollector(down).check().status == "unreachable"


def test_check_ok(azure: FakeAzure) -> None:
    c = AzureCollector(source(azure)).check()
    assert c.status == "ok" and SUB in c.detail
    assert azure.calls() == 1


def test_cli_sources_test_and_collect_one_down(
    azure: FakeAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optimizer.cli import main
    from store.engine import make_engine

    azure.set_rows("ActualCost", [row(date.today() - timedelta(days=1), "VM", 7.77)])
    azure.set_rows("AmortizedCost", [row(date.today() - timedelta(days=1), "VM", 7.0)])
    down = f"https://127.0.0.1:{free_port()}"
    common = f'ca_bundle = "{azure.ca_path}"\nmax_attempts = 1\nfirst_days = 2\n'
    (tmp_path / "optimizer.toml").write_text(
        f'[[sources]]\ntype = "azure"\nname = "good"\nscope = "/subscriptions/{SUB}"\n'
        f'endpoint_url = "{azure.url}"\n{common}\n'
        f'[[sources]]\ntype = "azure"\nname = "down"\nscope = "/subscriptions/{SUB}"\n'
        f'endpoint_url = "{down}"\n{common}'
    )  # fmt: skip
    db = f"sqlite:///{tmp_path / 'store.db'}"
    base = ["--db", db, "--config", str(tmp_path / "optimizer.toml")]

    def cli(*args: str) -> tuple[int | str | None, str]:
        with pytest.raises(SystemExit) as exit_:
            main([*base, *args])
        return exit_.value.code, capsys.readouterr().out

    assert cli("init")[0] in (0, None)
    code, out = cli("--json", "sources", "test")
    assert code == 3
    assert {r["name"]: r["status"] for r in json.loads(out)} == {
        "good": "ok",
        "down": "unreachable",
    }
    code, out = cli("collect", "azure", "--json")
    assert code == 3
    by_name = {r["source"]: r for r in json.loads(out)}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["rows"]["cost_records"] == 1
    assert by_name["down"]["status"] == "unreachable"
    assert totals(make_engine(db), "good") == (1, Decimal("7.77"), Decimal("7"))
    code, out = cli("--json", "sources", "list")
    assert {r["name"]: r["last_status"] for r in json.loads(out)} == {
        "good": "ok",
        "down": "failed",
    }
    code, _ = cli("collect", "azure", "--source", "good")
    assert code in (0, None)


def test_config_takes_azure_sources(tmp_path: Path) -> None:
    path = tmp_path / "optimizer.toml"
    path.write_text('[[sources]]\ntype = "azure"\nname = "corp"\nscope = "/subscriptions/1/"\n')
    (src,) = load_config(path).sources
    assert isinstance(src, AzureSource) and src.scope == "/subscriptions/1"
    assert (src.restate_days, src.first_days, src.max_attempts) == (3, 30, 4)
    path.write_text('[[sources]]\ntype = "azure"\nname = "corp"\nscope = "subscriptions/1"\n')
    with pytest.raises(Exception, match="scope"):
        load_config(path)
    path.write_text('[[sources]]\ntype = "azure"\nname = "c"\nscope = "/s"\nclient_secret = "x"\n')
    with pytest.raises(Exception, match="client_secret") as err:
        load_config(path)
    assert '"x"' not in str(err.value)


def test_mapping_pure() -> None:
    assert mapping.usage_date(20240131) == date(2024, 1, 31)
    with pytest.raises(ValueError):
        mapping.usage_date("2024-01-31")
    key = mapping.cost_key("corp", date(2024, 1, 1), SUB, "VM")
    assert key == mapping.cost_key("corp", date(2024, 1, 1), SUB, "VM")
    assert key != mapping.cost_key("other", date(2024, 1, 1), SUB, "VM")
    body = mapping.query_body("AmortizedCost", date(2024, 1, 1), date(2024, 1, 2))
    assert body["timePeriod"]["to"].startswith("2024-01-01T23:59:59")
    assert body["dataset"]["aggregation"]["totalCost"] == {"name": "Cost", "function": "Sum"}


def test_charge_types_on_a_subscription_scope(azure: FakeAzure, sqlite_engine: Engine) -> None:
    azure.set_rows("ActualCost", [
        row(d(1), "Virtual Machines", 0.0), row(d(1), "Virtual Machines", 300.0, "Purchase"),
        row(d(1), "Virtual Machines", -5.0, "Refund"), row(d(1), "Tax", 1.5, "Tax"),
        row(d(1), "Storage", 2.0, ""),
    ])  # fmt: skip
    azure.set_rows("AmortizedCost", [
        row(d(1), "Virtual Machines", 8.0), row(d(1), "Virtual Machines", 2.0,
                                                "UnusedReservation"),
        row(d(1), "Virtual Machines", -5.0, "Refund"), row(d(1), "Tax", 1.5, "Tax"),
    ])  # fmt: skip
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows == {"cost_records": 5}
    assert s.quarantined == {"row has no ChargeType": 1}
    grouping = [g["name"] for g in azure.requests[0]["body"]["dataset"]["grouping"]]
    assert grouping == ["ServiceName", "ChargeType"]
    with sqlite_engine.connect() as conn:
        got = conn.execute(sa.text(
            "select charge_category, charge_frequency, billed_cost, effective_cost,"
            " sub_account_id from cost_record order by charge_category, billed_cost"
        )).all()  # fmt: skip
    assert [(r[0], r[1], Decimal(str(r[2])), Decimal(str(r[3])), r[4]) for r in got] == [
        ("Credit", "One-Time", Decimal("-5"), Decimal("-5"), SUB),
        ("Purchase", "One-Time", Decimal("300"), Decimal("0"), SUB),
        ("Tax", "One-Time", Decimal("1.5"), Decimal("1.5"), SUB),
        ("Usage", "Usage-Based", Decimal("0"), Decimal("2"), SUB),  # unused reservation
        ("Usage", "Usage-Based", Decimal("0"), Decimal("8"), SUB),
    ]


def test_billing_scope_groups_by_subscription(azure: FakeAzure, sqlite_engine: Engine) -> None:
    other = "00000000-0000-0000-0000-000000000002"
    for kind in mapping.KINDS:
        azure.set_rows(kind, [[1.25, ymd(d(1)), SUB, "VM", "USD"],
                              [2.5, ymd(d(1)), other, "VM", "USD"]])  # fmt: skip
    billing = "/providers/Microsoft.Billing/billingAccounts/1234"
    s = AzureCollector(source(azure, scope=billing)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows == {"cost_records": 2}
    body = azure.requests[0]
    assert body["path"] == f"{billing}/providers/Microsoft.CostManagement/query"
    assert [g["name"] for g in body["body"]["dataset"]["grouping"]] == list(mapping.GROUPING)
    with sqlite_engine.connect() as conn:
        subs = conn.execute(sa.text("select sub_account_id from cost_record")).scalars().all()
    assert sorted(subs) == [SUB, other]


def test_pretaxcost_scopes(azure: FakeAzure, sqlite_engine: Engine) -> None:
    for kind in mapping.KINDS:
        azure.set_rows(kind, [row(d(1), "VM", 3.25)])
    azure.refused_cost_column = "Cost"  # an older scope: only PreTaxCost
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "error" and 'cost_column = "PreTaxCost"' in s.hint
    s = AzureCollector(source(azure, cost_column="PreTaxCost")).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and totals(sqlite_engine, "corp")[1] == Decimal("3.25")
    body = azure.requests[-1]["body"]
    assert body["dataset"]["aggregation"]["totalCost"]["name"] == "PreTaxCost"
