"""Hostile text (markup in a model name, a category name, a benchmark name, a caption, a citation)
comes out escaped on every page the site writes, the failure browser's pages inside it included."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from psalm_bench.examples_runner import EXAMPLES
from psalm_bench.leaderboard.site import PATHS, publish_site
from psalm_bench.leaderboard.store import PublishedEntry, ResultsStore
from psalm_bench.tasks import get_task

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SHOWN = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _hostile_panoptic(work: Path) -> tuple[Path, Path]:
    """The bundled panoptic example with every category named EVIL plus its own name."""
    for side in ("gt", "pred"):
        shutil.copytree(EXAMPLES / "panoptic" / side, work / side)
        data = json.loads((EXAMPLES / "panoptic" / f"{side}.json").read_text())
        for c in data.get("categories", []):
            c["name"] = f"{EVIL} {c['name']}"
        (work / f"{side}.json").write_text(json.dumps(data))
    return work / "gt.json", work / "pred.json"


def test_hostile_names_are_escaped_on_every_page(tmp_path):
    gt, pred = _hostile_panoptic(tmp_path)
    result = tmp_path / "pan.json"
    get_task("panoptic").run(gt, pred, progress=False).write_json(result, [gt, gt.with_suffix("")], [pred, pred.with_suffix("")])
    with ResultsStore.open(tmp_path / "board.db") as store:
        store.add(result, EVIL, {"params": "7B", "note": EVIL, "link": f"javascript:{EVIL}"})
        store.add_published([PublishedEntry(EVIL, "panoptic", "default", "default", {"PQ": 56.0},
                                            {"title": EVIL, "table": EVIL, "arxiv": "2403.14598", "read_from": EVIL})])
        site = publish_site(store, tmp_path / "site", base_url="https://example.org/").out
        row = next(r for r in store.list() if r.source == "measured")
    pages = sorted(site.rglob("*.html"))
    samples = [p for p in pages if "-samples" in p.as_posix()]
    assert len(samples) >= 2, "the measured result's browse pages are part of the site"
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text and "onerror=alert(1)>" not in text, path
        parsed = Tags(text)
        assert all(re.fullmatch(r"(\.\./)*(assets/site|browse)\.js", a.get("src", "")) for t, a in parsed.tags if t == "script"), path
        assert not [a for t, a in parsed.tags if t == "img" and "onerror" in a], path
        assert not [a for t, a in parsed.tags if t == "a" and a.get("href", "").lower().startswith("javascript")], path
    # shown as text where each name lands: model page, task board (a caption), the drill-down's per-class table, the browse pages
    model = (site / PATHS.model(EVIL)).read_text()
    assert f"<h1>{SHOWN}</h1>" in model and f"<caption>Results of {SHOWN}," in model
    task = (site / PATHS.task("panoptic")).read_text()
    assert f'title="{SHOWN}">{SHOWN}</a>' in task and f'<cite title="{SHOWN}, {SHOWN}">' in task  # model cell; citation title, table
    drill = (site / PATHS.result(row)).read_text()
    assert f'<th scope="row" class="left">{SHOWN} person</th>' in drill and f"<caption>per class of {SHOWN}" in drill
    assert EVIL + " person" in "".join(Tags(drill).text)  # the class name reads back exactly
    index = next(p for p in samples if p.name == "index.html").read_text()
    assert f"&larr; {SHOWN} on panoptic: drill-down</a>" in index  # the back link names the model
    segs = "".join(p.read_text() for p in samples if p.parent.name == "s")
    assert f"<td class=\"left\">{SHOWN} " in segs  # class names in the matched-segment tables
