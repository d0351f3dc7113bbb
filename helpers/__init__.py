"""Helpers for the book *Multivariable Calculus for Machine Learning*.

The public functions are re-exported here, so chapters write ``helpers.numerical_gradient``.
Importing this package imports NumPy and nothing heavier: matplotlib's pyplot, ipywidgets,
PyTorch and TensorFlow are loaded only by the functions that need them.
"""

from pathlib import Path

from helpers.autodiff import Value, plot_value_graph
from helpers.calculus import (
    as_float64,
    central_difference,
    linear_approximation,
    loglog_slope,
    numerical_gradient,
    numerical_hessian,
    numerical_jacobian,
    quadratic_approximation,
)
from helpers.figures import Panels
from helpers.frameworks import framework_of, import_tensorflow_quietly, to_numpy
from helpers.gradcheck import GradCheckError, GradCheckReport, check_grad
from helpers.graphs import count_paths, enumerate_paths, plot_graph, topological_order
from helpers.networks import (
    flatten,
    spiral_data,
    two_layer_loss,
    two_layer_loss_and_gradients,
    two_layer_parameters,
    two_layer_predict,
    unflatten,
)
from helpers.optimize import (
    DescentPath,
    classify_critical_point,
    gradient_descent,
    newton_method,
)
from helpers.plotting import (
    contour_with_gradients,
    error_loglog,
    evaluate_on_grid,
    plot_path,
    surface,
    surface_with_tangent_plane,
    tangent_plane,
)
from helpers.widgets import (
    Explorer,
    FrameScrubber,
    GradientDescentExplorer,
    LinearApproximationExplorer,
    plot_linear_approximation_slice,
    plot_step_on_contours,
)

# The book's matplotlib style (text sized for phones): plt.style.use(helpers.BOOK_STYLE)
BOOK_STYLE = str(Path(__file__).with_name("book.mplstyle"))

__all__ = [
    "BOOK_STYLE",
    "DescentPath",
    "Explorer",
    "FrameScrubber",
    "GradCheckError",
    "GradCheckReport",
    "GradientDescentExplorer",
    "LinearApproximationExplorer",
    "Panels",
    "Value",
    "as_float64",
    "central_difference",
    "check_grad",
    "classify_critical_point",
    "contour_with_gradients",
    "count_paths",
    "enumerate_paths",
    "error_loglog",
    "evaluate_on_grid",
    "flatten",
    "framework_of",
    "gradient_descent",
    "import_tensorflow_quietly",
    "linear_approximation",
    "loglog_slope",
    "newton_method",
    "numerical_gradient",
    "numerical_hessian",
    "numerical_jacobian",
    "plot_graph",
    "plot_linear_approximation_slice",
    "plot_path",
    "plot_step_on_contours",
    "plot_value_graph",
    "quadratic_approximation",
    "spiral_data",
    "surface",
    "surface_with_tangent_plane",
    "tangent_plane",
    "to_numpy",
    "topological_order",
    "two_layer_loss",
    "two_layer_loss_and_gradients",
    "two_layer_parameters",
    "two_layer_predict",
    "unflatten",
]
