"""Progress in a CI log is whole lines and nothing else: no carriage return
left by a closing bar before the next log line or an error."""

from __future__ import annotations

import io

import pytest

from psalm_bench import progress


@pytest.mark.parametrize("leave", [False, True, None])
@pytest.mark.parametrize("done", [0, 2, 4])
def test_a_log_holds_no_carriage_return(monkeypatch, leave, done):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    log = io.StringIO()
    bar = progress.tqdm(total=4, desc="predict refcoco", unit="img", leave=leave, file=log)
    bar.update(done)
    bar.close()
    log.write("next line\n")
    text = log.getvalue()
    assert "\r" not in text, repr(text)
    lines = text.splitlines()
    assert lines[-1] == "next line"
    assert all(line.startswith("predict refcoco:") for line in lines[:-1])
    assert (done == 4) <= any("4/4" in line for line in lines)  # the finished bar's last line
    if done == 0:
        assert lines == ["next line"]  # nothing before the first item: an error stays one line
