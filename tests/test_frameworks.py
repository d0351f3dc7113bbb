import subprocess
import sys

import numpy as np
import pytest

import helpers


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)


def test_import_helpers_loads_no_framework_and_no_pyplot():
    result = run_python(
        "import helpers, sys\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'matplotlib.pyplot', 'ipywidgets')"
        " if m in sys.modules]\n"
        "print(heavy)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_numpy_and_python_values():
    assert helpers.framework_of(np.ones(2)) == "numpy"
    assert helpers.framework_of([1.0, 2.0]) == "numpy"
    np.testing.assert_array_equal(helpers.to_numpy([1.0, 2.0]), [1.0, 2.0])


def test_torch_tensors_are_recognised_and_converted():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert helpers.framework_of(t) == "torch"
    np.testing.assert_array_equal(helpers.to_numpy(t * 2), [2.0, 4.0])


def test_tensorflow_import_is_quiet_and_its_values_are_recognised():
    # In a fresh process: TensorFlow's C++ start-up lines must not reach stderr.
    result = run_python(
        "import helpers\n"
        "tf = helpers.import_tensorflow_quietly()\n"
        "import tensorflow\n"
        "assert tensorflow is tf\n"
        "v = tf.Variable([1.0, 2.0], dtype=tf.float64)\n"
        "with tf.GradientTape() as tape:\n"
        "    y = tf.reduce_sum(v * v)\n"
        "g = tape.gradient(y, v)\n"
        "assert helpers.framework_of(v) == 'tensorflow' == helpers.framework_of(g)\n"
        "print(helpers.to_numpy(g).tolist())\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[2.0, 4.0]"
    assert result.stderr == ""


def test_tensorflow_errors_still_reach_stderr_after_the_quiet_import():
    result = run_python(
        "import sys, helpers\n"
        "helpers.import_tensorflow_quietly()\n"
        "print('still visible', file=sys.stderr)\n")
    assert result.returncode == 0
    assert result.stderr.strip() == "still visible"
