"""The static leaderboard site (psalm_bench.leaderboard.site), without a browser."""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.site import (
    PATHS, bar_chart, date_ticks, nice_ticks, parse_date, parse_size, publish_site, render_site, safe_url, scatter_chart, Point,
)
from psalm_bench.leaderboard.store import PublishedEntry, ResultsStore
from psalm_bench.tasks import TASKS

GT = {"panoptic": "a" * 64, "semantic": "b" * 64, "refcoco": "c" * 64, "vos": "d" * 64}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;\'"'
CLASSES = ["person", "bicycle", "car", "dog", "sky-other-merged", "table & chairs", "<b>bold</b>"]


def metric_names(task: str) -> list[str]:
    return [m for group in TASKS[task].table_rows for m in group]


def synthetic_result(task: str, value: float, *, pred: str = "p", with_breakdown: bool = True, nulls: tuple[str, ...] = (), **params) -> dict:
    """A result JSON in the shape `psalm-bench eval --json` writes (FORMATS.md), numbers made up."""
    metrics = {m: (None if m in nulls else value - i * 0.5) for i, m in enumerate(metric_names(task))}
    out: dict = {"task": task, "metrics": metrics}
    if with_breakdown and task in ("panoptic", "semantic"):
        key = "PQ" if task == "panoptic" else "IoU"
        out["per_class"] = {
            name: {key: None if name == "dog" else (value * (k + 1)) % 100, "pixels" if task == "semantic" else "TP": 10 * k, "isthing": k % 2 == 0}
            for k, name in enumerate(CLASSES)
        }
    if with_breakdown and task == "vos":
        out["per_sequence"] = {f"seq{k}": {"J&F": value - k, "J": value - k + 1, "F": value - k - 1, "object": None} for k in range(3)}
    out["n_samples"] = 12
    out["warnings"] = ["2 images without prediction <scored empty>"]
    out["provenance"] = {"psalm_bench": "0.1.0", "gt_sha256": GT[task], "pred_sha256": pred * 64, "params": params}
    return out


def write_result(folder: Path, name: str, result: dict) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result))
    return path


def build_store(tmp_path: Path) -> ResultsStore:
    """A varied board: measured rows with files, reported rows with citations, a hostile name, gone and changed files."""
    res = tmp_path / "results"
    res.mkdir()
    store = ResultsStore.open(tmp_path / "board.db")
    store.add(write_result(res, "psalm-pan", synthetic_result("panoptic", 55.0, pred="1")), "PSALM",
              {"params": "1.5B", "llm": "Phi-1.5", "link": "https://arxiv.org/abs/2403.14598"})
    store.add(write_result(res, "psalm-sem", synthetic_result("semantic", 60.0, pred="2", protocol="detectron2")), "PSALM")
    store.add(write_result(res, "psalm-vos", synthetic_result("vos", 70.0, pred="3", split="val")), "PSALM")
    store.add(write_result(res, "xss-pan", synthetic_result("panoptic", 40.0, pred="4")), XSS,
              {"params": "7B", "link": "javascript:alert(1)", "note": "<i>hi</i>"})
    store.add(synthetic_result("panoptic", 58.0, pred="5", citation="LISA: Reasoning Segmentation <via> LLM, CVPR 2024", date="2024-06"),
              "LISA", {"params": "13B"}, source="reported")
    store.add(synthetic_result("panoptic", 30.0, pred="6", nulls=("PQ", "PQ_th"), citation="SEEM, NeurIPS 2023", date="2023-12"),
              "SEEM", {"params": "350M"}, source="reported")
    gone = write_result(res, "gone", synthetic_result("semantic", 50.0, pred="7"))
    store.add(gone, "Moved-Model")
    gone.unlink()
    changed = write_result(res, "changed", synthetic_result("semantic", 45.0, pred="8"))
    store.add(changed, "Changed-Model")
    changed.write_text(json.dumps(synthetic_result("semantic", 45.0, pred="9")))
    store.add(write_result(res, "ref", synthetic_result("refcoco", 72.0, pred="a", dataset="refcoco", split="val")), "PSALM")
    citation = {"title": "PSALM: Pixelwise SegmentAtion <with> LMM", "arxiv": "2403.14598", "table": "Table 3",
                "read_from": "javascript:alert(1)", "collection": "test"}
    store.add_published([PublishedEntry("PSALM", "panoptic", "default", "default", {"PQ": 56.0, "SQ": 80.0, "RQ": 66.0}, citation)])
    return store


@pytest.fixture
def store(tmp_path):
    s = build_store(tmp_path)
    yield s
    s.close()


@pytest.fixture
def site(store, tmp_path):
    report = publish_site(store, tmp_path / "site", base_url="https://example.org/board/")
    return report.out


# ---------------------------------------------------------------------------
# A small HTML checker: tags balance, ids are unique, links resolve


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: Counter = Counter()
        self.refs: list[tuple[str, str, dict]] = []  # (tag, url, attrs)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def _record(self, tag: str, attrs: list) -> dict:
        a = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids[a["id"]] += 1
        for key in ("href", "src"):
            if key in a:
                self.refs.append((tag, a[key], a))
        return a

    def handle_starttag(self, tag, attrs):
        self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._record(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def html_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


# ---------------------------------------------------------------------------
# Pages


def test_every_page_parses_and_every_link_resolves(site):
    pages = {p: parse(p) for p in html_files(site)}
    assert len(pages) >= 15
    for path, page in pages.items():
        where = path.relative_to(site)
        assert not page.errors, (where, page.errors[:3])
        assert [k for k, n in page.ids.items() if n > 1] == [], where
        assert page.find("html")[0].get("lang") == "en", where
        assert len(page.find("main")) == 1 and len(page.find("h1")) == 1, where
        assert len(page.find("table")) == len(page.find("caption")), where
        for svg in page.find("svg"):
            assert svg.get("role") == "img" and svg.get("aria-labelledby"), where
        for tag, url, attrs in page.refs:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https"):
                # only user links leave the site, as plain anchors; 404.html (served at any path) uses the base URL
                if where.name == "404.html" and url.startswith("https://example.org/board/"):
                    continue
                assert tag == "a" and "nofollow" in attrs.get("rel", ""), (where, url)
                continue
            if parts.scheme == "data":
                assert tag == "link" and attrs.get("rel") == "icon", (where, url)
                continue
            assert not parts.scheme and not parts.netloc, (where, url)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_file(), (where, url)
            assert site.resolve() in target.parents, (where, url)
            if parts.fragment:
                assert parts.fragment in pages.get(target, parse(target)).ids, (where, url)


def test_html_escapes_user_text(site):
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text and "<i>hi" not in text, path
        assert "javascript:" not in re.findall(r'href="([^"]*)"', text).__str__(), path
        assert len(re.findall(r"<script\b", text)) == (path.name != "404.html"), path  # site.js only; none on 404
    model_page = site / PATHS.model(XSS)
    page = parse(model_page)
    assert XSS in "".join(page.text)  # shown as text, exactly
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in model_page.read_text()
    assert "javascript:alert(1)" in "".join(page.text)  # the unsafe link stays text
    result = parse(site / PATHS.result(next(r for r in ResultsStore.open(site.parent / "board.db").list() if r.task == "panoptic" and r.model == XSS)))
    assert "<b>bold</b>" in "".join(result.text)  # class names from the result file, as text

def test_tables_escape_the_caption_and_cells_they_are_given(tmp_path):
    """Escaping is the one table renderer's (psalm_bench.tables), not the caller's: markup handed to a site table
    as caption, header, cell text, sort key, link title or label is shown as text."""
    from psalm_bench.leaderboard.site import render_table
    from psalm_bench.tables import Cell, Col, Table

    evil = '<script>alert("x")</script>'
    shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    out = str(render_table(Table(evil, [Col(evil, "left", title=evil)], [[Cell(evil, sort=evil, href="a.html", title=evil, label=evil)],
                                                                      [Cell(evil, wrap="code")]], row_classes=[evil, ""])))
    assert "<script" not in out and out.count(shown) == 9, out
    assert f"<caption>{shown} <span class=" in out and f'<tr class="{shown}">' in out and f"<code>{shown}</code>" in out
    # and through a whole site: a benchmark name lands in a board's caption, a model name in cells and captions
    store = ResultsStore.open(tmp_path / "evil.db")
    store.add(synthetic_result("panoptic", 50.0, dataset=evil, split=evil), evil)
    for path in html_files(render_site(store, tmp_path / "site").out):
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text, path
    task_page = (tmp_path / "site" / PATHS.task("panoptic")).read_text()
    assert f"<caption>panoptic on {shown} / {shown}: 1 result, ranked by PQ." in task_page
    store.close()



def _board_table(path: Path) -> tuple[list[dict], list[list[dict]], list[str]]:
    """The first sortable table: header attrs, body cell attrs per row, row classes."""
    heads, rows, classes, in_body = [], [], [], False
    for tag, attrs in parse(path).tags:
        if tag == "tbody":
            in_body = True
        elif tag == "th" and not in_body:
            heads.append(attrs)
        elif tag == "tr" and in_body:
            rows.append([])
            classes.append(attrs.get("class", ""))
        elif tag in ("td", "th") and in_body:
            rows[-1].append(attrs)
        elif tag == "table" and heads:
            break
    return heads, rows, classes


def _key(cell: dict) -> str:
    """A cell's sort key as site.js reads it: "" for the missing mark (class na), else data-value."""
    return "" if "na" in cell.get("class", "").split() else cell["data-value"]


def test_sort_attributes_and_initial_ranking(site):
    heads, rows, classes = _board_table(site / PATHS.task("panoptic"))
    labels = [h.get("data-type") for h in heads]
    assert labels[:3] == ["text", "text", "number"] and labels[-1] is None  # Details is not sortable
    pq = 2
    assert heads[pq].get("aria-sort") == "descending"
    values = [_key(r[pq]) for r in rows]
    numbers = [float(v) for v in values if v != ""]
    assert numbers == sorted(numbers, reverse=True)  # ranked by PQ, best first
    assert values[-1] == ""  # SEEM's PQ is null: sorted last, empty sort key
    for row in rows:
        for head, cell in zip(heads, row):
            if head.get("data-type") == "number":
                assert _key(cell) == "" or float(_key(cell)) == float(_key(cell))
    first = (site / PATHS.task("panoptic")).read_text().split("</table>")[0]
    models = [html.unescape(m) for m in re.findall(r'<th scope="row" class="left"><a href="[^"]*" title="([^"]*)"', first)]
    assert models == ["LISA", "PSALM", "PSALM", XSS, "SEEM"]
    assert [_key(r[1]) for r in rows] == ["reported", "published", "measured", "measured", "reported"]
    assert classes == ["src-reported", "src-published", "src-measured", "src-measured", "src-reported"]
    assert _key(rows[1][3]) == "" and "data-value" not in rows[1][3]  # the paper prints no PQ_th: missing, not zero
    text = (site / PATHS.task("panoptic")).read_text()
    assert "LISA: Reasoning Segmentation &lt;via&gt; LLM, CVPR 2024" in text  # citation shown, escaped
    assert 'class="badge badge-reported">reported<' in text and 'class="badge badge-published">published<' in text
    assert "PSALM: Pixelwise SegmentAtion &lt;with&gt; LMM, Table 3" in text


def test_lower_is_better_metrics_sort_the_other_way(site):
    heads, _, _ = _board_table(site / PATHS.task("vos"))
    decay = [h for h in heads if h.get("data-better") == "lower"]
    assert len(decay) == 2  # J-decay, F-decay


def test_drilldown_shows_breakdown_and_chart(site, store):
    rows = {(r.model, r.task, r.source): r for r in store.list()}
    page = (site / PATHS.result(rows[("PSALM", "panoptic", "measured")])).read_text()
    parsed = parse(site / PATHS.result(rows[("PSALM", "panoptic", "measured")]))
    assert '<svg class="chart"' in page and "PQ per class" in page
    assert page.count('<rect class="bar"') == len(CLASSES) - 1  # dog has no PQ: left out of the chart, with a note
    assert "1 class without a value left out" in page
    tables = parsed.find("table")
    assert len(tables) == 2  # metrics, per class
    assert sum(1 for t, a in parsed.tags if t == "th" and a.get("scope") == "row") == len(metric_names("panoptic")) + len(CLASSES)
    assert "2 images without prediction &lt;scored empty&gt;" in page
    vos = (site / PATHS.result(rows[("PSALM", "vos", "measured")])).read_text()
    assert "J&amp;F per sequence" in vos
    assert "is no longer there (moved or deleted)" in (site / PATHS.result(rows[("Moved-Model", "semantic", "measured")])).read_text()
    assert "has changed since it was added" in (site / PATHS.result(rows[("Changed-Model", "semantic", "measured")])).read_text()
    assert "it is a number printed in a paper" in (site / PATHS.result(rows[("LISA", "panoptic", "reported")])).read_text()
    published = (site / PATHS.result(rows[("PSALM", "panoptic", "published")])).read_text()
    assert 'href="https://arxiv.org/abs/2403.14598"' in published and "not scored by psalm-bench" in published
    assert "javascript:alert(1)" in published and 'href="javascript' not in published


def test_task_page_plots_over_size_and_date(site):
    page = (site / PATHS.task("panoptic")).read_text()
    assert "PQ over model size" in page and "parameters (billions)" in page  # 1.5B to 13B: linear axis
    assert "PQ over time" in page
    assert page.count('class="pt pt-reported"') >= 2  # LISA in both charts (SEEM has no PQ)


def test_overview_lists_tasks_models_and_best(site):
    text = (site / "index.html").read_text()
    page = parse(site / "index.html")
    assert "10 results of 6 models on 4 tasks (7 measured by psalm-bench, 3 from papers)" in text
    for task in ("panoptic", "semantic", "vos", "refcoco"):
        assert f'href="{PATHS.task(task)}' in text
    assert "58.0" in "".join(page.text)  # LISA's reported PQ is the best on panoptic
    assert 'href="data/leaderboard.json"' in text and 'href="data/leaderboard.csv"' in text


# ---------------------------------------------------------------------------
# Publish, folders, empty stores


def test_publish_adds_host_files(site, store):
    assert (site / ".nojekyll").is_file()
    assert "Page not found" in (site / "404.html").read_text()
    not_found = (site / "404.html").read_text()  # served at any address: no relative assets, inline CSS allowed by hash
    assert 'href="https://example.org/board/index.html"' in not_found and "<style>" in not_found and "assets/" not in not_found
    robots = (site / "robots.txt").read_text()
    assert "Sitemap: https://example.org/board/sitemap.xml" in robots
    sitemap = (site / "sitemap.xml").read_text()
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert "https://example.org/board/index.html" in locs and len(locs) == len(html_files(site)) - 1  # all but 404
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    assert len(data["results"]) == len(store.list()) and {r["source"] for r in data["results"]} == {"measured", "reported", "published"}
    assert [r["citation"]["arxiv"] for r in data["results"] if r["source"] == "published"] == ["2403.14598"]
    with open(site / "data" / "leaderboard.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(store.list())


def test_publish_without_base_url_has_no_sitemap(store, tmp_path):
    out = publish_site(store, tmp_path / "pub").out
    assert not (out / "sitemap.xml").exists()
    assert "Sitemap" not in (out / "robots.txt").read_text()
    with pytest.raises(InputError, match="--base-url"):
        publish_site(store, tmp_path / "pub", base_url="ftp://example.org")


def test_render_is_plain_site_without_host_files(store, tmp_path):
    out = render_site(store, tmp_path / "plain").out
    assert not (out / ".nojekyll").exists() and not (out / "data").exists()
    assert "Download the board" not in (out / "index.html").read_text()


def test_rerender_replaces_old_pages_and_refuses_foreign_folders(store, tmp_path):
    out = tmp_path / "site"
    render_site(store, out)
    gone = out / PATHS.model("SEEM")
    assert gone.is_file()
    (out / "CNAME").write_text("board.example.org\n")
    store.remove("SEEM")
    report = render_site(store, out)
    assert not gone.exists() and report.pages == len(html_files(out))
    assert (out / "CNAME").read_text() == "board.example.org\n"  # the host's custom domain survives
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]  # no temporary folders left
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and holds no psalm-bench site"):
        render_site(store, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_empty_store_gives_a_friendly_page(tmp_path):
    with ResultsStore.open(tmp_path / "empty.db") as store:
        report = render_site(store, tmp_path / "site")
    assert report.pages == 1
    page = parse(tmp_path / "site" / "index.html")
    assert not page.errors
    text = "".join(page.text)
    assert "No results yet" in text and "psalm-bench leaderboard add" in text


# ---------------------------------------------------------------------------
# Pieces


def test_parse_size_and_date():
    assert parse_size("7B") == 7e9 and parse_size("1.3b") == 1.3e9 and parse_size("350M") == 350e6
    assert parse_size("2.7e9") == 2.7e9 and parse_size(" ~13 B ") == 13e9 and parse_size("7Bn") == 7e9
    assert parse_size("big") is None and parse_size("") is None and parse_size("7B+0.3B") is None
    assert parse_date("2024") .isoformat() == "2024-01-01" and parse_date("2024-06").isoformat() == "2024-06-01"
    assert parse_date("2025-01-02T03:04:05+00:00").isoformat() == "2025-01-02"
    assert parse_date("June 2024") is None and parse_date("2024-13-01") is None


def test_safe_url_accepts_only_http():
    assert safe_url("https://arxiv.org/abs/1") == "https://arxiv.org/abs/1"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "https://x.org/\"onmouseover=1", "vbscript:x"):
        assert safe_url(bad) is None


def test_ticks():
    assert nice_ticks(0, 100, 4) == [0, 25, 50, 75, 100]
    ticks = nice_ticks(38.2, 49.9, 5)
    assert ticks[0] <= 38.2 and ticks[-1] >= 49.9 and len(ticks) <= 8
    from datetime import date

    t, fmt = date_ticks(date(2020, 6, 1).toordinal(), date(2024, 11, 21).toordinal())
    assert fmt == "%Y" and t[0] <= date(2020, 6, 1).toordinal() and t[-1] >= date(2024, 11, 21).toordinal()
    t, fmt = date_ticks(date(2024, 1, 15).toordinal(), date(2024, 3, 2).toordinal())
    assert fmt == "%Y-%m" and [date.fromordinal(int(x)).month for x in t] == [1, 2, 3, 4]


def test_charts_escape_labels():
    svg = bar_chart([("<x>", 50.0), ("a&b", 10.0)], chart_id="c", title="t<", desc="d&")
    assert "<x>" not in svg and "&lt;x&gt;" in svg and "a&amp;b" in svg and "t&lt;" in svg
    assert Page(svg).errors == []
    pts = [Point("<m>", 1e9, 50.0, "measured"), Point("n", 7e9, 40.0, "reported")]
    svg = scatter_chart(pts, chart_id="s", title="T", desc="D", x_label="x", y_label="y", x_scale="log")
    assert "&lt;m&gt;" in svg and "<m>" not in svg and Page(svg).errors == []
    assert bar_chart([], chart_id="e", title="t", desc="d") == ""


# ---------------------------------------------------------------------------
# CLI


def test_cli_render_and_publish(store, tmp_path):
    db = tmp_path / "board.db"
    run = run_cli("leaderboard", "render", "--db", db, "--out", tmp_path / "cli-site")
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and (tmp_path / "cli-site" / "index.html").is_file()
    run = run_cli("leaderboard", "publish", "--db", db, "--out", tmp_path / "cli-pub", "--base-url", "https://example.org")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "cli-pub" / "sitemap.xml").is_file() and (tmp_path / "cli-pub" / ".nojekyll").is_file()


def test_cli_errors_are_one_line(tmp_path):
    assert_one_line_error(run_cli("leaderboard", "render", "--db", tmp_path / "none.db", "--out", tmp_path / "s"), "none.db", "no leaderboard database")
    with ResultsStore.open(tmp_path / "b.db"):
        pass
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("x")
    assert_one_line_error(run_cli("leaderboard", "render", "--db", tmp_path / "b.db", "--out", tmp_path / "taken"), "taken", "not empty")
    assert_one_line_error(run_cli("leaderboard", "publish", "--db", tmp_path / "b.db", "--out", tmp_path / "p", "--base-url", "example.org"), "--base-url")


def test_dates_keep_their_precision_and_published_rows_never_show_the_load_day():
    from psalm_bench.leaderboard.site import date_label, row_date, short_citation
    from psalm_bench.leaderboard.store import Row

    def row(source: str, added_at: str, citation: dict | None = None, params: dict | None = None) -> Row:
        return Row("M", "panoptic", "default", "default", {"PQ": 1.0}, None, None, None, "0.1.0", None, "", params or {},
                   source, added_at, {}, citation)

    paper = {"title": "PSALM: Pixelwise SegmentAtion with Large Multi-Modal Model", "table": "Table 8", "date": "2024"}
    assert date_label(row("published", "2026-12-03T09:00:00+00:00", paper)) == "2024"
    assert row_date(row("published", "2026-12-03T09:00:00+00:00", paper)).isoformat() == "2024-01-01"  # sorts and plots as a day
    assert date_label(row("published", "2026-12-03T09:00:00+00:00", {"title": "X"})) is None  # no paper date: '–', not the load day
    assert date_label(row("measured", "2026-12-03T09:00:00+00:00")) == "2026-12-03"
    assert date_label(row("reported", "2026-12-03T09:00:00+00:00", params={"date": "2024-06"})) == "2024-06"
    assert short_citation(row("published", "", paper)) == "PSALM, Table 8"
