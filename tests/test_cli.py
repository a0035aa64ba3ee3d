"""The ``jaxreg`` command: ``path`` and ``cv`` (tables, plots, input errors) and ``demo``.

Every test calls ``cli.main`` in-process. The runs share shapes (the diabetes
data, 15 alphas, 5 folds) so that the compiled path and CV are reused.
"""

import io
import re
import struct

import numpy as np
import pytest

import jaxreg
from jaxreg import cli
from jaxreg.datasets import FEATURE_NAMES, load_diabetes

N_ALPHAS = 15
TOL = 1e-6                              # the command's default
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\d+)/(\d+)\s")


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table_rows(out):
    """``(number, alpha text, nonzeros, the whole line)`` of each row of the table."""
    rows = []
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            rows.append((int(match[1]), match[2], int(match[3]), line))
    return rows


def marked(rows, label):
    (row,) = [r for r in rows if label in r[3]]
    return row


def check_png(file):
    """A PNG of the size the command draws (8.5 x 5 in at 110 dpi) that is not blank."""
    data = file.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])           # the IHDR chunk
    assert (width, height) == (935, 550)
    assert len(data) > 20_000
    import matplotlib.image

    pixels = matplotlib.image.imread(file)
    assert pixels.shape[:2] == (550, 935) and pixels.std() > 0.05


def write_csv(file, columns, data):
    lines = [",".join(columns)] + [",".join(repr(float(v)) for v in row) for row in data]
    file.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory):
    """The bundled diabetes data as a CSV, the target between s2 and s3 (exact floats)."""
    X, y = load_diabetes()
    columns = list(FEATURE_NAMES[:6]) + ["progression"] + list(FEATURE_NAMES[6:])
    file = tmp_path_factory.mktemp("data") / "diabetes.csv"
    write_csv(file, columns, np.column_stack([X[:, :6], y, X[:, 6:]]))
    return file


@pytest.fixture(scope="module")
def default_cv(tmp_path_factory):
    """``jaxreg cv`` on the bundled data, run once for the tests that read it."""
    out_dir = tmp_path_factory.mktemp("cv")
    capture = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", capture[0])
        patch.setattr("sys.stderr", capture[1])
        code = cli.main(["cv", "--n-alphas", str(N_ALPHAS), "--out", str(out_dir)])
    return code, capture[0].getvalue(), capture[1].getvalue(), out_dir


# --------------------------------------------------------------------------
# jaxreg cv
# --------------------------------------------------------------------------


def test_cv_default_data_table_matches_jaxreg_cv(default_cv):
    code, out, err, _ = default_cv
    assert code == 0
    assert err == ""                    # no progress output when stderr is not a terminal
    X, y = load_diabetes()
    result = jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=N_ALPHAS, tol=TOL,
                       refit=False)
    rows = table_rows(out)
    assert [r[0] for r in rows] == list(range(1, N_ALPHAS + 1))
    assert [r[1] for r in rows] == [f"{a:.4g}" for a in np.asarray(result.alphas)]
    for label, index, alpha in (("alpha_min", result.index_min, result.alpha_min),
                                ("alpha_1se", result.index_1se, result.alpha_1se)):
        number, alpha_text, _, line = marked(rows, label)
        assert (number, alpha_text) == (index + 1, f"{alpha:.4g}")
        assert f"{float(result.mean[index]):.4g}" in line
        assert f"{label} = {alpha:.4g} (row {index + 1}" in out
    assert result.index_1se <= result.index_min
    assert "mean squared error" in out and "coefficients (fit on all the data)" in out


def test_cv_default_data_writes_both_plots(default_cv):
    code, out, _, out_dir = default_cv
    assert code == 0
    for name in ("path.png", "cv.png"):
        check_png(out_dir / name)
        assert str(out_dir / name) in out


def test_cv_csv_with_target_in_the_middle_matches_default_data(diabetes_csv, default_cv,
                                                               tmp_path, capsys):
    code, out, err = run(capsys, "cv", "--csv", diabetes_csv, "--target", "progression",
                         "--n-alphas", N_ALPHAS, "--out", tmp_path)
    assert (code, err) == (0, "")
    assert "diabetes.csv, 442 samples x 10 features, target 'progression'" in out

    def results(text):                  # the table and the summary, without file names
        lines = text.splitlines()
        start = next(k for k, line in enumerate(lines) if line.lstrip().startswith("#"))
        return [line for line in lines[start:] if not line.startswith("wrote")]

    assert results(out) == results(default_cv[1])       # exact floats round-trip
    check_png(tmp_path / "cv.png")


# --------------------------------------------------------------------------
# jaxreg path
# --------------------------------------------------------------------------


def test_path_default_data(tmp_path, capsys):
    code, out, err = run(capsys, "path", "--n-alphas", N_ALPHAS, "--out", tmp_path)
    assert (code, err) == (0, "")
    X, y = load_diabetes()
    fit = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=N_ALPHAS, tol=TOL)
    rows = table_rows(out)
    assert len(rows) == N_ALPHAS
    assert [r[2] for r in rows] == list(np.sum(np.asarray(fit.coefs) != 0, axis=1))
    assert rows[0][2] == 0 and all(r[3].rstrip().endswith("yes") for r in rows)
    assert "order of entry: bmi" in out and "alpha_min" not in out
    check_png(tmp_path / "path.png")
    assert not (tmp_path / "cv.png").exists()


def test_path_tab_separated_standardized(tmp_path, capsys):
    X, y = load_diabetes()
    columns = ["age[years]"] + list(FEATURE_NAMES[1:]) + ["progression"]
    file = tmp_path / "diabetes.tsv"
    file.write_text("\n".join(["\t".join(columns)] + ["\t".join(map(repr, row)) for row in
                                                      np.column_stack([X, y]).tolist()]))
    code, out, err = run(capsys, "path", "--csv", file, "--target", "progression",
                         "--delimiter", "\\t", "--standardize", "--n-alphas", N_ALPHAS,
                         "--out", tmp_path)
    assert (code, err) == (0, "")
    assert "features scaled to unit variance" in out
    assert "age[years] (" in out                            # no rich markup in names
    top = jaxreg.alpha_max(X / X.std(axis=0), y, jaxreg.SquaredLoss(), jaxreg.L1(1.0))
    assert table_rows(out)[0][1] == f"{float(top):.4g}"
    check_png(tmp_path / "path.png")


def test_cv_logistic_elastic_net_on_a_small_csv(tmp_path, capsys, rng):
    n = 40
    X = rng.normal(size=(n, 3))
    y = np.where(X @ np.array([2.0, 0.0, -1.0]) + 0.5 * rng.normal(size=n) > 0, 1.0, 0.0)
    file = tmp_path / "small.csv"
    write_csv(file, ["u", "label", "v", "w"], np.column_stack([X[:, 0], y, X[:, 1:]]))
    code, out, err = run(capsys, "cv", "--csv", file, "--target", "label", "--loss",
                         "logistic", "--penalty", "elasticnet", "--l1-ratio", "0.5",
                         "--n-alphas", 10, "--folds", 4, "--out", tmp_path)
    assert (code, err) == (0, "")
    assert "labels: 0 -> -1, 1 -> +1" in out and "mean logistic loss" in out
    assert len(table_rows(out)) == 10
    marked(table_rows(out), "alpha_min")
    check_png(tmp_path / "cv.png")
    check_png(tmp_path / "path.png")


def test_ridge_path(tmp_path, capsys):
    code, out, err = run(capsys, "path", "--penalty", "l2", "--n-alphas", N_ALPHAS,
                         "--out", tmp_path)
    assert (code, err) == (0, "")
    rows = table_rows(out)
    assert [r[2] for r in rows] == [10] * N_ALPHAS          # ridge: every feature, always
    # glmnet's ridge grid: the elastic-net alpha_max at l1_ratio = 1e-3, on y / sd(y).
    X, y = load_diabetes()
    top = jaxreg.alpha_max(X, y / y.std(), jaxreg.SquaredLoss(), jaxreg.L1(1.0)) / 1e-3
    assert rows[0][1] == f"{float(top):.4g}"
    assert "order of entry" not in out
    check_png(tmp_path / "path.png")


# --------------------------------------------------------------------------
# Input errors: one line on stderr, nothing on stdout, non-zero exit
# --------------------------------------------------------------------------

BAD_FILES = {
    "missing target": ("a,b,y\n1,2,3\n2,3,5\n", "z", ["no column 'z'", "a, b, y"]),
    "non-numeric": ("a,b,y\n1,2,3\n2,abc,5\n", "y", ["non-numeric", "'abc'", "column 'b'",
                                                     "line 3"]),
    "empty cell": ("a,b,y\n1,2,3\n2,,5\n", "y", ["empty cell", "column 'b'", "line 3"]),
    "NaN": ("a,b,y\n1,2,3\n4,5,6\n2,3,NaN\n", "y", ["missing value 'NaN'", "column 'y'",
                                                      "line 4"]),
    "infinite": ("a,b,y\n1,2,3\n2,inf,5\n", "y", ["non-finite", "'inf'", "column 'b'"]),
    "one row": ("a,b,y\n1,2,3\n", "y", ["1 data row", "at least 2"]),
    "no header": ("1,2,3\n4,5,6\n", "3", ["header row"]),
    "ragged": ("a,b,y\n1,2,3\n4,5\n", "y", ["line 3", "2 fields", "header has 3"]),
    "empty file": ("", "y", ["is empty", "header row"]),
    "only the target": ("y\n1\n2\n", "y", ["only the target column", "feature column"]),
    "constant target": ("a,y\n1,3\n2,3\n", "y", ["'y' is constant"]),
    "duplicate column": ("a,a,y\n1,2,3\n4,5,6\n", "y", ["'a' appears twice"]),
}


@pytest.mark.parametrize("content, target, words", BAD_FILES.values(), ids=BAD_FILES)
def test_bad_csv(content, target, words, tmp_path, capsys):
    file = tmp_path / "bad.csv"
    file.write_text(content)
    code, out, err = run(capsys, "path", "--csv", file, "--target", target, "--out", tmp_path)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("jaxreg path: error: ")
    for word in words:
        assert word in err
    assert not (tmp_path / "path.png").exists()


BAD_CALLS = {
    "missing file": (["cv", "--csv", "{tmp}/nope.csv", "--target", "y"], 1,
                     ["no such file", "nope.csv"]),
    "csv without target": (["cv", "--csv", "{tmp}/nope.csv"], 1, ["--target COLUMN"]),
    "target without csv": (["path", "--target", "y"], 1, ["--target needs --csv"]),
    "more folds than rows": (["cv", "--csv", "{tmp}/ok.csv", "--target", "y", "--folds", "5"],
                             1, ["--folds 5", "at least 5 rows", "has 3"]),
    "logistic, not binary": (["cv", "--csv", "{tmp}/ok.csv", "--target", "y", "--loss",
                              "logistic", "--folds", "2"], 1, ["two distinct values", "has 3"]),
    "out is a file": (["path", "--csv", "{tmp}/ok.csv", "--target", "y", "--out",
                       "{tmp}/ok.csv"], 1, ["is a file"]),
    "folds": (["cv", "--folds", "1"], 2, ["--folds", "integer >= 2", "'1'"]),
    "eps": (["cv", "--eps", "2"], 2, ["--eps", "(0, 1)"]),
    "tol": (["path", "--tol", "-1"], 2, ["--tol", "positive"]),
    "n-alphas": (["path", "--n-alphas", "ten"], 2, ["--n-alphas", "'ten'"]),
    "l1-ratio": (["cv", "--l1-ratio", "0"], 2, ["--l1-ratio", "(0, 1]"]),
    "quantile": (["cv", "--quantile", "1.5"], 2, ["--quantile", "(0, 1)"]),
    "loss": (["cv", "--loss", "hinge"], 2, ["invalid choice: 'hinge'", "squared"]),
    "command": (["fit"], 2, ["invalid choice: 'fit'"]),
}


@pytest.mark.parametrize("argv, status, words", BAD_CALLS.values(), ids=BAD_CALLS)
def test_bad_call(argv, status, words, tmp_path, capsys):
    (tmp_path / "ok.csv").write_text("a,y,b\n1,0,2\n2,1,1\n3,5,0\n")
    code, out, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == status and out == ""
    assert err.count("\n") == 1 and " error: " in err
    for word in words:
        assert word in err


def test_without_the_cli_extra(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "rich", None)   # import rich fails
    code, out, err = run(capsys, "cv")
    assert code == 1 and out == ""
    assert err == "jaxreg cv: error: 'jaxreg cv' needs rich (not installed): " \
                  "pip install 'jaxreg[cli]'\n"


# --------------------------------------------------------------------------
# Progress, help and the demo
# --------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with cli._Stages(stream) as stage:
            with stage("compiling the path"):
                pass
    assert "compiling the path" in terminal.getvalue() and " s" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_help(capsys):
    code, out, _ = run(capsys, "cv", "--help")
    assert code == 0
    for option in ("--csv", "--target", "--loss", "--penalty", "--l1-ratio", "--n-alphas",
                   "--eps", "--folds", "--tol", "--out"):
        assert option in out


def test_demo_is_the_default(capsys):
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    for model in ("lasso", "elastic net", "ridge", "LAD (L1 loss)"):
        assert model in out
