"""Build the book with `jupyter-book build ARGS...`, once more if a kernel stalled.

Every cell runs under the per-cell timeout of _config.yml (`execute.timeout`), so a cell that
never finishes fails the build loudly instead of hanging it. A timed-out cell or a kernel that
died has two possible causes: the page (a slow or endless cell, which fails again) or the
machinery outside the book (a kernel or client that stopped answering). This wrapper tells
them apart by building once more: pages that executed are cached, so only the failed ones run
again, and a page that fails twice fails the build.
Other failures (a warning, an error in a cell) are reported at once, without a second build.

    python scripts/build_book.py . -n -W --keep-going [--toc ... --path-output ...]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.widgets import STATIC_ENV

STALL = re.compile(r"CellTimeoutError|DeadKernelError|Timeout waiting for|timed out while it "
                   r"was being executed")


def build(args: list[str]) -> tuple[int, str]:
    """Run one build, echoing its output as it comes; return its status and output."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", *args]
    # The kernels inherit this: explorers show a figure, not live widgets (helpers/widgets.py
    # says why: a widget displayed during execution stalled the next cell for the timeout).
    env = {**os.environ, STATIC_ENV: "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, env=env)
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return process.wait(), "".join(lines)


def main(args: list[str]) -> int:
    status, output = build(args)
    if status != 0 and STALL.search(output):
        print("\nbuild_book: a cell timed out or a kernel died; building once more to tell a "
              "stalled kernel (passes now) from a slow page (fails again)\n", flush=True)
        # --all: Sphinx must read the failed page again (its doctree holds the failure); the
        # pages that executed come from the cache, so this costs rendering, not execution.
        status, output = build([*args, "--all"])
        if status != 0 and STALL.search(output):
            print("\nbuild_book: the same failure twice: a cell is too slow for its timeout "
                  "(execute.timeout in _config.yml, or the cell's own metadata)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
