"""Progress that also reads in a CI log: a tqdm bar on a terminal, plain lines elsewhere.

A tqdm bar redraws one line with carriage returns; written to a file or a CI
log it is one unreadable line that appears only at the end. When the stream
is not a terminal, :class:`tqdm` prints a whole line (``desc:  33%|###  |
40/120 [00:12<00:24, 3.3img/s]``) at most every ``LINE_SECONDS`` and one when
the work is done; nothing before the first item or after a failure, so an
error stays the one line on stderr. Use it exactly like ``tqdm.tqdm``.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm as _tqdm

# A line at most this often in a log (and one at the end).
LINE_SECONDS = 10.0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.tqdm
    """``tqdm.tqdm`` on a terminal; elsewhere, one complete line per update interval."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        stream = kwargs.get("file") or sys.stderr
        self._as_lines = not _is_terminal(stream)
        if self._as_lines:
            kwargs["mininterval"] = max(float(kwargs.get("mininterval") or 0.0), LINE_SECONDS)
            kwargs["maxinterval"] = max(float(kwargs.get("maxinterval") or 0.0), LINE_SECONDS)
            kwargs["dynamic_ncols"] = False
            kwargs["ncols"] = None
            kwargs["ascii"] = True
            kwargs["leave"] = False  # lines stay in a log anyway; tqdm's "leave" would repeat the last one and add a blank
        self._last_line = ""
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if not getattr(self, "_as_lines", False):
            return super().display(msg, pos)
        closing = msg == ""  # tqdm clears a leave=False bar with an empty message
        # closing: False, or tqdm follows the clear with a "\r" that a log keeps before its next line
        if self.n == 0 or (closing and self.total is not None and self.n < self.total):
            return not closing  # no line before the first item, nor for a run stopped by an error
        line = (str(self) if (msg is None or closing) else msg).strip()
        if line and line != self._last_line:
            self._last_line = line
            self.fp.write(line + "\n")
            self.fp.flush()
        return not closing
