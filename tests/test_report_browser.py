"""The report in a real browser: headless Chromium (Debian's package, installed by
scripts/deps-chromium.sh) opens report.html from disk with no network, the charts
render (a screenshot that is not blank, with each cloud's line colour in it) and the
totals in the rendered DOM equal the store's, summed here independently."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.report.model import Week, usd
from optimizer.report.settings import ReportSettings
from optimizer.report.stage import Outcome, make_report
from store.engine import make_engine
from store.migrate import upgrade

CHROMIUM = "/usr/bin/chromium"
END = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday: the last complete week is W44
WEEK = Week(END.date() - timedelta(days=7), END.date() - timedelta(days=1))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")  # fmt: skip


def _chromium() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    why = f"{CHROMIUM} not found: run scripts/deps-chromium.sh (Debian's chromium package)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; in CI `make test` runs it first", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Outcome]]:
    """A small demo estate, its spend forecast (seasonal-naive, fast), a plan with one
    approval, and its report: built once for the module."""
    from forecasts.engine import EngineChoice
    from forecasts.job import Settings
    from forecasts.runner import forecast_store
    from optimizer.approvals import decide
    from optimizer.demo.build import build_demo
    from optimizer.planning import run_plan
    from policies import load_policies, policies_sha256

    root = tmp_path_factory.mktemp("report")
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    upgrade(engine)
    build_demo(engine, root, workloads=40, storage_groups=4, days=60, end=END)
    forecast_store(
        engine, Settings(candidate="seasonal-naive"), EngineChoice("local", 1, None), "spend:*"
    )
    policies = root / "policies.yaml"
    _, _, recs = run_plan(engine, load_policies(policies), policies_sha256(policies))
    assert recs, "the demo plan should recommend something"
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(id) FROM recommendation")).scalar_one()
    decide(engine, [first], "approve", "dana", "checked with the owner")
    outcome = make_report(engine, ReportSettings(weeks=6), root / "out")
    yield engine, outcome
    engine.dispose()


def _browser(html: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = html.parent / f"profile-{len(extra)}"
    shutil.rmtree(profile, ignore_errors=True)
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, html.as_uri()],
        capture_output=True, text=True, timeout=180, cwd=html.parent,
    )  # fmt: skip


def _pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Decode an RGB(A) PNG: Pillow when the venv has it, else zlib + the PNG filters."""
    try:
        import io

        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB")
        raw = img.tobytes()
        return img.width, img.height, [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]  # type: ignore[misc]
    except ImportError:
        pass
    width, height, depth, ctype = struct.unpack(">IIBB", png[16:26])
    assert depth == 8 and ctype in (2, 6), "8-bit RGB or RGBA expected"
    chunks, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            chunks.append(png[pos + 8 : pos + 8 + length])
        pos += 12 + length
    raw, bpp = zlib.decompress(b"".join(chunks)), 3 if ctype == 2 else 4
    stride, prev, out = width * bpp, bytearray(width * bpp), []
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pred = (a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c)
                    else b if abs(p - b) <= abs(p - c) else c)  # fmt: skip
            line[i] = (line[i] + (0, a, b, (a + b) // 2, pred)[kind]) & 0xFF
        out.extend(tuple(line[i : i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, out  # type: ignore[return-value]


def _store_week_by_cloud(engine: Engine) -> dict[str, Decimal]:
    """Usage EffectiveCost per cloud in the week, summed here in Python from the rows."""
    totals: dict[str, Decimal] = {}
    lo, hi = WEEK.start.isoformat(), (WEEK.end + timedelta(days=1)).isoformat()
    with engine.connect() as conn:
        for provider, cost in conn.execute(
            sa.text("SELECT provider_name, effective_cost FROM cost_record WHERE "
                    "charge_category = 'Usage' AND charge_period_start >= :lo AND "
                    "charge_period_start < :hi"), {"lo": lo, "hi": hi},
        ):  # fmt: skip
            totals[provider] = totals.get(provider, Decimal(0)) + Decimal(str(cost))
    return totals


def test_screenshot_shows_the_charts(written: tuple[Engine, Outcome]) -> None:
    _, outcome = written
    html = outcome.files["report.html"]
    shot = html.parent / "report.png"
    done = _browser(html, "--window-size=1100,1800", f"--screenshot={shot}")
    assert shot.is_file(), done.stderr[-2000:]
    width, height, pixels = _pixels(shot.read_bytes())
    assert (width, height) == (1100, 1800)
    non_white = sum(p != (255, 255, 255) for p in pixels)
    assert non_white > 0.2 * len(pixels), "the page is blank"
    colours = Counter(pixels)
    assert len(colours) > 50, "a page of charts has many colours"
    for line in ("#2563eb", "#dc2626", "#059669"):  # the three clouds' lines and bars
        rgb = tuple(int(line[i : i + 2], 16) for i in (1, 3, 5))
        assert colours[rgb] > 200, f"{line} barely drawn: the charts did not render"


def test_dom_totals_equal_the_store(written: tuple[Engine, Outcome]) -> None:
    engine, outcome = written
    done = _browser(outcome.files["report.html"], "--dump-dom")
    dom = done.stdout
    assert "</html>" in dom, done.stderr[-2000:]
    by_cloud = _store_week_by_cloud(engine)
    assert len(by_cloud) == 3
    shown = re.search(r'id="total-week">([^<]*)<', dom)
    assert shown and shown.group(1) == usd(sum(by_cloud.values(), Decimal(0)))
    for cloud, total in by_cloud.items():
        row = re.search(rf'data-cloud="{re.escape(cloud)}">.*?class="n week-total">([^<]*)<', dom)
        assert row and row.group(1) == usd(total), cloud
    with engine.connect() as conn:
        open_rows = conn.execute(
            sa.text("SELECT monthly_savings FROM recommendation "
                    "WHERE status IN ('proposed', 'approved')")
        ).scalars().all()  # fmt: skip
    savings = re.search(r'id="open-savings">([^<]*)<', dom)
    assert savings and savings.group(1) == usd(sum((Decimal(str(v)) for v in open_rows),
                                                   Decimal(0)))  # fmt: skip
    assert dom.count('class="actual"') == 3 and 'class="band"' in dom
    assert "dana" in dom and "checked with the owner" in dom  # the approval is shown
    assert "nothing applied this week" in dom
    assert 'id="chart-service"' in dom and 'id="chart-owner"' in dom
