"""_ext/stream_outputs.py: printed output joined as printed, however the kernel cut it."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
from myst_nb.core.render import coalesce_streams as unpatched

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from stream_outputs import joined_streams


def stream(text: str, name: str = "stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_a_line_cut_by_the_kernel_stays_one_line():
    pieces = [stream("GradCheckError:"), stream(" gradient of tensor 0\n"), stream("done\n")]
    (joined,) = unpatched(joined_streams(copy.deepcopy(pieces)))
    assert joined["text"] == "GradCheckError: gradient of tensor 0\ndone\n"
    # what MyST-NB alone makes of the same pieces: the line broken in two
    assert unpatched(copy.deepcopy(pieces))[0]["text"].startswith("GradCheckError:\n")


def test_streams_and_other_outputs_keep_their_places():
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    pieces = [stream("a"), stream("warn", "stderr"), figure, stream("b\n"), stream("c\n",
                                                                                   "stderr")]
    joined = joined_streams(copy.deepcopy(pieces))
    assert [o.get("name", o["output_type"]) for o in joined] == ["stdout", "stderr",
                                                                 "display_data"]
    assert joined[0]["text"] == "ab\n" and joined[1]["text"] == "warnc\n"
