"""The weekly report's data, files and delivery, on a small store whose every number is
known (SQLite and PostgreSQL); delivery against a real HTTP and SMTP server on loopback."""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from optimizer.cli import cli
from optimizer.report.data import default_week, gather
from optimizer.report.deliver import DeliveryError
from optimizer.report.model import Week, as_json
from optimizer.report.settings import EmailSettings, ReportSettings
from optimizer.report.stage import make_report
from store.engine import make_engine
from store.models import (
    AppliedChange,
    CostRecord,
    Forecast,
    ForecastPoint,
    Recommendation,
    SourceState,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FIRST, LAST = date(2026, 11, 2), date(2026, 11, 24)  # data through a Tuesday
WEEK = Week(date(2026, 11, 16), date(2026, 11, 22))
DAILY = {  # provider, service, tags, usage cost per day
    "aws": ("AWS", "Amazon EC2", {"team": "alpha"}, Decimal("10.10")),
    "azure": ("Microsoft", "Virtual Machines", {"Owner": "Bob"}, Decimal("5.05")),
    "gcp": ("Google Cloud", "Cloud Storage", None, Decimal("1.001")),
}


def _at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def fill(engine: Engine) -> None:
    """Usage every day on three clouds, one tax row, two forecasts, four
    recommendations, two applied changes and two sources."""
    costs, n = [], 0
    day = FIRST
    while day <= LAST:
        for key, (provider, service, tags, cost) in DAILY.items():
            n += 1
            costs.append({
                "natural_key": f"k{n}", "source_key": f"src-{key}", "billed_cost": cost,
                "effective_cost": cost, "billing_currency": "USD", "billing_account_id": "b",
                "charge_period_start": _at(day), "charge_period_end": _at(day + timedelta(1)),
                "charge_category": "Usage", "provider_name": provider, "service_name": service,
                "sub_account_id": "acct", "tags": tags,
            })  # fmt: skip
        day += timedelta(days=1)
    costs.append({**costs[0], "natural_key": "tax", "charge_category": "Tax",
                  "billed_cost": Decimal("3.33"), "effective_cost": Decimal("3.33"),
                  "charge_period_start": _at(date(2026, 11, 20)),
                  "charge_period_end": _at(date(2026, 11, 21))})  # fmt: skip
    recs = [
        (1, "move", "web-1", "proposed", None, None, "100.5", _at(date(2026, 11, 17))),
        (2, "tiering", "bucket-a", "approved", "alice", "cheap and safe", "50.25",
         _at(date(2026, 11, 3))),
        (3, "idle", "batch-9", "rejected", "bob", "still needed", "10", _at(date(2026, 11, 3))),
        (4, "move", "web-2", "superseded", None, None, "999", _at(date(2026, 11, 3))),
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(CostRecord.__table__), costs)  # type: ignore[attr-defined]
        for rid, kind, subject, status, by, why, saving, created in recs:
            conn.execute(sa.insert(Recommendation.__table__).values(  # type: ignore[attr-defined]
                id=rid, fingerprint=f"f{rid}", kind=kind, subject=subject, status=status,
                status_by=by, status_reason=why, status_at=created if by else None,
                monthly_savings=Decimal(saving), one_off_cost=Decimal("12.5"),
                payback_days=3.5, reasons=[f"reason of {subject}"],
                alternatives=[{"offer": "aws us-east-1 m5.large on_demand",
                               "monthly_usd": "80", "one_off_usd": "5"}],
                current={"offers": [{"replicas": 2, "offer": "aws eu-west-1 m5.xlarge"}]},
                proposed={"summary": "the cheaper place"}, created_at=created,
            ))  # fmt: skip
        applied = AppliedChange.__table__  # type: ignore[attr-defined]
        for aid, created, status, back in (
            (1, _at(date(2026, 11, 19), 9), "rolled_back", _at(date(2026, 11, 20), 9)),
            (2, _at(date(2026, 11, 1), 9), "applied", None),
        ):
            conn.execute(sa.insert(applied).values(
                id=aid, recommendation_id=2, apply_id=f"a{aid}", provider="aws",
                target="bucket-a/logs", action="lifecycle", status=status, actor="carol",
                bytes=2048, objects=3, created_at=created, rolled_back_at=back,
            ))  # fmt: skip
        for key, hours in (("src-aws", 1), ("src-azure", 100)):
            conn.execute(sa.insert(SourceState.__table__).values(  # type: ignore[attr-defined]
                source_key=key, source_type="aws" if key == "src-aws" else "azure",
                last_attempt_at=NOW - timedelta(hours=hours),
                last_success_at=NOW - timedelta(hours=hours), last_status="ok", rows=23,
            ))  # fmt: skip
        for fid, sid, (p10, p50, p90), flagged in (
            (1, "spend:AWS:acct:Amazon EC2", (18.0, 20.0, 22.0),
             [{"ts": "2026-11-18T00:00:00+00:00", "actual": 30.0, "lower": 5.0,
               "upper": 12.0, "excess": 18.0}]),
            (2, "spend:AWS:acct2:Amazon S3", (1.0, 2.0, 4.0), []),
        ):  # fmt: skip
            conn.execute(sa.insert(Forecast.__table__).values(  # type: ignore[attr-defined]
                id=fid, series_id=sid, metric="spend", model="seasonal-naive",
                granularity="day", horizon_hours=336, created_at=NOW,
                metrics={"anomalies": flagged}, status="ok",
            ))  # fmt: skip
            conn.execute(sa.insert(ForecastPoint.__table__), [  # type: ignore[attr-defined]
                {"forecast_id": fid, "ts": _at(date(2026, 11, 23)) + timedelta(days=i),
                 "p10": p10, "p50": p50, "p90": p90} for i in range(14)
            ])  # fmt: skip


@pytest.fixture
def filled(engine: Engine) -> Engine:
    fill(engine)
    return engine


def test_default_week_is_the_last_complete_one() -> None:
    today = date(2026, 11, 25)
    assert default_week(date(2026, 11, 24), today) == WEEK  # a Tuesday: the week before
    assert default_week(date(2026, 11, 22), today) == WEEK  # a Sunday: its own week
    assert default_week(None, today) == WEEK  # no data: the last complete week before today
    assert Week.containing(date(2026, 11, 19)) == WEEK and WEEK.label == "2026-W47"


def test_gather_totals_are_exact(filled: Engine) -> None:
    data = gather(filled, ReportSettings(weeks=3), now=NOW)
    t = data.totals
    assert data.week == WEEK and data.data_end == LAST
    assert t.week == t.previous_week == 7 * (Decimal("10.10") + Decimal("5.05") + Decimal("1.001"))
    assert t.other_charges_week == Decimal("3.33")
    assert {s.key: s.week_total for s in data.by_cloud} == {
        "AWS": Decimal("70.7"), "Microsoft": Decimal("35.35"), "Google Cloud": Decimal("7.007")
    }  # fmt: skip
    assert {s.key: s.week_total for s in data.by_owner} == {
        "alpha": Decimal("70.7"), "Bob": Decimal("35.35"), "(untagged)": Decimal("7.007")
    }  # fmt: skip
    assert data.by_service[0].key == "AWS · Amazon EC2"
    # 3 weeks back plus 14 days ahead; actuals stop at the last day with data
    assert data.days[0] == date(2026, 11, 2) and data.days[-1] == date(2026, 12, 6)
    aws = data.by_cloud[0]
    assert aws.daily[data.days.index(LAST)] == Decimal("10.1")
    assert aws.daily[data.days.index(LAST) + 1] is None


def test_band_adds_series_in_quadrature_and_flags_days_outside(filled: Engine) -> None:
    data = gather(filled, ReportSettings(weeks=3), now=NOW)
    (band,) = data.bands
    i = data.days.index(date(2026, 11, 23))
    assert band.key == "AWS" and band.series == 2
    assert band.p50[i] == 22.0
    assert band.p10[i] == pytest.approx(22 - math.sqrt(4 + 1))
    assert band.p90[i] == pytest.approx(22 + math.sqrt(4 + 4))
    assert band.p50[i - 1] is None
    by_check = {(a.check, a.day): a for a in data.anomalies}
    stage = by_check["backtest 95% band", date(2026, 11, 18)]
    assert (stage.actual, stage.excess, stage.in_week) == (Decimal(30), Decimal(18), True)
    assert stage.service == "Amazon EC2"
    outside = by_check["forecast p10-p90 band", date(2026, 11, 24)]
    assert outside.actual == Decimal("10.1") and not outside.in_week
    assert outside.excess == Decimal("9.66")  # 22 - sqrt(5) - 10.10
    assert data.totals.anomalies_in_week == 1
    assert data.anomalies[0].excess == Decimal(18)  # biggest first


def test_recommendations_applied_and_freshness(filled: Engine) -> None:
    data = gather(filled, ReportSettings(weeks=3, top=2), now=NOW)
    t = data.totals
    assert (t.open_savings, t.open_recommendations, t.new_recommendations) == (
        Decimal("150.75"), 2, 1
    )  # fmt: skip
    assert [r.id for r in data.recommendations] == [1, 2]  # top 2, superseded left out
    approved = data.recommendations[1]
    assert (approved.status, approved.status_by, approved.status_reason) == (
        "approved", "alice", "cheap and safe"
    )  # fmt: skip
    assert approved.current == "2× aws eu-west-1 m5.xlarge"
    assert approved.alternatives == ("aws us-east-1 m5.large on_demand: $80.00/month, "
                                     "one-off $5.00",)  # fmt: skip
    kinds = {(s.kind, s.status): (s.count, s.monthly_savings) for s in data.savings}
    assert kinds == {("move", "proposed"): (1, Decimal("100.5")),
                     ("tiering", "approved"): (1, Decimal("50.25")),
                     ("idle", "rejected"): (1, Decimal(10))}  # fmt: skip
    assert [a.id for a in data.applied] == [1]
    assert (t.applied_in_week, t.rolled_back_in_week) == (1, 1)
    fresh = {f.source: f for f in data.freshness}
    assert not fresh["src-aws"].stale and fresh["src-azure"].stale
    assert fresh["src-aws"].data_end == LAST and fresh["src-aws"].rows == 23 + 1  # the tax row
    assert fresh["src-gcp"].status == "unknown"  # cost records without a source_state row
    assert fresh["latest forecast"].rows == 2 and fresh["latest plan"].status == "never"


def test_empty_store_still_reports(sqlite_engine: Engine, tmp_path: Path) -> None:
    outcome = make_report(sqlite_engine, ReportSettings(), tmp_path / "r", now=NOW)
    html = (tmp_path / "r" / "report.html").read_text()
    assert "nothing applied this week" in html and "no usage spend" in html
    assert outcome.data.totals.week == 0 and outcome.data.week == WEEK


def _page_numbers(html: str, ids: list[str]) -> dict[str, str]:
    import re

    return {i: re.search(rf'id="{i}">([^<]*)<', html).group(1) for i in ids}  # type: ignore[union-attr]


def test_cli_writes_html_json_and_csv_that_agree(sqlite_engine: Engine, tmp_path: Path) -> None:
    fill(sqlite_engine)
    url = sqlite_engine.url.render_as_string(hide_password=False)
    out = tmp_path / "week"
    result = CliRunner().invoke(
        cli, ["--db", url, "report", "--week", "2026-11-19", "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2026-W47" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "report.json", "spend.csv", "recommendations.csv", "anomalies.csv",
            "applied.csv", "freshness.csv"} <= names  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # fmt: skip
    shown = _page_numbers(html, ["total-week", "open-savings", "other-charges-week"])
    assert shown == {"total-week": "$113.06", "open-savings": "$150.75",
                     "other-charges-week": "$3.33"}  # fmt: skip
    assert Decimal(report["totals"]["week"]) == Decimal("113.057")
    spend = (out / "spend.csv").read_text().splitlines()
    assert "cloud,AWS,2026-11-16,10.1" in spend
    bad = CliRunner().invoke(cli, ["--db", url, "report", "--week", "19/11/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 204

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/finops", handler
    server.shutdown()
    server.server_close()


def test_webhook_posts_report_json(
    sqlite_engine: Engine, tmp_path: Path, hook: tuple[str, type[_Hook]]
) -> None:
    fill(sqlite_engine)
    url, handler = hook
    outcome = make_report(sqlite_engine, ReportSettings(webhook_url=url), tmp_path, now=NOW)
    assert outcome.failures == () and "HTTP 204" in outcome.delivered[0]
    (got,) = handler.received
    assert got["report"] == json.loads((tmp_path / "report.json").read_text())
    assert "2026-W47" in got["text"] and got["html_path"].endswith("report.html")


def test_webhook_failure_keeps_the_files_and_exits_3(
    sqlite_engine: Engine, tmp_path: Path, hook: tuple[str, type[_Hook]]
) -> None:
    fill(sqlite_engine)
    url, handler = hook
    handler.status = 500
    db = sqlite_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        cli, ["--db", db, "report", "--out", str(tmp_path), "--webhook", url]
    )  # fmt: skip
    error = result.exception
    assert isinstance(error, DeliveryError) and error.exit_code == 3  # main() exits with it
    assert "HTTP 500" in error.message
    assert (tmp_path / "report.html").is_file()
    with make_engine(db).connect() as conn:
        action, details = conn.execute(
            sa.text("SELECT action, details FROM audit_event ORDER BY id DESC LIMIT 1")
        ).one()
    assert action == "report" and "HTTP 500" in json.loads(details)["failures"][0]


def test_email_sends_the_page_as_an_attachment(sqlite_engine: Engine, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    fill(sqlite_engine)
    keep = Keep()
    with socket.socket() as probe:  # a free loopback port (the controller needs one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(keep, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        mail = EmailSettings(host="127.0.0.1", port=port, sender="finops@example.com",
                             to=["cfo@example.com", "ops@example.com"])  # fmt: skip
        outcome = make_report(sqlite_engine, ReportSettings(email=mail), tmp_path, now=NOW)
    finally:
        smtp.stop()
    assert outcome.failures == () and outcome.delivered == (
        "e-mail to cfo@example.com, ops@example.com",
    )  # fmt: skip
    ((sender, rcpts, raw),) = keep.messages
    assert sender == "finops@example.com" and rcpts == ["cfo@example.com", "ops@example.com"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "FinOps report 2026-W47"
    (attached,) = [p for p in message.walk() if p.get_filename() == "report.html"]
    assert attached.get_payload(decode=True) == (tmp_path / "report.html").read_bytes()


def test_report_settings_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="webhook_url must start with http"):
        ReportSettings(webhook_url="ftp://x")
    with pytest.raises(ValueError, match="password_env"):
        EmailSettings(host="h", sender="a@b", to=["c@d"], username="u")
    with pytest.raises(ValueError, match="extra"):
        ReportSettings.model_validate({"out": "x"})


def test_json_has_every_section(filled: Engine) -> None:
    report = as_json(gather(filled, ReportSettings(weeks=2), now=NOW))
    assert report["format"] == "optimizer-report/1"
    for key in ("week", "days", "totals", "by_cloud", "by_service", "by_owner", "bands",
                "anomalies", "savings", "recommendations", "applied", "freshness"):  # fmt: skip
        assert key in report
    assert report["week"] == {"label": "2026-W47", "start": "2026-11-16", "end": "2026-11-22"}


def test_report_stage_writes_a_folder_per_week(sqlite_engine: Engine, tmp_path: Path) -> None:
    from optimizer.config import load_config
    from optimizer.pipeline import Hooks
    from optimizer.report.stage import report_stage

    fill(sqlite_engine)
    toml = tmp_path / "optimizer.toml"
    toml.write_text('[report]\nout_dir = "weekly"\nweeks = 2\n')
    config = load_config(toml)
    result = report_stage(sqlite_engine, config, Hooks())
    assert result.status == "ok", result.detail
    week = result.data["week"]
    assert (tmp_path / "weekly" / week / "report.html").is_file()
    assert result.data["out_dir"] == str(tmp_path / "weekly" / week)
    again = report_stage(sqlite_engine, config, Hooks())  # the same week: rewritten in place
    assert again.status == "ok" and sorted(p.name for p in (tmp_path / "weekly").iterdir()) == [
        week
    ]


def test_report_stage_reports_a_failed_delivery_as_partial(
    sqlite_engine: Engine, tmp_path: Path, hook: tuple[str, type[_Hook]]
) -> None:
    from optimizer.config import load_config
    from optimizer.pipeline import Hooks
    from optimizer.report.stage import report_stage

    url, handler = hook
    handler.status = 503
    toml = tmp_path / "optimizer.toml"
    toml.write_text(f'[report]\nwebhook_url = "{url}"\n')
    result = report_stage(sqlite_engine, load_config(toml), Hooks())
    assert result.status == "partial" and result.exit_code == 3
    assert "HTTP 503" in result.data["failures"][0]


def test_bad_report_config_names_the_field(tmp_path: Path) -> None:
    from optimizer.config import load_config
    from store.errors import ConfigError

    toml = tmp_path / "optimizer.toml"
    toml.write_text('[report.email]\nhost = "smtp"\nsender = "a@b"\n')
    with pytest.raises(ConfigError, match=r"report\.email\.to"):
        load_config(toml)


def test_email_over_starttls_with_login(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay that requires STARTTLS (a private CA, from trustme) and SMTP AUTH."""
    import ssl

    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Keep:
        def __init__(self) -> None:
            self.count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.count += 1
            return "250 OK"

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"finops", b"s3cret"
        )  # fmt: skip
        return AuthResult(success=ok)

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keep = Keep()
    smtp = Controller(
        keep, hostname="127.0.0.1", port=port, tls_context=server_tls,
        require_starttls=True, authenticator=check, auth_require_tls=True,
    )  # fmt: skip
    smtp.start()
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", "s3cret")
    base = {"host": "127.0.0.1", "port": port, "sender": "finops@example.com",
            "to": ["cfo@example.com"], "username": "finops",
            "password_env": "REPORT_SMTP_PASSWORD"}  # fmt: skip
    try:
        plain = make_report(sqlite_engine, ReportSettings(email=EmailSettings(**base)), tmp_path)
        secure = EmailSettings(**base, starttls=True, ca_file=str(ca_file))
        sent = make_report(sqlite_engine, ReportSettings(email=secure), tmp_path)
        monkeypatch.setenv("REPORT_SMTP_PASSWORD", "wrong")
        # smtplib tries LOGIN after PLAIN fails and aiosmtpd then stays silent: a short wait
        quick = secure.model_copy(update={"timeout_seconds": 2.0})
        refused = make_report(sqlite_engine, ReportSettings(email=quick), tmp_path)
    finally:
        smtp.stop()
    assert plain.failures and "refused" in plain.failures[0]  # no STARTTLS: the relay says no
    assert sent.failures == () and keep.count == 1
    assert refused.failures and "refused" in refused.failures[0]
