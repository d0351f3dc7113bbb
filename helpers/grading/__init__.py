"""Graded exercises: instant feedback in the notebook, and batch grading for instructors.

In an exercise notebook::

    from helpers.grading import Checker
    check = Checker("ch1")
    ...
    check("q1")      # passed, or exactly why not, from the public cases
    check.score()    # the running score

From a terminal (see ``python -m helpers.grading --help``)::

    python -m helpers.grading check exercises/01_partial_derivatives.ipynb
    python -m helpers.grading grade --out grades.csv submissions/*.ipynb
    python -m helpers.grading gradescope --out autograder.zip

Instant feedback uses only what ships with the package (:mod:`helpers.grading.public`).
Student code never runs in the grader's process: each notebook is executed by
:mod:`helpers.grading.worker` in a separate process, inside the bubblewrap sandbox of
:mod:`helpers.grading.sandbox`, with time, CPU and memory limits, and only plain data (JSON)
comes back; expected values and hidden cases stay in the grader.
"""

from helpers.grading.checker import Checker
from helpers.grading.compare import compare
from helpers.grading.variants import book_variant

__all__ = ["Checker", "book_variant", "compare"]
