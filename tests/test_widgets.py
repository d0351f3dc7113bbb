import numpy as np
import pytest

import helpers


def f(p):
    return np.logaddexp(p[0], p[1])


def grad_f(p):
    return np.exp(np.stack([p[0], p[1]]) - f(p))


def slice_title(fig):
    return fig.axes[2].get_title() if len(fig.axes) > 2 else fig.axes[1].get_title()


def test_explorer_figure_follows_its_state():
    explorer = helpers.LinearApproximationExplorer(f, grad_f, point=(0, np.log(2)),
                                                   step_length=0.5, step_angle=-70)
    long_title = slice_title(explorer.figure())
    explorer.state["length"] = 0.05
    short_title = slice_title(explorer.figure())
    assert long_title != short_title

    def error(title):
        return float(title.split("error = ")[1])

    # Ten times shorter step: about a hundred times smaller error (quadratic).
    assert 50 < error(long_title) / error(short_title) < 200


def test_along_the_diagonal_log_sum_exp_is_exactly_linear():
    # f(x + t, y + t) = f(x, y) + t: the explorer shows (next to) no error at 45 degrees.
    explorer = helpers.LinearApproximationExplorer(f, grad_f, step_length=1.0, step_angle=45)
    assert float(slice_title(explorer.figure()).split("error = ")[1]) < 1e-12


def test_explorer_step_has_the_requested_length_and_angle():
    explorer = helpers.LinearApproximationExplorer(f, grad_f, step_length=2.0, step_angle=90)
    np.testing.assert_allclose(explorer.step(), [0.0, 2.0], atol=1e-12)


def test_widget_has_four_sliders_that_drive_the_state():
    pytest.importorskip("ipywidgets")
    explorer = helpers.LinearApproximationExplorer(f, grad_f)
    box = explorer.widget()
    sliders = [w for row in box.children[:2] for w in row.children]
    assert [s.description for s in sliders] == ["point x", "point y", "‖ε‖₂", "angle (deg)"]
    sliders[0].value = 1.25
    assert explorer.state["x"] == 1.25


def test_explorer_rejects_a_point_that_is_not_2d():
    with pytest.raises(ValueError, match="pairs"):
        helpers.plot_linear_approximation_slice(f, grad_f, [0, 0, 0], [1, 0])


def test_sliders_redraw_on_release_so_the_figure_keeps_up():
    pytest.importorskip("ipywidgets")
    for explorer in (helpers.LinearApproximationExplorer(f, grad_f),
                     helpers.GradientDescentExplorer(f, grad_f)):
        box = explorer.widget()
        sliders = [w for row in box.children[:-1] for w in row.children]
        assert sliders and all(s.continuous_update is False for s in sliders)


def test_frame_slider_keeps_its_arrow_keys_from_jupyterlab_shortcuts():
    from matplotlib.figure import Figure

    def frame(value):
        fig = Figure(figsize=(2, 2))
        fig.add_subplot().set_title(f"{value}")
        return fig

    markup = helpers.FrameScrubber(frame, [1, 2], label="v", alt=["a title"])._repr_html_()
    assert 'type="range"' in markup and 'data-lm-suppress-shortcuts="true"' in markup
    # one frame shown, the other hidden (inline display:none too: inline flex would win)
    assert markup.count('class="figure-panels frame"') == 2
    assert markup.count("hidden style=\"display:none") == 1
    assert 'alt="a title, at v = 1"' in markup and 'alt="a title, at v = 2"' in markup


def test_frame_slider_closes_the_pyplot_figures_it_draws():
    import matplotlib.pyplot as plt

    def frame(value):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_title(f"{value}")
        return fig

    before = set(plt.get_fignums())
    helpers.FrameScrubber(frame, [1, 2, 3], label="v", alt=["a title"])
    assert set(plt.get_fignums()) == before  # else Jupyter shows each frame again


def test_explorer_frames_show_each_panel_as_its_own_image():
    explorer = helpers.LinearApproximationExplorer(f, grad_f)
    scrubber = explorer.scrubber("length", [0.1, 0.5], label="|e|")
    assert [len(frame) for frame in scrubber.frames] == [2, 2]
    assert all(panel.alt.endswith(("|e| = 0.1", "|e| = 0.5")) for frame in scrubber.frames
               for panel in frame)


def test_a_page_built_for_the_web_gets_a_figure_not_widgets(monkeypatch):
    pytest.importorskip("ipywidgets")
    from matplotlib.figure import Figure

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    explorer = helpers.GradientDescentExplorer(f, grad_f)
    monkeypatch.setenv(helpers.widgets.STATIC_ENV, "1")
    explorer._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    monkeypatch.delenv(helpers.widgets.STATIC_ENV)
    explorer._ipython_display_()
    assert type(shown[-1]).__name__ == "VBox"
