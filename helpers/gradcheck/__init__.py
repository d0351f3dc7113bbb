"""Gradient checks that stay trustworthy from ten parameters to a billion.

``check_grad(f, x, grad=None)`` compares a gradient (given, or computed by the framework's
autodiff) with finite differences of ``f``, for NumPy arrays, PyTorch tensors (one tensor, a
list such as ``list(model.parameters())``, or a module), TensorFlow tensors or variables (or
a Keras model). A vector-valued ``f`` has its Jacobian checked.

Two modes, chosen by size unless asked for:

* ``"full"`` (``full.py``): a central difference for every coordinate (and every output).
  Exact about *where* a gradient is wrong; costs ``2 N`` evaluations.
* ``"directional"`` (``directional.py``): a Taylor ladder along a few seeded random
  directions, at three evaluations of f per direction whatever N is. Parameters are moved in
  place and restored exactly; the direction is drawn piece by piece and never stored. On
  failure, the same check per tensor says which tensor is wrong.

The package: ``report.py`` (what a check found), ``backend.py`` (the interface the checks
use, which never names a framework), one module per framework, and ``torch_fast.py`` (the
PyTorch path for large N). Finite differences share one loop and one step policy with
``helpers.calculus``.

Why not the frameworks' own checkers: ``torch.autograd.gradcheck`` builds the full Jacobian
(``2 N`` evaluations), and its fast mode's tolerance grows with ``N`` so that at ``N >= 1e5``
it passes gradients with an entry doubled; ``tf.test.compute_gradient`` builds both Jacobians;
``jax.test_util.check_grads`` uses a fixed step ``1e-4`` whatever the dtype. None reports a rate
or tells a round-off floor from a wrong gradient.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.gradcheck.backend import Backend, VectorOutput, seed_for
from helpers.gradcheck.choose import backend_for
from helpers.gradcheck.directional import Judge, check_directional
from helpers.gradcheck.full import check_full
from helpers.gradcheck.report import (
    Direction,
    Entry,
    GradCheckError,
    GradCheckReport,
    TensorVerdict,
)

__all__ = ["Direction", "Entry", "GradCheckError", "GradCheckReport", "TensorVerdict",
           "check_grad"]

FULL_MODE_LIMIT = 2_000  # coordinates; above this "auto" never picks the full mode
# What each mode costs beyond evaluating f, measured on this machine's CPU with a trivial f
# (benchmarks/gradcheck_benchmark.py): ~20 us per coordinate in the full mode, ~0.2 ms per
# call in the directional mode. "auto" picks the full mode where it is cheaper, or costs
# under FULL_MODE_BUDGET: every entry judged on its own (the directional mode cannot see an
# error in an entry whose share of grad . v is below its resolution) is worth 0.2 s.
FULL_COST_PER_ENTRY = 20e-6
DIRECTIONAL_COST = 200e-6
FULL_MODE_BUDGET = 0.2  # seconds
# Relative error of grad . v accepted in float64, below which only the measured resolution
# decides (an error must exceed three times it to fail). A right gradient's error is 1e-10
# to 1e-9 of grad . v in float64, and its measured resolution 1e-9 to 3e-9 (both from
# benchmarks/gradcheck_reliability.py, where no right gradient of a smooth loss failed).
DIRECTIONAL_RTOL = 1e-9
FULL_RTOL = 1e-7  # per entry, relative to the entry: central differences resolve ~1e-9


def check_grad(
    f: Callable,
    x: Any,
    grad: Any = None,
    *,
    mode: str = "auto",
    directions: int = 1,
    seed: int = 0,
    rtol: float | None = None,
    rungs: int = 3,
    value: float | None = None,
) -> GradCheckReport:
    """Check the gradient of ``f`` at ``x`` against finite differences.

    ``x`` is a NumPy array; a torch tensor, a list of them (e.g.
    ``list(model.parameters())``) or a module (its trainable parameters); a TensorFlow
    tensor or variable, a list of them, or a Keras model (Keras 3 variables, as in
    ``model.trainable_variables``, are checked through the tf.Variable they wrap). ``f`` is
    called with ``x`` as given, and ``x`` is left exactly as it was, whatever ``f`` does.
    ``grad`` is the gradient to check: a function of ``x``, or the gradient itself (an array,
    or a list of tensors like ``x``). Left out, the gradient is computed by autodiff (PyTorch
    autograd, TensorFlow ``GradientTape``); NumPy needs it given.

    If ``f`` returns an array of shape S rather than a number, ``grad`` is its Jacobian (shape
    S + x.shape, per tensor). The full mode checks every entry; the directional mode checks
    the vector-Jacobian product ``u^T J`` for a random ``u``, as the gradient of ``u . f``.

    ``mode`` is ``"full"``, ``"directional"`` or ``"auto"``: the full mode where its ``2 N``
    evaluations take under 0.2 s or less time than the directional check (for a cheap f, up
    to about two thousand coordinates), and then looks along one direction too; else the
    directional mode. The choice rests on the time
    f(x) took, so near the crossing it can differ from run to run: pass ``mode`` for a
    report that must not.
    ``directions`` and ``rungs`` set the size of the directional check (``rungs``
    evaluations of ``f`` per direction), ``seed`` makes it reproducible, and ``rtol`` is the
    relative error accepted (default in float64: 1e-9 of ``grad . v`` in the directional
    mode, 1e-7 per entry in the full mode; lower precisions are judged only when the
    measurement can resolve a 1e-4 error, else the verdict is "inconclusive"). ``value`` is
    ``f(x)`` when the caller already has it alongside a given gradient, which saves one
    evaluation.

    Returns a :class:`GradCheckReport`; raises :class:`GradCheckError` for bad input.

    >>> report = check_grad(lambda x: (x**2).sum(), np.array([1.0, -2.0]), lambda x: 2 * x)
    >>> report.verdict, report.mode
    ('passed', 'full')
    >>> check_grad(lambda x: (x**2).sum(), np.array([1.0, -2.0]), lambda x: x).verdict
    'failed'
    """
    if mode not in ("auto", "full", "directional"):
        raise GradCheckError(f"mode must be 'auto', 'full' or 'directional', got {mode!r}")
    if not _is_integer(directions) or directions < 1:
        raise GradCheckError(f"directions must be a positive integer, got {directions!r}")
    if not _is_integer(rungs) or rungs < 2:  # two rungs: one rate, one Richardson estimate
        raise GradCheckError(f"rungs must be an integer of at least 2, got {rungs!r}")
    if not _is_integer(seed):
        raise GradCheckError(f"seed must be an integer, got {seed!r}")
    if rtol is not None and not (_is_real(rtol) and 0 < rtol < math.inf):
        raise GradCheckError(f"rtol must be a positive number (a relative error, e.g. 1e-6), "
                             f"got {rtol!r}")
    if value is not None:
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise GradCheckError(f"value must be f(x), a finite number, got {value!r}")
        value = number
    backend = backend_for(f, x, grad)
    with backend.session():
        try:
            settings = dict(mode=mode, directions=int(directions), seed=int(seed),
                            rtol=None if rtol is None else float(rtol), rungs=int(rungs),
                            value=value)
            try:
                report = _check(backend, **settings)
            except VectorOutput as vector:
                report = _check_vector(backend, x, vector.shape, **settings)
            return report if report.passed else _unless_random(backend, report)
        finally:  # whatever f did (raised, returned NaN), x is as it was
            backend.restore_all(range(len(backend.tensors)))


def _is_integer(n: Any) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool)


def _is_real(n: Any) -> bool:
    return isinstance(n, (int, float, np.integer, np.floating)) and not isinstance(n, bool)


def _number(value: Any) -> float | None:
    """``value`` as a float (a Python or NumPy number, or a one-element tensor), else None."""
    if isinstance(value, (str, bytes, bool)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _passes(backend: Backend) -> int:
    """Gradient computations: autodiff or a function of x, once; an array costs nothing."""
    return 1 if backend.grad_source is None or callable(backend.grad_source) else 0


def _judge(backend: Backend, rtol: float | None) -> Judge:
    """The default rtol and resolution by precision; a user's rtol is honoured in each (a
    measurement that resolves it may pass, however coarse that is)."""
    if backend.dtype == "float64":
        default, resolvable = DIRECTIONAL_RTOL, 1e-3
    else:
        default, resolvable = 1e-3, 1e-4
    if rtol is None:
        return Judge(default, resolvable)
    return Judge(rtol, max(resolvable, rtol))


def _check(backend: Backend, mode, directions, seed, rtol, rungs, value) -> GradCheckReport:
    evaluations, start = 0, time.perf_counter()
    if backend.grad_source is not None:  # f(x) first: it also tells a vector-valued f
        if value is None or (mode == "auto" and backend.size <= FULL_MODE_LIMIT):
            f0 = backend.value()  # (timed, for "auto", even where value= is given)
            evaluations = 1
        else:
            f0 = float(value)
        one_evaluation = time.perf_counter() - start
        _, grads = backend.value_and_gradient()
    else:
        f0, grads = backend.value_and_gradient()
        # a forward+backward pass costs about three evaluations (Griewank & Walther)
        one_evaluation = (time.perf_counter() - start) / 3
    chosen = mode == "auto"
    if chosen:
        mode = _cheaper_mode(backend, one_evaluation, rungs)
    if mode == "full":
        given = _finite([backend.to_numpy(g).astype(np.float64) for g in grads])
        report = check_full(backend, np.array(f0), given, _full_rtol(backend, rtol), evaluations,
                            _passes(backend), jacobian=False)
        if chosen and report.passed and backend.size > 1:
            return _and_along_a_direction(backend, report, f0, grads, directions, seed, rtol,
                                          rungs)
        return report
    return check_directional(backend, f0, grads, _passes(backend), evaluations, directions,
                             seed, _judge(backend, rtol), rungs)


def _and_along_a_direction(backend: Backend, report: GradCheckReport, f0: float, grads: list,
                           directions: int, seed: int, rtol: float | None,
                           rungs: int) -> GradCheckReport:
    """The full mode judges each entry against its own round-off, which can hide an error of
    1e-6 spread over a whole tensor; one direction sums the entries and resolves 1e-9 of the
    sum. Where "auto" chose the full mode and it passed, a few more evaluations look along a
    direction too, and a failure there is the verdict."""
    along = check_directional(backend, f0, grads, 0, 0, directions, seed,
                              _judge(backend, rtol), rungs)
    if along.verdict == "failed":
        along.summary = ("every entry agrees with its central difference within its own "
                         f"round-off, but along a random direction {along.summary}")
        along.evaluations += report.evaluations
        along.gradient_passes = report.gradient_passes
        return along
    report.evaluations += along.evaluations
    if along.passed:
        report.summary += (f"; along {len(along.directions)} random direction"
                           f"{'s' if len(along.directions) > 1 else ''} too, to "
                           f"{max(d.relative_error for d in along.directions):.1e}")
    return report


def _cheaper_mode(backend: Backend, one_evaluation: float, rungs: int) -> str:
    """The full mode where its 2 N evaluations cost under FULL_MODE_BUDGET or less than the
    directional mode's few evaluations and its fixed overhead; else the directional mode."""
    if backend.size > FULL_MODE_LIMIT:
        return "directional"
    full = backend.size * (2 * one_evaluation + FULL_COST_PER_ENTRY)
    directional = (rungs + 2) * one_evaluation + DIRECTIONAL_COST
    return "full" if full <= max(directional, FULL_MODE_BUDGET) else "directional"


def _full_rtol(backend: Backend, rtol: float | None) -> float:
    return rtol if rtol is not None else FULL_RTOL if backend.dtype == "float64" else 1e-3


def _finite(arrays: list[np.ndarray]) -> list[np.ndarray]:
    for i, a in enumerate(arrays):
        if not np.all(np.isfinite(a)):
            raise GradCheckError(f"gradient of tensor {i} contains NaN or inf")
    return arrays


def _check_vector(backend: Backend, x: Any, shape: tuple[int, ...], mode, directions, seed,
                  rtol, rungs, value) -> GradCheckReport:
    """A vector-valued f: its whole Jacobian (full mode), or the gradient of u . f(x) for a
    seeded random u, which is the vector-Jacobian product u^T J (directional mode)."""
    backend.output_shape = shape
    start = time.perf_counter()
    f0 = backend.evaluate()
    if mode == "auto":
        mode = _cheaper_mode(backend, time.perf_counter() - start, rungs)
    if mode == "full":
        jacobians = _finite(backend.jacobian(shape))
        return check_full(backend, f0, jacobians, _full_rtol(backend, rtol), 1,
                          _passes(backend), jacobian=True)
    u = np.random.default_rng(seed_for(seed, 7)).standard_normal(shape)  # any int seed
    grad = None
    if backend.grad_source is not None:
        jacobians = _finite(backend.jacobian(shape))
        grad = [backend.from_numpy(i, np.tensordot(u, j, axes=len(shape)))
                for i, j in enumerate(jacobians)]
    inner = backend_for(lambda v: backend.weighted_sum(backend.f(v), u), x, grad)
    with inner.session():
        try:
            report = _check(inner, "directional", directions, seed, rtol, rungs, None)
        finally:
            inner.restore_all(range(len(inner.tensors)))
    report.evaluations += 1  # f(x), which told the vector from a scalar
    report.summary = (f"u . f(x) for a random u (f returns shape {shape}; its gradient is the "
                      f"vector-Jacobian product u^T J): {report.summary}")
    return report


def _unless_random(backend: Backend, report: GradCheckReport) -> GradCheckReport:
    """A check that did not pass: first make sure f gives the same value twice at x.

    A loss with dropout left on, or one that samples a batch inside f, changes between any
    two evaluations; its finite differences measure the noise, not the slope, and would be
    misread as a wrong gradient or a kink. Two more evaluations, on the failing path only.
    A failure stands where the values differ too little to explain it (one unit in the last
    place, from the order of a parallel sum): jitter j moves a slope measured with step h by
    about j / h, so an error many times that is the gradient's.
    """
    first, second = (backend.evaluate() for _ in range(2))
    report.evaluations += 2
    if np.array_equal(first, second, equal_nan=True):
        return report
    jitter = float(np.max(np.abs(first - second)))
    if report.verdict == "failed" and report.error > 1000 * jitter / report.shortest_step:
        report.summary += (f" (f is not deterministic, but the {jitter:.1e} by which its "
                           "values vary at x explains only a small part of this error)")
        return report
    gave = (f"{float(first.reshape(()))!r} and {float(second.reshape(()))!r}" if first.size == 1
            else "different values")
    report.verdict = "inconclusive"
    report.summary = (f"f is not deterministic: two evaluations at the same x gave {gave}; turn "
                      "randomness off inside f (model.eval() for dropout, a fixed batch, a "
                      "fixed seed) and check again")
    return report
