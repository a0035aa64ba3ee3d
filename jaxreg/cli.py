r"""The ``jaxreg`` command.

``jaxreg demo`` (the default) fits lasso, elastic net, ridge and least absolute
deviations on the bundled diabetes data (442 × 10, scikit-learn's scaling) and
prints the coefficients, duality gaps and timings (compilation apart).

``jaxreg path`` solves a whole regularization path (:func:`jaxreg.path`) and
``jaxreg cv`` cross-validates it (:func:`jaxreg.cv`), on a CSV file
(``--csv FILE --target COLUMN``) or on the diabetes data. Both print a table
(alpha, nonzeros, duality gap relative to ``P_null``, convergence; for ``cv``
the mean CV error ± its standard error with ``alpha_min`` and ``alpha_1se``
marked) and write plots: ``path.png`` (coefficients against alpha on a log
scale, nonzeros on the top axis, as glmnet's ``plot(fit, xvar="lambda")``) and,
for ``cv``, ``cv.png`` (glmnet's ``plot(cv.fit)``). They need the ``cli`` extra
(matplotlib and rich): ``pip install 'jaxreg[cli]'``. The command runs in
float64.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["main"]

_LOSSES = ("squared", "absolute", "quantile", "huber", "logistic")
_PENALTIES = ("l1", "elasticnet", "l2")
# The top of a ridge grid: glmnet's convention for alpha = 0, the elastic-net
# alpha_max at l1_ratio = 1e-3 (its L2 part is then alpha (1 - 1e-3) ~ alpha),
# divided by sd(y) for the squared loss: glmnet computes it on y / sd(y), and
# a ridge solution depends on alpha / eigenvalues of X'X/n, not on the scale of y.
_RIDGE_GRID_L1_RATIO = 1e-3
_MISSING = {"", "na", "n/a", "nan", "null", "none"}


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _models(n_samples):
    from jaxreg import losses, penalties

    # scikit-learn's parameters: Lasso(alpha=0.1), ElasticNet(alpha=0.1,
    # l1_ratio=0.5), Ridge(alpha=1.0) -> L2(1.0 / n); LAD is
    # QuantileRegressor(quantile=0.5, alpha=0.002) up to a factor 2.
    return [
        ("lasso", losses.SquaredLoss(), penalties.L1(0.1)),
        ("elastic net", losses.SquaredLoss(), penalties.ElasticNetPenalty(0.1, 0.5)),
        ("ridge", losses.SquaredLoss(), penalties.L2(1.0 / n_samples)),
        ("LAD (L1 loss)", losses.AbsoluteLoss(), penalties.L1(0.004)),
    ]


def _timed(function):
    start = time.perf_counter()
    result = function()
    import jax

    jax.block_until_ready(result)
    return result, time.perf_counter() - start


def demo(args, out=None):
    """Fit the four models on the diabetes data and print a table."""
    out = sys.stdout if out is None else out
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxreg
    from jaxreg.datasets import load_diabetes

    X, y = load_diabetes()
    n, p = X.shape
    print(f"jaxreg {jaxreg.__version__} on {jax.devices()[0].device_kind}, float64; "
          f"diabetes data: {n} samples x {p} features, tol={args.tol:g} x P_null", file=out)
    header = f"{'model':<14} {'solver':<12} {'gap/P_null':>10} {'conv':>5} {'iters':>6} " \
             f"{'first call':>11} {'steady':>9}  nonzeros"
    rows, coefs = [header, "-" * len(header)], []
    for name, loss, penalty in _models(n):
        call = lambda: jaxreg.solve(X, y, loss, penalty, tol=args.tol)  # noqa: E731
        solution, first = _timed(call)
        _, steady = _timed(call)
        solver = jaxreg.choose_solver(X, y, loss, penalty)
        p_null = float(jaxreg.solvers.null_objective(X, y, loss))
        nonzero = int(np.sum(np.abs(np.asarray(solution.coef)) > 0))
        rows.append(f"{name:<14} {solver:<12} {float(solution.dual_gap) / p_null:>10.2e} "
                    f"{str(bool(solution.converged)):>5} {int(solution.n_iter):>6} "
                    f"{first * 1e3:>9.1f}ms {steady * 1e3:>7.2f}ms  {nonzero}/{p}")
        coefs.append((name, float(solution.intercept), np.asarray(solution.coef)))
    print("\n".join(rows), file=out)
    print("\ncoefficients (intercept first)", file=out)
    for name, intercept, coef in coefs:
        values = " ".join(f"{c:8.2f}" for c in coef)
        print(f"{name:<14} {intercept:8.2f} | {values}", file=out)
    return 0


# --------------------------------------------------------------------------
# jaxreg path / jaxreg cv: input
# --------------------------------------------------------------------------


def _require_cli_extra(command):
    missing = []
    for module in ("matplotlib", "rich"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CommandError(f"'jaxreg {command}' needs {' and '.join(missing)} (not "
                           "installed): pip install 'jaxreg[cli]'")


def _number(text):
    """``float(text)``, or None when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(file, target, delimiter=","):
    """Read a numeric CSV with a header row: ``(X, y, feature_names)``.

    Every column but ``target`` is a feature. Raises :class:`CommandError`
    naming the file, column and line of the first problem found.
    """
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            rows = [(number, row) for number, row in
                    enumerate(csv.reader(handle, delimiter=delimiter), start=1) if row]
    except FileNotFoundError:
        raise CommandError(f"no such file: {file!r}") from None
    except IsADirectoryError:
        raise CommandError(f"{file!r} is a directory, not a CSV file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"cannot read {file!r}: {error}") from None
    if not rows:
        raise CommandError(f"{file!r} is empty; a header row with the column names is required")
    header = [name.strip() for name in rows[0][1]]
    if all(_number(name) is not None for name in header):
        raise CommandError(f"the first row of {file!r} is numbers ({','.join(header[:4])}"
                           f"{',...' if len(header) > 4 else ''}); a header row with the "
                           "column names is required")
    for k, name in enumerate(header):
        if header.index(name) != k:
            raise CommandError(f"column {name!r} appears twice in the header of {file!r}")
    if target not in header:
        raise CommandError(f"no column {target!r} in {file!r}; the columns are: "
                           f"{', '.join(header)}")
    if len(header) < 2:
        raise CommandError(f"{file!r} has only the target column {target!r}; at least one "
                           "feature column is needed")
    data = np.empty((len(rows) - 1, len(header)))
    for i, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise CommandError(f"line {line} of {file!r} has {len(row)} fields but the header "
                               f"has {len(header)}")
        for j, cell in enumerate(row):
            cell = cell.strip()
            value = _number(cell)
            where = f"column {header[j]!r} at line {line} of {file!r}"
            if cell.lower() in _MISSING:
                shown = "an empty cell" if not cell else f"a missing value {cell!r}"
                raise CommandError(f"{shown} in {where}; missing values are not supported: "
                                   "impute or drop that row")
            if value is None:
                raise CommandError(f"non-numeric value {cell!r} in {where}; only numbers are "
                                   "supported (encode categories as numbers)")
            if not math.isfinite(value):
                raise CommandError(f"non-finite value {cell!r} in {where}")
            data[i, j] = value
    if data.shape[0] < 2:
        raise CommandError(f"{file!r} has {data.shape[0]} data row"
                           f"{'' if data.shape[0] == 1 else 's'}; at least 2 are needed")
    t = header.index(target)
    features = [name for k, name in enumerate(header) if k != t]
    return np.delete(data, t, axis=1), data[:, t], features


def _load_data(args):
    """``(X, y, feature_names, target_name, description)`` from --csv or the diabetes data."""
    if args.csv is None:
        if args.target is not None:
            raise CommandError("--target needs --csv (without --csv the bundled diabetes "
                               "data are used)")
        from jaxreg.datasets import FEATURE_NAMES, load_diabetes

        X, y = load_diabetes()
        return X, y, list(FEATURE_NAMES), "progression", "diabetes data (bundled)"
    if args.target is None:
        raise CommandError("--csv needs --target COLUMN, the column to predict")
    X, y, features = read_csv(args.csv, args.target, args.delimiter)
    return X, y, features, args.target, os.path.basename(args.csv)


def _make_loss(args, y, target_name):
    """The loss and ``y`` (mapped to -1/+1 for the logistic loss), and a note."""
    from jaxreg import losses

    if args.loss == "logistic":
        labels = np.unique(y)
        if labels.size != 2:
            raise CommandError(f"the logistic loss needs a target with two distinct values; "
                               f"column {target_name!r} has {labels.size}")
        note = f"labels: {labels[0]:g} -> -1, {labels[1]:g} -> +1"
        return losses.LogisticLoss(), np.where(y == labels[1], 1.0, -1.0), note
    if np.ptp(y) == 0:
        raise CommandError(f"the target column {target_name!r} is constant ({y[0]:g}); "
                           "there is nothing to fit")
    if args.loss == "squared":
        return losses.SquaredLoss(), y, None
    if args.loss == "absolute":
        return losses.AbsoluteLoss(), y, None
    if args.loss == "quantile":
        return losses.QuantileLoss(args.quantile), y, None
    return losses.HuberLoss(args.delta), y, None


def _make_penalty(args):
    """``(penalty, grid_penalty)``: the family, and the family whose alpha_max tops the grid."""
    from jaxreg import penalties

    if args.penalty == "l1":
        return penalties.L1(1.0), penalties.L1(1.0)
    if args.penalty == "elasticnet":
        family = penalties.ElasticNetPenalty(1.0, args.l1_ratio)
        return family, family
    return penalties.L2(1.0), penalties.ElasticNetPenalty(1.0, _RIDGE_GRID_L1_RATIO)


def _model_name(args):
    names = {("squared", "l1"): "lasso", ("squared", "elasticnet"): "elastic net",
             ("squared", "l2"): "ridge", ("absolute", "l1"): "LAD lasso"}
    loss = {"quantile": f"quantile loss (q={args.quantile:g})",
            "huber": f"Huber loss (delta={args.delta:g})"}.get(args.loss, f"{args.loss} loss")
    penalty = {"l1": "L1 penalty", "l2": "L2 penalty",
               "elasticnet": f"elastic-net penalty (l1_ratio={args.l1_ratio:g})"}[args.penalty]
    name = names.get((args.loss, args.penalty))
    return f"{name} ({loss}, {penalty})" if name else f"{loss}, {penalty}"


def _score_name(args):
    return {"squared": "mean squared error", "absolute": "mean absolute error",
            "quantile": "mean quantile loss", "huber": "mean Huber loss",
            "logistic": "mean logistic loss"}[args.loss]


# --------------------------------------------------------------------------
# Progress and tables (rich)
# --------------------------------------------------------------------------


def _is_tty(stream):
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class _Stages:
    """A spinner with the elapsed time per stage, on stderr when it is a terminal.

    The compiled path (or CV) is one call, so there is no count to report:
    each stage shows a spinner while it runs and its time when done.
    """

    def __init__(self, stream):
        from rich.console import Console
        from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn
        from rich.table import Column
        from rich.text import Text

        class Seconds(ProgressColumn):
            def render(self, task):
                elapsed = task.finished_time if task.finished else task.elapsed
                return Text(f"{elapsed or 0.0:6.1f} s", style="progress.elapsed")

        enabled = _is_tty(stream)
        console = Console(file=stream, force_terminal=enabled, highlight=False)
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}",
                       table_column=Column(no_wrap=True, overflow="ellipsis")),
            Seconds(table_column=Column(no_wrap=True, min_width=8)),
            console=console, disable=not enabled)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    @contextlib.contextmanager
    def __call__(self, description):
        task = self.progress.add_task(description, total=1)
        yield
        self.progress.update(task, completed=1)


def _console(out):
    from rich.console import Console

    # Piped output has no width to fit: 100 columns rather than rich's 80 for tables,
    # and soft_wrap leaves long lines whole.
    tty = _is_tty(out)
    # markup/emoji off: column and file names are printed as they are.
    return Console(file=out, force_terminal=tty, width=None if tty else 100, highlight=False,
                   soft_wrap=True, markup=False, emoji=False)


def _gap_ratio(gap, p_null):
    return f"{gap / p_null:.1e}" if p_null > 0 else f"{gap:.1e}"


def _converged_note(name, converged, total, args, err):
    if converged < total:
        print(f"jaxreg {args.command}: warning: {total - converged} of {total} {name} did "
              f"not reach tol={args.tol:g} x P_null (see the 'converged' column); raise "
              "--max-iter or --tol, or use a larger --eps", file=err)


# --------------------------------------------------------------------------
# Plots (matplotlib's object API with the Agg canvas: no pyplot, no global state)
# --------------------------------------------------------------------------

_MAX_LEGEND = 15


def _top_axis(ax, alphas, nonzeros):
    """glmnet's top axis: the number of nonzero coefficients at some alphas."""
    from matplotlib.ticker import NullLocator

    top = ax.secondary_xaxis("top")
    index = np.unique(np.linspace(0, len(alphas) - 1, min(len(alphas), 8)).round().astype(int))
    top.set_xticks(alphas[index], labels=[str(int(nonzeros[k])) for k in index])
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("nonzero coefficients")


def _selection_lines(ax, selected):
    for (label, alpha), color in zip(selected, ("black", "tab:blue")):
        ax.axvline(alpha, linestyle="--", color=color, linewidth=1.0,
                   label=f"{label} = {alpha:.3g}")


def plot_path(file, alphas, coefs, names, nonzeros, title, selected=()):
    """Coefficients against alpha (log scale), as glmnet's ``plot(fit, xvar="lambda")``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 5.0), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    # Legend for the features with the largest coefficients along the path.
    order = np.argsort(-np.max(np.abs(coefs), axis=0), kind="stable")
    shown = set(order[:_MAX_LEGEND].tolist())
    for j in range(coefs.shape[1]):
        ax.plot(alphas, coefs[:, j], linewidth=1.4, label=names[j] if j in shown else None)
    ax.axhline(0.0, color="grey", linewidth=0.6)
    _selection_lines(ax, selected)
    ax.set_xscale("log")
    ax.set_xlim(alphas.min(), alphas.max())
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel("coefficient")
    ax.set_title(title)
    _top_axis(ax, alphas, nonzeros)
    more = coefs.shape[1] - len(shown)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                       title=f"(+{more} more)" if more > 0 else None)
    legend.set_frame_on(False)
    fig.savefig(file)


def plot_cv(file, alphas, mean, std_error, nonzeros, selected, title, ylabel):
    """Mean CV error ± 1 standard error against alpha, as glmnet's ``plot(cv.fit)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 5.0), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(alphas, mean, yerr=std_error, fmt="o", color="tab:red", markersize=4,
                ecolor="darkgrey", elinewidth=1.0, capsize=2.5,
                label="mean CV error ± 1 standard error")
    _selection_lines(ax, selected)
    ax.set_xscale("log")
    pad = (alphas.max() / alphas.min()) ** 0.02
    ax.set_xlim(alphas.min() / pad, alphas.max() * pad)
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _top_axis(ax, alphas, nonzeros)
    ax.legend(loc="best", fontsize="small")
    fig.savefig(file)


# --------------------------------------------------------------------------
# jaxreg path / jaxreg cv
# --------------------------------------------------------------------------


def _output_dir(directory):
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise CommandError(f"--out {directory!r} is a file; give a folder for the plots")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise CommandError(f"cannot write plots to --out {directory!r}: {error}") from None
    return directory


@contextlib.contextmanager
def _writing(directory):
    try:
        yield
    except OSError as error:
        raise CommandError(f"cannot write the plots to {directory!r}: {error}") from None


def path_command(args, out=None, err=None):
    """``jaxreg path`` and ``jaxreg cv``: solve (and cross-validate) a path, print, plot."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    command = args.command
    _require_cli_extra(command)
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxreg

    start = time.perf_counter()
    X, y, names, target, source = _load_data(args)
    n, p = X.shape
    if command == "cv" and args.folds > n:
        raise CommandError(f"--folds {args.folds} needs at least {args.folds} rows; "
                           f"{source} has {n}")
    scale = np.ones(p)
    if args.standardize:
        std = X.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
        X = X / scale
    loss, y, label_note = _make_loss(args, y, target)
    penalty, grid_penalty = _make_penalty(args)
    out_dir = _output_dir(args.out)
    console = _console(out)
    options = {"tol": args.tol, "max_iter": args.max_iter}
    with _Stages(err) as stage, warnings.catch_warnings():
        # The table shows convergence; one summary line replaces the warnings.
        warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
        with stage("alpha grid"):
            # jit: one compilation instead of one per eager operation (2 s -> 0.4 s).
            grid = jax.jit(lambda X, y, loss: jaxreg.alpha_grid(
                X, y, loss, grid_penalty, n_alphas=args.n_alphas, eps=args.eps))
            alphas = np.asarray(grid(X, y, loss))
            if args.penalty == "l2" and args.loss == "squared":
                alphas = alphas / np.std(y)
            if not alphas[0] > 0:
                raise CommandError("alpha_max is 0: no feature moves the loss at the null "
                                   "model (constant features?), so the path is all zeros")
        with stage(f"path: {len(alphas)} alphas (compiling, solving)"):
            fit = jaxreg.path(X, y, loss, penalty, alphas, **options)
            jax.block_until_ready(fit)
        result = None
        if command == "cv":
            with stage(f"CV: {args.folds} folds x {len(alphas)} alphas (compiling, solving)"):
                result = jaxreg.cv(X, y, loss, penalty, alphas, folds=args.folds,
                                   refit=False, **options)
        with stage("plots"), _writing(out_dir):
            alphas = np.asarray(fit.alphas)
            coefs = np.asarray(fit.coefs) / scale
            nonzeros = np.sum(coefs != 0, axis=1)
            title = f"{_model_name(args)} — {source}"
            selected = () if result is None else (("alpha_min", result.alpha_min),
                                                   ("alpha_1se", result.alpha_1se))
            files = [os.path.join(out_dir, "path.png")]
            plot_path(files[0], alphas, coefs, names, nonzeros, title, selected)
            if result is not None:
                files.append(os.path.join(out_dir, "cv.png"))
                plot_cv(files[1], alphas, np.asarray(result.mean),
                        np.asarray(result.std_error), nonzeros, selected,
                        f"{args.folds}-fold cross-validation: {title}",
                        f"{_score_name(args)} ({args.folds}-fold CV)")
    elapsed = time.perf_counter() - start

    p_null = float(jaxreg.solvers.null_objective(X, y, loss))
    device = jax.devices()[0].device_kind
    console.print(f"jaxreg {command}: {_model_name(args)}")
    console.print(f"data: {source}, {n} samples x {p} features, target {target!r}"
                  + (f" ({label_note})" if label_note else "")
                  + ("; features scaled to unit variance" if args.standardize else ""))
    top = ("alpha_max" if args.penalty != "l2" else
           f"glmnet's ridge start: alpha_max at l1_ratio={_RIDGE_GRID_L1_RATIO:g}"
           + (" over sd(y)" if args.loss == "squared" else ""))
    console.print(f"grid: {len(alphas)} alphas from {alphas[0]:.4g} ({top}) down to "
                  f"{alphas[-1]:.4g}; tol = {args.tol:g} x P_null (P_null = {p_null:.4g}); "
                  f"float64 on {device}")
    console.print("gap/P_null: duality gap over the null model's objective, a certified bound "
                  "on the relative suboptimality of each fit")
    _print_table(console, args, alphas, nonzeros, fit, p_null, result)
    _print_summary(console, args, alphas, coefs, nonzeros, fit, names, result, scale)
    console.print(f"wrote {' and '.join(files)} in {elapsed:.1f} s (compilation included)")
    _converged_note("points of the path", int(np.sum(np.asarray(fit.converged))), len(alphas),
                    args, err)
    if result is not None:
        fold_converged = np.asarray(result.fold_paths.converged)
        _converged_note("fold fits", int(fold_converged.sum()), fold_converged.size, args, err)
    return 0


def _print_table(console, args, alphas, nonzeros, fit, p_null, result):
    from rich import box
    from rich.table import Table

    p = np.asarray(fit.coefs).shape[1]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("#", "alpha", "nonzeros"):
        table.add_column(name, justify="right", no_wrap=True)
    if result is not None:
        table.add_column("CV error", justify="right", no_wrap=True)
        table.add_column("± se", justify="left", no_wrap=True)
    table.add_column("gap/P_null", justify="right", no_wrap=True)
    table.add_column("converged", justify="left", no_wrap=True)
    if result is not None:
        table.add_column("selected", justify="left", no_wrap=True)
        fold_converged = np.asarray(result.fold_paths.converged).sum(axis=0)
        n_folds = np.asarray(result.fold_paths.converged).shape[0]
    gaps = np.asarray(fit.dual_gaps)
    converged = np.asarray(fit.converged)
    for k, alpha in enumerate(alphas):
        row = [str(k + 1), f"{alpha:.4g}", f"{nonzeros[k]}/{p}"]
        style = None
        if result is not None:
            row += [f"{float(result.mean[k]):.4g}", f"± {float(result.std_error[k]):.3g}"]
        status = "yes" if converged[k] else "NO"
        if result is not None and fold_converged[k] < n_folds:
            status = f"NO: {n_folds - fold_converged[k]}/{n_folds} folds" if converged[k] \
                else "NO, nor folds"
        row += [_gap_ratio(float(gaps[k]), p_null), status]
        if result is not None:
            marks = [name for name, index in (("alpha_min", result.index_min),
                                              ("alpha_1se", result.index_1se)) if index == k]
            row.append(" = ".join(marks))
            style = "bold" if marks else None
        table.add_row(*row, style=style)
    console.print(table)


def _print_summary(console, args, alphas, coefs, nonzeros, fit, names, result, scale):
    intercepts = np.asarray(fit.intercepts)
    if result is None:
        if args.penalty != "l2":
            first = [int(np.argmax(coefs[:, j] != 0)) if np.any(coefs[:, j] != 0) else None
                     for j in range(len(names))]
            entered = sorted((k, j) for j, k in enumerate(first) if k is not None)
            console.print("order of entry: " + ", ".join(
                f"{names[j]} ({alphas[k]:.3g})" for k, j in entered))
        return
    p = coefs.shape[1]
    score = _score_name(args)
    for label, index, meaning in (
            ("alpha_min", result.index_min, "lowest mean CV error"),
            ("alpha_1se", result.index_1se, "largest alpha within 1 se of the minimum")):
        console.print(f"{label} = {alphas[index]:.4g} (row {index + 1}, {meaning}): {score} "
                      f"{float(result.mean[index]):.4g} ± {float(result.std_error[index]):.3g}, "
                      f"{nonzeros[index]}/{p} nonzero")
    from rich import box
    from rich.table import Table

    table = Table(title="coefficients (fit on all the data)", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False)
    table.add_column("feature")
    table.add_column("at alpha_min", justify="right")
    table.add_column("at alpha_1se", justify="right")
    table.add_row("(intercept)", f"{intercepts[result.index_min] + 0.0:.4g}",
                  f"{intercepts[result.index_1se] + 0.0:.4g}")
    for j, name in enumerate(names):                    # + 0.0: print -0 as 0
        table.add_row(name, f"{coefs[result.index_min, j] + 0.0:.4g}",
                      f"{coefs[result.index_1se, j] + 0.0:.4g}")
    console.print(table)


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


def _checked(kind, test, wanted):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}")
        return value

    return parse


_POSITIVE = _checked(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
_FRACTION = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def _add_path_options(parser, command):
    data = parser.add_argument_group("data (default: the bundled diabetes data, 442 x 10)")
    data.add_argument("--csv", metavar="FILE",
                      help="CSV file with a header row; every column but --target is a feature")
    data.add_argument("--target", metavar="COLUMN", help="the column to predict")
    data.add_argument("--delimiter", default=",",
                      type=_checked(lambda v: "\t" if v == "\\t" else v, lambda v: len(v) == 1,
                                    "one character (\\t for a tab)"),
                      help="field separator (default ','; \\t for a tab)")
    data.add_argument("--standardize", action="store_true",
                      help="fit on features scaled to unit variance (glmnet's default); "
                           "coefficients are reported on the original scale")
    model = parser.add_argument_group("model")
    model.add_argument("--loss", choices=_LOSSES, default="squared",
                       help="data-fit term (default squared); logistic needs a two-valued target")
    model.add_argument("--quantile", type=_FRACTION, default=0.5,
                       help="quantile of --loss quantile (default 0.5)")
    model.add_argument("--delta", type=_POSITIVE, default=1.0,
                       help="threshold of --loss huber, in units of the target (default 1.0)")
    model.add_argument("--penalty", choices=_PENALTIES, default="l1",
                       help="l1 (lasso), elasticnet or l2 (ridge) (default l1)")
    model.add_argument("--l1-ratio", type=_checked(float, lambda v: 0 < v <= 1,
                                                   "a number in (0, 1]"), default=0.5,
                       help="mixing parameter of --penalty elasticnet (default 0.5)")
    grid = parser.add_argument_group("grid and solver")
    grid.add_argument("--n-alphas", type=_checked(int, lambda v: v >= 2, "an integer >= 2"),
                      default=100, help="number of alphas (default 100)")
    grid.add_argument("--eps", type=_FRACTION, default=1e-3,
                      help="smallest alpha / alpha_max (default 1e-3)")
    if command == "cv":
        grid.add_argument("--folds", type=_checked(int, lambda v: v >= 2, "an integer >= 2"),
                          default=5, help="number of contiguous K-fold folds (default 5)")
    grid.add_argument("--tol", type=_POSITIVE, default=1e-6,
                      help="duality-gap tolerance relative to P_null (default 1e-6)")
    grid.add_argument("--max-iter", type=_checked(int, lambda v: v >= 1, "a positive integer"),
                      default=None, help="iterations per alpha (default: the solver's)")
    parser.add_argument("--out", metavar="DIR", default=".",
                        help="folder for the PNG plots (default: the current folder)")


def _parser():
    parser = _Parser(prog="jaxreg", description="L1/L2-regularized linear models with "
                     "duality-gap certificates. Without a command: jaxreg demo.")
    commands = parser.add_subparsers(dest="command")
    demo_parser = commands.add_parser("demo", help="fit four models on the bundled diabetes data")
    for p in (parser, demo_parser):
        p.add_argument("--tol", type=_POSITIVE, default=1e-8,
                       help="duality-gap tolerance relative to P_null (default 1e-8)")
    path_parser = commands.add_parser(
        "path", help="solve a regularization path; print it and plot it (path.png)",
        description="Solve a whole regularization path in one compiled call, print a table "
                    "and write path.png.")
    _add_path_options(path_parser, "path")
    cv_parser = commands.add_parser(
        "cv", help="cross-validate a regularization path (path.png, cv.png)",
        description="K-fold cross-validation of a regularization path in one compiled call: "
                    "print the CV curve with alpha_min and alpha_1se, write path.png and "
                    "cv.png.")
    _add_path_options(cv_parser, "cv")
    return parser


def main(argv=None):
    """Entry point of the ``jaxreg`` command; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit:          # --help (0) or a usage error (2), already printed
        return exit.code
    if args.command in ("path", "cv"):
        try:
            return path_command(args)
        except (CommandError, ValueError) as error:   # jaxreg's ValueErrors are for users
            print(f"jaxreg {args.command}: error: {error}", file=sys.stderr)
            return 1
    return demo(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
