"""Shared by the scripts that write generated files: the book's pages, and write-or-check."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    """Every file named in _toc.yml, without suffix, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def write_or_check(description: str, outputs: Iterable[tuple[Path, Callable[[], str]]]) -> int:
    """Command line of a generator: write each (target, make_text) pair, or with --check
    only report the targets that are missing or differ (exit status 1)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for target, make_text in outputs:
        text = make_text()
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target.relative_to(ROOT))
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if args.check and stale:
        print("out of date (run `make notebooks`):", *stale, sep="\n  ")
        return 1
    if not args.check:
        print(f"wrote {len(stale)} file(s)" + (": " if stale else "")
              + ", ".join(map(str, stale)))
    return 0
