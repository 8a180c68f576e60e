"""The sweep page in a real browser (Debian's chromium, driven by Selenium through chromium-driver).

One real sweep over the simulator makes the page: compliant and non-compliant clusters, an
unreachable one, findings of several rules and severities, and drift against an earlier sweep.
The page is served from a loopback HTTP server; the browser has no other network to reach.
Screenshots are written under the test's ``tmp_path`` and, when ``FLEET_ARTIFACTS`` names a
folder, copied there (CI keeps them).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browserkit import (
    browser_session,
    console_errors,
    save_screenshot,
    serve_folder,
    set_width,
    skip_module_without_browser,
)
from report_builders import cluster, make_run
from simfleet import start_sim_fleet

from fleet.report import Finding, build_report
from fleet.report.html import write_html
from fleet.sim.state import KeyManager, KeyServer

WIDTHS = (1400, 1280, 1024)  # a desktop, and the laptop widths the page must stay readable at

POLICY = """key_manager: onboard
onboard: {require_all_nodes_keys: true, passphrase_max_age_days: 90}
require: {status_healthy: true, key_store_active: true}
"""


skip_module_without_browser()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with browser_session(tmp_path_factory.mktemp("chromium-profile")) as session:
        yield session


# --- the page ---------------------------------------------------------------------------------------


async def _run_fleet(*args: str, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode()


async def _sweep_page(workdir: Path) -> tuple[Path, list[str]]:
    """Rotate some clusters (their passphrase age becomes known), sweep, break a few, sweep again.

    Returns the page and every secret the simulated estate held (passwords, old and new passphrases).
    """
    (workdir / "sim").mkdir()
    sim = await start_sim_fleet(workdir / "sim", clusters=14, mcc_pairs=1, seed=7)
    try:
        policy = workdir / "policy.yml"
        policy.write_text(POLICY)
        journal = ["--journal", str(workdir / "journal.db")]
        code, out = await _run_fleet(
            "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(workdir / "store"),
            "--limit", "sim-000[5-9],sim-001*", "--report", str(workdir / "rotate.json"), *journal,
            cwd=workdir,
        )  # fmt: skip
        assert code == 0, out
        sweep = ["sweep", "-i", str(sim.inventory), "-p", str(policy), *journal]
        sweep += ["--report-dir", str(workdir / "sweeps")]
        code, out = await _run_fleet(*sweep, cwd=workdir)
        assert code == 1, out

        modern = [name for name in sim.onboard_names() if sim.cluster(name).version[1] >= 12]
        lost, no_store, external, unreachable = modern[:4]
        for key in sim.cluster(lost).nodes[0].keys:
            key.restored = False  # node_keys: critical
        key_manager = sim.cluster(no_store).key_manager
        assert key_manager is not None
        key_manager.enabled = False  # key_store: critical (old releases have key_store: info)
        target = sim.cluster(external)
        assert target.key_manager is not None
        target.key_manager = KeyManager(  # key_manager: critical (the policy wants onboard)
            uuid=target.key_manager.uuid,
            kind="external",
            servers=[KeyServer("10.0.0.5:5696", timeout=25)],
            client_certificate=target.certificates[0],
            server_ca_certificates=[target.certificates[1]],
        )
        sim.unreachable([unreachable])  # readable: the cluster is unknown
        page = workdir / "site" / "sweep.html"
        code, out = await _run_fleet(*sweep, "--html", str(page), cwd=workdir)
        assert code == 1, out
        return page, sim.secret_values()
    finally:
        await sim.server.close()


def _hand_built_page(folder: Path) -> Path:
    """Sites of 10, 2 and 9 clusters: text order would put 10 before 2 and 9."""
    clusters, findings, sites = [], [], {}
    for site_index, (site, size) in enumerate((("alpha", 10), ("bravo", 2), ("charlie", 9))):
        for index in range(size):
            name = f"cl-{site_index}{index:02}"
            clusters.append(cluster(name))
            sites[name] = site
            findings += [
                Finding(cluster=name, rule=f"r{n}", severity="warning", message="m") for n in range(index)
            ]
    report = build_report(make_run(kind="sweep", outcome="non_compliant"), clusters, findings=findings)
    return write_html(report, folder / "numbers.html", sites)


@dataclass(frozen=True)
class Site:
    url: str  # where sweep.html (the real sweep) and numbers.html (hand-built) are served
    secrets: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Site]:
    """The sweep page and a hand-built one, served on 127.0.0.1."""
    workdir = tmp_path_factory.mktemp("sweep-page")
    page, secrets = asyncio.run(_sweep_page(workdir))
    _hand_built_page(page.parent)
    with serve_folder(page.parent) as url:
        yield Site(url, secrets)


def open_page(browser: Any, url: str, width: int = 1400) -> None:
    set_width(browser, width)
    browser.get(url)
    console_errors(browser)  # start each test with an empty log


# --- reading the page ---------------------------------------------------------------------------------

_READ_TABLES = """
var only = arguments[0];
return Array.from(document.querySelectorAll(only ? 'table#' + only : 'table')).map(function (table) {
  return {
    id: table.id,
    head: Array.from(table.tHead.rows[0].cells).map(function (th) {
      return {text: th.textContent.trim(), sort: th.getAttribute('aria-sort'), type: th.dataset.type || ''};
    }),
    rows: Array.from(table.tBodies[0].rows).map(function (row) {
      return Array.from(row.cells).map(function (td) {
        var key = td.getAttribute('data-sort');
        return {text: td.textContent.trim(), key: key === null ? td.textContent.trim() : key};
      });
    }),
  };
});
"""


def read_tables(browser: Any) -> dict[str, dict[str, Any]]:
    return {table["id"]: table for table in browser.execute_script(_READ_TABLES, None)}


def read_table(browser: Any, table_id: str) -> dict[str, Any]:
    [table] = browser.execute_script(_READ_TABLES, table_id)
    return table


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("-inf")  # "—": not checked sorts below every count


def column_keys(table: dict[str, Any], column: int) -> list[Any]:
    numeric = table["head"][column]["type"] == "number"
    return [_number(row[column]["key"]) if numeric else row[column]["key"] for row in table["rows"]]


def headers(browser: Any, table_id: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, f"table#{table_id} thead th"))


def click_header(browser: Any, table_id: str, column: int) -> None:
    headers(browser, table_id)[column].click()


# --- the tests ----------------------------------------------------------------------------------------


def test_every_header_of_every_table_sorts_its_rows_ascending_then_descending(browser, site):
    open_page(browser, f"{site.url}/sweep.html")
    tables = read_tables(browser)
    assert set(tables) >= {"rules", "sites", "clusters", "drift", "findings"}

    for table_id, table in tables.items():
        rows_before = sorted(map(str, table["rows"]))
        assert len(table["rows"]) >= 2, table_id  # an order to check
        elements = headers(browser, table_id)
        for column, head in enumerate(table["head"]):
            texts = [row[column]["text"] for row in table["rows"]]
            if all(_number(text) != float("-inf") for text in texts):
                assert head["type"] == "number", f"{table_id}.{head['text']} holds numbers"
            already = read_table(browser, table_id)["head"][column]["sort"]
            first = "descending" if already == "ascending" else "ascending"
            for direction in (first, "ascending" if first == "descending" else "descending"):
                elements[column].click()  # a real click, as a mouse does it
                now = read_table(browser, table_id)
                keys = column_keys(now, column)
                where = f"{table_id}.{head['text']} {direction}"
                assert now["head"][column]["sort"] == direction, where
                assert keys == sorted(keys, reverse=direction == "descending"), where
                if head["text"] == "ONTAP":  # by number: 9.8 before 9.12
                    shown = [row[column]["text"] for row in now["rows"]]
                    versions = [tuple(map(int, text.split("."))) for text in shown if text]
                    assert versions == sorted(versions, reverse=direction == "descending"), where
                assert sorted(map(str, now["rows"])) == rows_before, where  # same rows, reordered
    assert console_errors(browser) == []


def test_numeric_columns_sort_as_numbers_not_as_text(browser, site):
    open_page(browser, f"{site.url}/numbers.html")
    header = [head["text"] for head in read_table(browser, "sites")["head"]]

    click_header(browser, "sites", header.index("clusters"))
    assert [row[header.index("clusters")]["text"] for row in read_table(browser, "sites")["rows"]] == [
        "2",
        "9",
        "10",
    ]
    from selenium.webdriver.common.keys import Keys

    button = headers(browser, "sites")[header.index("clusters")].find_element("tag name", "button")
    button.send_keys(Keys.ENTER)  # the keyboard sorts too: each header is a button
    assert [row[0]["text"] for row in read_table(browser, "sites")["rows"]] == ["alpha", "charlie", "bravo"]
    assert console_errors(browser) == []


def test_non_compliant_clusters_come_first_and_an_unreachable_one_is_a_grey_unknown_with_its_reason(
    browser, site
):
    open_page(browser, f"{site.url}/sweep.html")
    clusters = read_table(browser, "clusters")
    header = [head["text"] for head in clusters["head"]]
    state, reason = header.index("state"), header.index("reason")

    order = [row[state]["text"] for row in clusters["rows"]]
    assert order == sorted(order, key=["non-compliant", "unknown", "compliant"].index)
    assert order.count("non-compliant") >= 3 and order.count("compliant") >= 3 and order.count("unknown") == 1
    [unknown] = [row for row in clusters["rows"] if row[state]["text"] == "unknown"]
    assert unknown[reason]["text"].startswith("could not be read: no usable answer from the cluster")
    colour = browser.execute_script(
        "var cell = Array.from(document.querySelectorAll('#clusters tbody td'))"
        ".find(function (td) { return td.textContent.trim() === 'unknown'; });"
        "return getComputedStyle(cell).color;"
    )
    red, green, blue = (int(part) for part in colour[colour.index("(") + 1 : colour.index(")")].split(","))
    assert red == green == blue and 64 <= red <= 160, colour  # grey, readable on white
    assert console_errors(browser) == []


_CLIPPED = """
var clipped = [];
function name(el) { return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' +
                   el.textContent.trim().slice(0, 40) + '"'; }
document.querySelectorAll('body *').forEach(function (el) {
  if (!el.textContent.trim() || el.closest('script, style')) return;
  var style = getComputedStyle(el);
  if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) clipped.push(name(el));
  if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) clipped.push(name(el));
  var rect = el.getBoundingClientRect(), page = document.documentElement.clientWidth;
  if (rect.width && rect.right > page + 1) clipped.push('off-page ' + name(el));
});
document.querySelectorAll('svg text').forEach(function (text) {
  var box = text.getBoundingClientRect(), frame = text.closest('svg').getBoundingClientRect();
  if (box.right > frame.right + 1 || box.left < frame.left - 1) clipped.push('svg ' + name(text));
});
return clipped;
"""


def test_no_label_is_clipped_and_nothing_scrolls_sideways_at_desktop_and_laptop_widths(
    browser, site, tmp_path
):
    open_page(browser, f"{site.url}/sweep.html")
    for width in WIDTHS:
        set_width(browser, width)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        assert browser.execute_script(_CLIPPED) == [], width
        headline = browser.execute_script("return document.querySelector('.headline').textContent")
        assert re.match(r"\d+ of \d+ clusters compliant \(\d+\.\d%\)", headline), headline
        save_screenshot(browser, tmp_path / f"sweep-page-{width}.png")
    # self-contained: the page loaded nothing beside itself (no font, script, style or image)
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [url for url in loaded if not url.endswith("/favicon.ico")] == []  # the browser's own request
    shown = browser.execute_script("return document.documentElement.outerHTML")
    assert site.secrets and not [secret for secret in site.secrets if secret in shown]
    assert console_errors(browser) == []
    assert all((tmp_path / f"sweep-page-{width}.png").stat().st_size > 10_000 for width in WIDTHS)
