"""Shared by the scripts that write generated files: the book's pages, and write-or-check."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The build the tests read: `make book`'s, or another one's (scripts/second_arithmetic.py).
BUILD = Path(os.environ.get("BOOK_BUILD") or ROOT / "_build")


def config_with_absolute_paths() -> dict:
    """_config.yml with its paths made absolute, for a build whose --config lies elsewhere
    (Jupyter Book reads a config's paths relative to the config's folder)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["cache"] = str(ROOT / config["execute"]["cache"])
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    config["html"]["favicon"] = str(ROOT / config["html"]["favicon"])
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()}
    return config


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
