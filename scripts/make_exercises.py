"""Write the student notebooks in exercises/ from the reference solutions in solutions/.

One source of truth: each solution notebook holds the exercise statements, the check
cells, and, between ``solution-start`` and ``solution-end``, the explanations and the
answer cells (tagged ``answer``). The student version keeps the statements and the check
cells, drops the solution blocks, and puts in their place a stub of each answer cell: the
same names, ``None`` for values, and for functions the signature and docstring with a body
that says "not answered yet".

    python scripts/make_exercises.py          # (re)write exercises/*.md
    python scripts/make_exercises.py --check  # exit 1 if any is missing or out of date
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.generated import ROOT, write_or_check

SOLUTION_BLOCK = re.compile(r"^```\{solution-start\}.*?^```\{solution-end\}\n```\n\n?",
                            re.DOTALL | re.MULTILINE)
ANSWER_CELL = re.compile(r"^```\{code-cell\} ipython3\n:tags: \[answer\]\n\n(.*?)^```\n",
                         re.DOTALL | re.MULTILINE)
ANSWER_NAME = re.compile(r"q\d+")


def stub(source: str) -> str:
    """The student's version of an answer cell: names kept, answers removed."""
    lines = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.append(ast.unparse(node))
        elif isinstance(node, ast.FunctionDef) and ANSWER_NAME.fullmatch(node.name):
            docstring = ast.get_docstring(node)
            node.body = ([ast.Expr(ast.Constant(docstring))] if docstring else []) + [
                ast.Return(ast.Constant(None))]
            node.decorator_list = []
            code = ast.unparse(node).replace(
                "return None", "# your code here\n    return None  # not answered yet")
            lines.append(code)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and ANSWER_NAME.fullmatch(t.id) for t in node.targets):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            lines.append(f"{' = '.join(names)} = None  # not answered yet")
    if not lines:
        raise ValueError(f"an answer cell defines no qN answer:\n{source}")
    return "\n\n\n".join(lines) + "\n"


def exercise_text(solution: str) -> str:
    def replace(block: re.Match) -> str:
        answers = ANSWER_CELL.findall(block.group(0))
        if not answers:
            raise ValueError("a solution block has no answer cell tagged [answer]")
        return "".join(f"```{{code-cell}} ipython3\n:tags: [answer]\n\n{stub(a)}```\n\n"
                       for a in answers)

    return SOLUTION_BLOCK.sub(replace, solution)


def main() -> int:
    return write_or_check(__doc__, ((ROOT / "exercises" / solution.name,
                                     lambda solution=solution: exercise_text(solution.read_text()))
                                    for solution in sorted((ROOT / "solutions").glob("*.md"))))

if __name__ == "__main__":
    sys.exit(main())
