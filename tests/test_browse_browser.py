"""The failure browser's pages in a real browser: Playwright driving the system Chromium over file://.

Like tests/test_site_browser.py, these fail (never skip) without /usr/bin/chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from psalm_bench.examples_runner import EXAMPLES
from psalm_bench.leaderboard.browse import browse
from psalm_bench.tasks import get_task
from test_site_browser import Watched, browser  # noqa: F401  (the shared Chromium fixture)

K = 4


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    """Browse pages of the bundled panoptic example: the K worst images."""
    work = tmp_path_factory.mktemp("browse-browser")
    gt, pred = EXAMPLES / "panoptic" / "gt.json", EXAMPLES / "panoptic" / "pred.json"
    result = work / "pan.json"
    get_task("panoptic").run(gt, pred, progress=False).write_json(result, [gt, gt.with_suffix("")], [pred, pred.with_suffix("")])
    browse(result, gt, pred, work / "b", worst=K)
    return work / "b"


@pytest.fixture
def watched(browser):  # noqa: F811
    w = Watched(browser)
    yield w
    w.page.close()


def _images_loaded(page) -> list[str]:
    """Sources of <img> elements that did not decode (empty when all loaded)."""
    page.wait_for_load_state("load")
    return page.eval_on_selector_all("img", "els => els.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")


def test_every_browse_page_loads_its_images_without_errors(pages, watched):
    page = watched.open(pages, "index.html")
    assert page.locator("a.card").count() == K
    assert _images_loaded(page) == [] and _no_horizontal_overflow(page)
    for rank in range(K):
        page = watched.open(pages, f"s/{rank:04d}.html")
        assert page.locator(".view img").count() == 1
        assert _images_loaded(page) == [], rank
        assert page.locator("table.segs tbody tr").count() > 0
        colours = page.eval_on_selector_all(".legend .sw", "els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert colours and all(c != "rgba(0, 0, 0, 0)" for c in colours)  # browse.js painted the swatches (CSP allows no inline style)
        assert _no_horizontal_overflow(page), rank
    assert not watched.problems, watched.problems


def test_keyboard_moves_between_samples(pages, watched):
    page = watched.open(pages, "index.html")
    focused = lambda: page.evaluate("document.activeElement.getAttribute('data-rank')")  # noqa: E731
    page.keyboard.press("j")
    assert focused() == "0"
    page.keyboard.press("j")
    page.keyboard.press("ArrowRight")
    assert focused() == "2"
    page.keyboard.press("k")
    assert focused() == "1"
    page.keyboard.press("Enter")
    page.wait_for_url("**/s/0001.html")
    page.keyboard.press("j")
    page.wait_for_url("**/s/0002.html")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url("**/s/0001.html")
    page.keyboard.press("k")
    page.wait_for_url("**/s/0000.html")
    page.keyboard.press("k")  # the first sample has no previous one: stays
    page.wait_for_timeout(200)
    assert page.url.endswith("/s/0000.html")
    page.keyboard.press("u")
    page.wait_for_url("**/index.html")
    assert not watched.problems, watched.problems


@pytest.fixture(scope="module")
def instance_pages(tmp_path_factory) -> Path:
    """Browse pages of the bundled instance example (match records kept), with its PR plots."""
    work = tmp_path_factory.mktemp("browse-browser-instance")
    gt, pred = EXAMPLES / "instance" / "gt.json", EXAMPLES / "instance" / "pred.json"
    result = work / "inst.json"
    get_task("instance").run(gt, pred, records=True, progress=False).write_json(result, gt, pred)
    browse(result, gt, pred, work / "b", worst=K)
    return work / "b"


def test_instance_pages_and_their_plots_load(instance_pages, watched):
    page = watched.open(instance_pages, "index.html")
    assert page.locator("a.card").count() == K
    assert page.locator("section.plots img").count() == 2
    assert _images_loaded(page) == [] and _no_horizontal_overflow(page)
    widths = page.eval_on_selector_all("section.plots img", "els => els.map(i => i.naturalWidth)")
    assert all(w > 600 for w in widths)
    for rank in range(K):
        page = watched.open(instance_pages, f"s/{rank:04d}.html")
        assert _images_loaded(page) == [], rank
        assert page.locator("table.segs tbody tr").count() > 0
        assert page.eval_on_selector(".view img", "i => i.getBoundingClientRect().width") >= 640  # small pictures enlarged (1280 px viewport)
        assert _no_horizontal_overflow(page), rank
    assert not watched.problems, watched.problems
