"""Build the book's numbers again under a second arithmetic, and run the tests against them.

A number the book prints, commits or tests must be a property of the mathematics, not of
the CPU that computed it (README.md, "Numbers that hold on any machine"). One machine can
prove that about itself by changing its arithmetic, which is what another CPU does:

* OpenBLAS's Prescott kernels (SSE3: no fused multiply-add, other blocking), on one thread:
  every NumPy matrix product, solve and eigendecomposition rounds differently;
* NumPy without its AVX2/AVX-512 loops (``NPY_DISABLE_CPU_FEATURES``): other tanh, exp, sums;
* PyTorch's generic kernels (``ATEN_CPU_CAPABILITY=default``), one thread, and MKL's
  compatible code path;
* TensorFlow without oneDNN (Eigen's kernels).

Under these settings the website is built into ``_build/numerics/_build/html`` with an
execution cache of its own (every page executed again; no PDF), and then the page checks
(``tests/book/test_built_site.py``: the glued values against scripts/glued_values.json, the
numbers each page prints; ``tests/book/test_second_arithmetic.py``: every output as `make
book` printed it, but for cells tagged ``machine-dependent``) and the grading tests (the
public answers of every chapter against helpers/grading/public_expected.json) run against
that build, under the same settings.

    python scripts/second_arithmetic.py          # `make numerics`; `make test` runs it
    python scripts/second_arithmetic.py --env    # print the settings, for a shell
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.generated import ROOT, config_with_absolute_paths

SETTINGS = {
    "OPENBLAS_CORETYPE": "Prescott",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MKL_CBWR": "COMPATIBLE",
    # NumPy 2.4's dispatch groups; naming one the CPU lacks is allowed
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "ATEN_CPU_CAPABILITY": "default",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}
BUILD = ROOT / "_build" / "numerics"
TESTS = ["tests/book/test_built_site.py", "tests/book/test_second_arithmetic.py",
         "tests/test_grading.py", "tests/test_variants.py",
         # the course build is `make book-course`'s: this script builds the website alone
         "--deselect",
         "tests/book/test_built_site.py::test_course_site_has_the_exercises_and_no_solution"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="store_true", help="print the settings and stop")
    if parser.parse_args(argv).env:
        print(" ".join(f"{k}={shlex.quote(v)}" for k, v in SETTINGS.items()))
        return 0
    env = {**os.environ, **SETTINGS}
    shutil.rmtree(BUILD, ignore_errors=True)  # every page executed anew: nothing kept
    BUILD.mkdir(parents=True)
    config = config_with_absolute_paths()
    config["execute"]["cache"] = str(BUILD / "_build" / ".jupyter_cache")
    (BUILD / "_config.yml").write_text(yaml.safe_dump(config))
    print(f"second arithmetic: {' '.join(f'{k}={v}' for k, v in SETTINGS.items())}",
          flush=True)
    build = [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(ROOT), "-n", "-W",
             "--keep-going", "--config", str(BUILD / "_config.yml"),
             "--path-output", str(BUILD)]
    if subprocess.run(build, env=env, cwd=ROOT, check=False).returncode:
        return 1
    env["BOOK_BUILD"] = str(BUILD / "_build")  # tests/site_server.py and make_notebooks.py
    tests = [sys.executable, "-m", "pytest", "-m", "not slow", "-p", "no:cacheprovider", *TESTS]
    return subprocess.run(tests, env=env, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
