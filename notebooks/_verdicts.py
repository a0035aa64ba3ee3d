"""Record the verdict of each claim the notebooks measure.

Each verdict cell of a notebook computes the number that decides the claim,
asserts the condition behind its verdict, then calls :func:`record`. When the
notebooks are executed by ``notebooks/build.py`` (or by
``tests/test_notebooks.py``), ``JAXREG_NOTEBOOK_RESULTS`` names a folder and
every claim is written there as ``claim_NN.json``; ``build.py`` turns those
files into the table of the README. Run interactively, nothing is written.

``JAXREG_NOTEBOOK_FIGURES``, when set, is a folder where :func:`show` also
saves every figure as a PNG (to look at them outside Jupyter).
"""

from __future__ import annotations

import json
import os
import pathlib

VERDICTS = ("holds", "holds with a caveat", "does not hold as stated")


def record(claim, *, notebook, section, statement, verdict, number):
    """Print one claim's verdict and, under ``build.py``, write it as JSON.

    Parameters
    ----------
    claim : int
        The claim's number (1-15, as in the README's table).
    notebook : str
        File name of the notebook, e.g. ``"1_losses.ipynb"``.
    section : str
        The title of the notebook section that measures the claim.
    statement : str
        The claim, short.
    verdict : str
        One of :data:`VERDICTS`.
    number : str
        The measured number(s) that decide the verdict, rounded so that the
        text is reproducible (no timings, no round-off-sized values).
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}.")
    entry = dict(claim=int(claim), notebook=notebook, section=section,
                 statement=statement, verdict=verdict, number=number)
    print(f"Claim {claim}: {verdict}. {number}")
    folder = os.environ.get("JAXREG_NOTEBOOK_RESULTS")
    if folder:
        path = pathlib.Path(folder) / f"claim_{int(claim):02d}.json"
        path.write_text(json.dumps(entry, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return entry


def show(fig, name):
    """Show ``fig`` inline; also save it as ``name``.png under ``JAXREG_NOTEBOOK_FIGURES``."""
    import matplotlib.pyplot as plt

    folder = os.environ.get("JAXREG_NOTEBOOK_FIGURES")
    if folder:
        fig.savefig(pathlib.Path(folder) / f"{name}.png", dpi=80, bbox_inches="tight")
    plt.show()
    plt.close(fig)
