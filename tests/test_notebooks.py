"""The notebooks execute, and the README's table of claims is what they measure.

Every notebook in ``notebooks/`` is executed with nbclient in a fresh kernel
of this interpreter (ipykernel's ``python3``), cell by cell; a failing cell (an
error, or a verdict's ``assert`` that no longer holds) fails its test. The
verdict cells write ``claim_NN.json`` into a temporary folder, from which
``notebooks/build.py`` renders the README's table: it must equal the table
committed in README.md, so the table cannot go stale (regenerate it with
``python notebooks/build.py``). The notebooks are committed without outputs.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

NOTEBOOKS = [path.name for path in build.notebooks()]
_TIMES = {}


@pytest.fixture(scope="module")
def claims_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("claims")


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4


def test_notebooks_are_committed_without_outputs():
    for name in NOTEBOOKS:
        notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, name


# jupyter_core and jupyter_client emit DeprecationWarnings of their own (platformdirs,
# datetime); pyproject turns warnings into errors.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, claims_folder):
    start = time.perf_counter()
    build.execute(ROOT / "notebooks" / name, claims_folder, timeout=300)
    _TIMES[name] = time.perf_counter() - start


def test_readme_table_equals_the_notebooks_results(claims_folder):
    if set(_TIMES) != set(NOTEBOOKS):
        pytest.fail(f"not every notebook ran in this session (ran: {sorted(_TIMES)})")
    entries = build.load_results(claims_folder)
    assert build.readme_table() == build.render_table(entries), (
        "README.md's table of claims differs from what the notebooks measure: "
        "run python notebooks/build.py and commit README.md")
    print("notebook execution times:", {k: round(v, 1) for k, v in _TIMES.items()},
          "total %.1f s" % sum(_TIMES.values()))
