"""The static site in a real browser: Playwright driving the system Chromium over file://.

Needs /usr/bin/chromium (`tools/install-browser`); without it these tests
fail, with that one instruction, rather than skip: a skipped browser test
would let a broken site through CI unnoticed.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlsplit
from urllib.request import url2pathname

import pytest

from psalm_bench.examples_runner import EXAMPLES
from psalm_bench.leaderboard.site import PATHS, publish_site
from psalm_bench.leaderboard.store import PublishedEntry, ResultsStore
from psalm_bench.tasks import get_task
from test_site import XSS

CHROMIUM = Path("/usr/bin/chromium")


def _real_results(folder: Path) -> dict[str, Path]:
    """Result JSONs written by our evaluators on the bundled examples (the real shape, per_class included)."""
    jobs = {
        "panoptic": (EXAMPLES / "panoptic" / "gt.json", EXAMPLES / "panoptic" / "pred.json", {}),
        "instance": (EXAMPLES / "instance" / "gt.json", EXAMPLES / "instance" / "pred.json", {}),
        "semantic": (EXAMPLES / "semantic" / "gt", EXAMPLES / "semantic" / "pred", {"classes": EXAMPLES / "semantic" / "classes.json"}),
    }
    out = {}
    for task, (gt, pred, options) in jobs.items():
        result = get_task(task).run(gt, pred, progress=False, **options)
        out[task] = folder / f"psalm-{task}.json"
        if task == "panoptic":  # as `eval --json` hashes it: the JSON and its PNG folder
            gt, pred = [gt, gt.with_suffix("")], [pred, pred.with_suffix("")]
        result.write_json(out[task], gt, pred)
    return out


def _variant(path: Path, folder: Path, name: str, scale: float) -> Path:
    """Another model's result on the same ground truth: numbers scaled, a different prediction hash."""
    data = json.loads(path.read_text())
    data = copy.deepcopy(data)
    data["metrics"] = {k: None if v is None else v * scale for k, v in data["metrics"].items()}
    for values in data.get("per_class", {}).values():
        for k, v in values.items():
            if isinstance(v, float):
                values[k] = v * scale
    data["provenance"]["pred_sha256"] = f"{name:x<64}"[:64]
    target = folder / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())[:20]}-{path.stem}.json"
    target.write_text(json.dumps(data))
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("site-browser")
    real = _real_results(work)
    with ResultsStore.open(work / "board.db") as store:
        store.add_many(list(real.values()), "PSALM", {"params": "1.5B", "link": "https://arxiv.org/abs/2403.14598"})
        store.add(_variant(real["panoptic"], work, "Mask2Former", 0.9), "Mask2Former", {"params": "216M"})
        store.add(_variant(real["panoptic"], work, "SEEM", 1.05), "SEEM", {"params": "0.3B"})
        store.add(_variant(real["semantic"], work, XSS, 0.8), XSS, {"params": "7B", "link": "javascript:alert(1)"})
        moved = _variant(real["semantic"], work, "Moved", 0.7)
        store.add(moved, "Moved-Model")
        moved.unlink()
        reported = json.loads(real["panoptic"].read_text())
        reported["provenance"]["params"] = {"citation": "LISA, CVPR 2024", "date": "2024-06"}
        reported["provenance"]["pred_sha256"] = "l" * 64
        store.add(reported, "LISA", {"params": "7B"}, source="reported")
        store.add_published([PublishedEntry("PSALM", "panoptic", "default", "default", {"PQ": 55.9, "SQ": 80.1, "RQ": 67.0},
                                            {"title": "PSALM", "arxiv": "2403.14598", "table": "Table 2"})])
        publish_site(store, work / "site", base_url="https://example.org/psalm")
    return work / "site"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run tools/install-browser (installs Debian's chromium) before the browser tests", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed in this environment: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


class Watched:
    """A page that records what must not happen: console errors, page errors, failed or outside requests, dialogs."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(5000)
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text} at {self.page.url}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e} at {self.page.url}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("request", lambda r: r.url.startswith(("file://", "data:")) or self.problems.append(f"outside request: {r.url}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, site: Path, rel: str):
        self.page.goto((site / rel).as_uri())
        return self.page


@pytest.fixture
def watched(browser):
    w = Watched(browser)
    yield w
    w.page.close()


def _file(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


def test_every_page_loads_cleanly_and_every_internal_link_resolves(site, watched):
    root = site.resolve()
    start = (root / "index.html").as_uri()
    queue, seen, fragments, ids = deque([start, (root / "404.html").as_uri()]), set(), [], {}
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        path = _file(url)
        assert path.is_file() and root in path.parents, f"link to a missing page: {url}"
        watched.page.goto(url)
        ids[url] = set(watched.page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in watched.page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"):
            target, fragment = urldefrag(href)
            if not target.startswith("file://"):
                assert target.startswith(("https://", "http://")), href  # user links and the 404's base URL only
                continue
            if fragment:
                fragments.append((target, fragment, url))
            if not target.endswith(".html"):  # data/ downloads: present, not navigated (a CSV starts a download)
                assert _file(target).is_file() and _file(target).stat().st_size > 0, f"{href} (from {url})"
            elif target not in seen:
                queue.append(target)
    for target, fragment, origin in fragments:
        assert fragment in ids[target], f"#{fragment} missing in {target} (from {origin})"
    pages = {p.resolve() for p in site.rglob("*.html")}
    assert {_file(u) for u in seen} == pages  # every page is reachable, none dangles
    assert not watched.problems, watched.problems


def _column(table, index: int) -> list[str]:
    """Each row's sort key in that column: "" for the missing mark, else data-value or the cell's text."""
    return table.locator(f"tbody tr > :nth-child({index + 1})").evaluate_all(
        "cells => cells.map(c => c.classList.contains('na') ? '' : (c.getAttribute('data-value') ?? c.textContent.trim()))")


def test_clicking_a_header_sorts_the_table(site, watched, tmp_path):
    page = watched.open(site, PATHS.task("panoptic"))
    table = page.locator("table.sortable").first
    heads = table.locator("thead th").all_inner_texts()
    pq, pq_th = heads.index("PQ"), heads.index("PQ_th")
    models = lambda: table.locator("tbody tr > th[scope=row]").all_inner_texts()  # noqa: E731
    before = models()
    ranked = [float(v) for v in _column(table, pq)]
    assert len(before) == 5 and ranked == sorted(ranked, reverse=True)  # ranked by PQ on the server side
    assert _column(table, 1)[0] == "published"  # the paper's PSALM number leads; its PQ_th is not printed

    table.get_by_role("button", name="Model", exact=True).click()
    after = models()
    assert after == sorted(before, key=str.lower) and after != before
    assert table.locator("thead th").nth(0).get_attribute("aria-sort") == "ascending"
    table.get_by_role("button", name="Model", exact=True).click()
    assert models() == sorted(before, key=str.lower, reverse=True)

    table.get_by_role("button", name="PQ_th", exact=True).click()  # numbers: best first, nulls last
    values = _column(table, pq_th)
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers, reverse=True) and values[-1] == "" and values.count("") == 1, values
    table.get_by_role("button", name="PQ_th", exact=True).click()
    values = _column(table, pq_th)
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers) and values[-1] == "", values  # nulls stay last
    assert table.locator("thead th").nth(pq_th).get_attribute("aria-sort") == "ascending"
    assert page.locator("#sort-status").inner_text() == "Sorted by PQ_th, ascending."
    shot = tmp_path / "task-panoptic.png"
    page.screenshot(path=str(shot), full_page=True)
    assert not watched.problems, (watched.problems, f"screenshot: {shot}")


def test_drilldown_shows_per_class_rows_and_a_chart(site, watched, tmp_path):
    store = ResultsStore.open(site.parent / "board.db")
    rows = {(r.model, r.task, r.source): r for r in store.list()}
    store.close()
    per_class = json.loads(Path(rows[("PSALM", "panoptic", "measured")].result_path).read_text())["per_class"]
    page = watched.open(site, PATHS.result(rows[("PSALM", "panoptic", "measured")]))
    shot = tmp_path / "drilldown-psalm-panoptic.png"
    page.screenshot(path=str(shot), full_page=True)
    breakdown = page.locator("table.sortable").last
    names = breakdown.locator("tbody tr > th[scope=row]").all_inner_texts()
    assert names == list(per_class), f"per-class rows differ; screenshot: {shot}"
    chart = page.locator("svg.chart")
    assert chart.count() == 1 and chart.is_visible(), f"no chart; screenshot: {shot}"
    assert chart.locator("rect.bar").count() == len(per_class), f"screenshot: {shot}"
    assert "PQ per class" in chart.get_attribute("aria-labelledby") or "PQ per class" in page.locator("svg.chart title").first.inner_html()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200, (box, f"screenshot: {shot}")

    page = watched.open(site, PATHS.result(rows[("Moved-Model", "semantic", "measured")]))
    assert "no longer there (moved or deleted)" in page.locator("#h-break + .notice").inner_text()
    page = watched.open(site, PATHS.result(rows[("PSALM", "panoptic", "published")]))
    assert page.get_by_role("link", name="https://arxiv.org/abs/2403.14598").count() == 1
    assert not watched.problems, (watched.problems, f"screenshot: {shot}")


def test_hostile_model_name_renders_as_text(site, watched):
    page = watched.open(site, PATHS.model(XSS))
    assert page.locator("h1").inner_text() == XSS
    assert page.evaluate("document.scripts.length") == 1  # site.js only
    assert page.locator("img").count() == 0
    assert page.get_by_text("javascript:alert(1)").count() == 1 and page.locator("a[href^='javascript']").count() == 0
    page = watched.open(site, "index.html")
    assert page.get_by_role("link", name=XSS, exact=True).count() >= 1
    assert not watched.problems, watched.problems


def test_drilldown_links_to_its_worst_samples_or_says_why_not(site, watched):
    store = ResultsStore.open(site.parent / "board.db")
    rows = {(r.model, r.task, r.source): r for r in store.list()}
    store.close()
    for task in ("panoptic", "semantic"):
        page = watched.open(site, PATHS.result(rows[("PSALM", task, "measured")]))
        link = page.locator("#h-samples + p a")
        assert "worst of" in link.inner_text()
        link.click()
        page.wait_for_url("**/index.html")
        cards = page.locator("a.card")
        assert cards.count() >= 2, task
        assert page.eval_on_selector_all("img", "els => els.filter(i => !(i.complete && i.naturalWidth > 0)).length") == 0
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url("**/s/0000.html")
        assert page.locator(".view img").evaluate("i => i.naturalWidth") > 0
        page.keyboard.press("u")
        page.wait_for_url("**/index.html")
        page.get_by_role("link", name=re.compile("drill-down")).click()
        page.wait_for_url("**/results/*.html")
        assert page.url == (site / PATHS.result(rows[("PSALM", task, "measured")])).resolve().as_uri()
    why = {
        ("PSALM", "instance", "measured"): "re-run eval --json with --records",  # the instance view needs the match records
        ("Moved-Model", "semantic", "measured"): "is no longer there",
        ("PSALM", "panoptic", "published"): "a number printed in a paper",
        ("Mask2Former", "panoptic", "measured"): "pred.json changed since it was scored",
    }
    for key, text in why.items():
        page = watched.open(site, PATHS.result(rows[key]))
        note = page.locator("#h-samples + .notice")
        assert note.count() == 1 and text in note.inner_text(), (key, note.all_inner_texts())
        assert "\n" not in note.inner_text().strip()
    assert not watched.problems, watched.problems


@pytest.fixture(scope="module")
def full_board(tmp_path_factory) -> Path:
    """Every published row psalm-bench ships (long ablation names, citations, up to 10 metric columns) plus
    measured rows with sizes that span six decades: the layout the 1280 px checks are about."""
    from psalm_bench.leaderboard.published import load_published

    work = tmp_path_factory.mktemp("site-layout")
    real = _real_results(work)
    with ResultsStore.open(work / "board.db") as store:
        load_published(store, None, None)
        store.add(real["panoptic"], "PSALM bundled", {"params": "1.5B"})
        for name, scale, size in (("Tiny", 0.6, "2M"), ("Small", 0.8, "40M"), ("Base", 0.9, "300M"), ("Large-7B", 0.95, "7B"),
                                  ("Large-13B", 0.97, "13B"), ("Huge", 1.02, "120B")):
            store.add(_variant(real["panoptic"], work, name, scale), name, {"params": size})
        render = publish_site(store, work / "site")
    assert render.results > 250
    return work / "site"


def test_task_tables_fit_at_1280px_with_short_rows_and_paper_dates(full_board, watched):
    from psalm_bench.tasks import TASKS

    checked = 0
    for task in TASKS:
        if not (full_board / PATHS.task(task)).is_file():
            continue
        page = watched.open(full_board, PATHS.task(task))
        fits = page.evaluate("""() => Array.from(document.querySelectorAll('.scroll')).map(s => [s.scrollWidth, s.clientWidth])""")
        assert fits and all(sw <= cw for sw, cw in fits), (task, fits)
        assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"), task
        details = page.locator("table.sortable tbody tr td:last-child a").first
        box, view = details.bounding_box(), page.viewport_size
        assert box and box["x"] + box["width"] <= view["width"], (task, box)  # the Details column is on screen
        line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('table.sortable tbody td')).lineHeight) || 20")
        tallest = page.evaluate("Math.max(...Array.from(document.querySelectorAll('table.sortable tbody tr')).map(r => r.getBoundingClientRect().height))")
        assert tallest <= 3.6 * line + 12, (task, tallest, line)  # at most three lines (badge + citation: two)
        checked += 1
    assert checked >= 8
    page = watched.open(full_board, PATHS.task("refcoco"))
    dates = page.locator("table.sortable").first.locator("tbody td.date").all_inner_texts()
    assert dates and all(re.fullmatch(r"\d{4}(-\d\d){0,2}|–", d) for d in dates), dates
    assert not any(d.startswith(("2025", "2026")) for d in dates), dates  # the papers' dates, not the day they were loaded
    cite = page.locator("td.src cite").first
    assert len(cite.inner_text()) < len(cite.get_attribute("title"))  # short in the cell, whole on hover
    assert not watched.problems, watched.problems


def test_size_plot_labels_do_not_run_together(full_board, watched):
    page = watched.open(full_board, PATHS.task("panoptic"))
    chart = page.locator("svg.chart[id^='size-']").first
    assert chart.count() == 1
    for selector in ("text.tick", "text.ptlabel", "text.axlabel"):
        boxes = chart.locator(selector).evaluate_all("els => els.map(e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })")
        if selector == "text.tick":
            assert len(boxes) >= 6  # x and y ticks
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not (a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5), (selector, a, b)
    assert chart.locator("text.ptlabel").count() >= 3
    assert not watched.problems, watched.problems
