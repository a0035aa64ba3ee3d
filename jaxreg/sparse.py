r"""Sparse design matrices: a column-compressed pytree for the core.

:class:`CSCDesign` holds an ``n_samples x n_features`` matrix :math:`X` in
compressed sparse column form (the values of column :math:`j` are
``data[indptr[j]:indptr[j + 1]]``, at rows ``indices[...]``), as fixed-shape
JAX arrays, so that it passes through :func:`jax.jit`, :func:`jax.vmap` and
:func:`jax.lax.scan` like any other pytree. Its memory is
:math:`O(\mathrm{nnz} + p)`; nothing here ever forms a dense
:math:`n \times p` array:

- :meth:`CSCDesign.matvec`, :math:`X w`, and :meth:`CSCDesign.rmatvec`,
  :math:`X^\top v`, are gathers and segment sums over the stored values,
  :math:`O(\mathrm{nnz})`;
- coordinate descent reads one column at a time in blocks of ``block``
  values (:meth:`CSCDesign.column_dot`, :meth:`CSCDesign.column_axpy`),
  :math:`O(\mathrm{nnz}_j)` per column.

The intercept is handled without centring :math:`X` (which would fill it):
with column means :math:`\bar x` the centred product is
:math:`\tilde X w = X w - 1\,\bar x^\top w` (scikit-learn's ``X_offset``).

Build one from SciPy (:func:`from_scipy`, at the boundary: it checks the
values) or from a :class:`jax.experimental.sparse.BCOO` (:func:`from_bcoo`,
pure, works under ``jit``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["CSCDesign", "from_scipy", "from_bcoo", "as_design", "is_sparse", "pad"]

#: Values read at once when coordinate descent walks a column: a column of
#: ``k`` stored values costs ``ceil(k / block)`` vectorised steps. Measured on
#: a 100-alpha lasso path of a 20000 x 10000 text-like problem (0.1 %,
#: power-law column frequencies; 2-core CPU): 35 s with 4, 30 s with 16,
#: 21 s with 64, 25 s with 256 (the cost per coordinate, not per value,
#: dominates).
DEFAULT_BLOCK = 64


#: A column's values past its first block are read in blocks of
#: ``LONG_BLOCKS * block`` (long columns, e.g. the frequent words of a bag of
#: words, then cost few loop iterations); the arrays are padded by as much.
LONG_BLOCKS = 16


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CSCDesign:
    r"""A sparse :math:`n \times p` design matrix in compressed sparse column form.

    Attributes
    ----------
    data : array of shape (nnz + padding,)
        Stored values, column after column; the last ``padding``
        (``LONG_BLOCKS * block``) are zero padding (so that a block read at
        the end of the last column stays in bounds).
    indices : int32 array of shape (nnz + padding,)
        Row of each stored value (0 in the padding).
    columns : int32 array of shape (nnz + padding,)
        Column of each stored value, non-decreasing (``n_features - 1`` in
        the padding, whose values are zero), for the segment sums of
        :meth:`rmatvec`.
    indptr : int32 array of shape (n_features + 1,)
        Column ``j`` is ``data[indptr[j]:indptr[j + 1]]``.
    shape : (int, int)
        ``(n_samples, n_features)``, static.
    block : int
        Values read at once along a column, static.
    """

    data: jax.Array
    indices: jax.Array
    columns: jax.Array
    indptr: jax.Array
    shape: tuple = dataclasses.field(metadata=dict(static=True))
    block: int = dataclasses.field(default=DEFAULT_BLOCK, metadata=dict(static=True))

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return 2

    @property
    def nnz(self):
        """Number of stored values (padding excluded), static."""
        return self.data.shape[0] - self.padding

    @property
    def padding(self):
        """Zero values stored after the last column, static."""
        return padding(self.block)

    def matvec(self, w):
        r""":math:`X w` for ``w`` of shape (p,) or (p, k): :math:`O(\mathrm{nnz})`."""
        w = jnp.asarray(w)
        contributions = _expand(self.data, w) * w[self.columns]
        return jax.ops.segment_sum(contributions, self.indices, self.shape[0])

    def rmatvec(self, v):
        r""":math:`X^\top v` for ``v`` of shape (n,) or (n, k): :math:`O(\mathrm{nnz})`."""
        v = jnp.asarray(v)
        contributions = _expand(self.data, v) * v[self.indices]
        return jax.ops.segment_sum(contributions, self.columns, self.shape[1],
                                   indices_are_sorted=True)

    def column_weighted_squares(self, s):
        r""":math:`\sum_i s_i x_{ij}^2` for every column ``j``, shape (p,)."""
        return jax.ops.segment_sum(self.data**2 * s[self.indices], self.columns,
                                   self.shape[1], indices_are_sorted=True)

    def _blocks(self, j):
        """Column ``j``'s start, end and number of long blocks after its first block."""
        start, end = self.indptr[j], self.indptr[j + 1]
        long = LONG_BLOCKS * self.block
        return start, end, (jnp.maximum(end - start - self.block, 0) + long - 1) // long

    def _block(self, start, end, k):
        """Block ``k`` of a column: 0 is the first (``block`` values), ``k >= 1`` the
        long ones (``LONG_BLOCKS * block`` values, from ``start + block``)."""
        if isinstance(k, int) and k == 0:
            offset, size = start, self.block
        else:
            size = LONG_BLOCKS * self.block
            offset = start + self.block + (k - 1) * size
        rows = lax.dynamic_slice(self.indices, (offset,), (size,))
        values = lax.dynamic_slice(self.data, (offset,), (size,))
        inside = offset + jnp.arange(size, dtype=offset.dtype) < end
        return rows, jnp.where(inside, values, jnp.zeros_like(values))

    # The column walks below read the first block outside the loop: most
    # columns of sparse data fit in one block, and on CPU a loop costs a few
    # kernel launches even when it runs no iteration (measured: the path of
    # DEFAULT_BLOCK's note at block 16, 30 s -> 25 s).

    def column_dot(self, j, v):
        r""":math:`x_j^\top v` for a (traced) column index ``j``: :math:`O(\mathrm{nnz}_j)`."""
        start, end, n_blocks = self._blocks(j)
        v = jnp.asarray(v)

        def term(k):
            rows, values = self._block(start, end, k)
            return jnp.vdot(values, v[rows])

        return lax.fori_loop(1, n_blocks + 1, lambda k, total: total + term(k), term(0))

    def column_weighted_dot(self, j, s, v):
        r""":math:`\sum_i x_{ij} s_i v_i` (gathers ``s`` and ``v`` separately, no product formed)."""
        start, end, n_blocks = self._blocks(j)
        s, v = jnp.asarray(s), jnp.asarray(v)

        def term(k):
            rows, values = self._block(start, end, k)
            return jnp.vdot(values * s[rows], v[rows])

        return lax.fori_loop(1, n_blocks + 1, lambda k, total: total + term(k), term(0))

    def column_axpy(self, j, a, v):
        r"""``v + a x_j`` in :math:`O(\mathrm{nnz}_j)`; past the first block nothing is
        read when ``a == 0``."""
        start, end, n_blocks = self._blocks(j)
        v = jnp.asarray(v)

        def body(k, v):
            rows, values = self._block(start, end, k)
            return v.at[rows].add(a * values)

        return lax.fori_loop(1, jnp.where(a != 0, n_blocks + 1, 1), body, body(0, v))

    def __matmul__(self, w):
        return self.matvec(w)

    @property
    def T(self):
        """The transpose as a linear operator: ``X.T @ v`` is :meth:`rmatvec`."""
        return _Transposed(self)

    def column_update(self, j, v, step, weights=None):
        r"""One coordinate step on column ``j``: :math:`d = x_j^\top (s \odot v)`
        (``weights`` :math:`s`, or none), ``(a, out) = step(d)``, then
        ``(v + a x_j, out)``: :math:`O(\mathrm{nnz}_j)`.

        The first block's rows and values are read once for both halves (the
        fused form of :meth:`column_dot` then :meth:`column_axpy`: ~20 %
        less time per coordinate on CPU).
        """
        start, end, n_blocks = self._blocks(j)
        v = jnp.asarray(v)
        weights = None if weights is None else jnp.asarray(weights)
        rows0, values0 = self._block(start, end, 0)

        def term(rows, values):
            values = values if weights is None else values * weights[rows]
            return jnp.vdot(values, v[rows])

        dot = lax.fori_loop(1, n_blocks + 1, lambda k, t: t + term(*self._block(start, end, k)),
                            term(rows0, values0))
        a, out = step(dot)
        v = v.at[rows0].add(a * values0)

        def body(k, v):
            rows, values = self._block(start, end, k)
            return v.at[rows].add(a * values)

        return lax.fori_loop(1, jnp.where(a != 0, n_blocks + 1, 1), body, v), out

    def todense(self):
        """The dense array (for tests and small problems only)."""
        dense = jnp.zeros(self.shape, self.dtype)
        return dense.at[self.indices, self.columns].add(self.data)

    def astype(self, dtype):
        return dataclasses.replace(self, data=self.data.astype(dtype))


class _Transposed:
    """:math:`X^\top` of a :class:`CSCDesign`, for ``X.T @ v`` (no copy)."""

    def __init__(self, design):
        self.design = design

    @property
    def shape(self):
        return self.design.shape[::-1]

    @property
    def dtype(self):
        return self.design.dtype

    def __matmul__(self, v):
        return self.design.rmatvec(v)


def _expand(data, other):
    return data.reshape(data.shape + (1,) * (jnp.ndim(other) - 1))


def is_sparse(X):
    """True for SciPy sparse matrices and arrays, BCOO and :class:`CSCDesign`."""
    if isinstance(X, CSCDesign):
        return True
    if _is_bcoo(X):
        return True
    return _is_scipy_sparse(X)


def _is_scipy_sparse(X):
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover
        return False
    return sp.issparse(X)


def _is_bcoo(X):
    try:
        from jax.experimental import sparse as jsparse
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, jsparse.BCOO)


def padding(block):
    """Length of the zero padding after the last column, for ``block``."""
    return LONG_BLOCKS * int(block)


def _pad(array, block, dtype):
    return np.concatenate([np.asarray(array, dtype), np.zeros(padding(block), dtype)])


def from_scipy(X, *, dtype=None, block=None, name="X"):
    """A :class:`CSCDesign` from a SciPy sparse matrix or array (any format).

    CSC input is used as is; other formats (CSR, COO, DIA, LIL, DOK, BSR)
    are converted by SciPy, never densified. Duplicate entries are summed.

    Parameters
    ----------
    X : scipy.sparse matrix or array of shape (n_samples, n_features)
    dtype : float dtype, optional
        Default: that of ``X`` if floating, else float64 (float32 when JAX's
        64-bit mode is off).
    block : int, optional
        Values read at once along a column (default :data:`DEFAULT_BLOCK`).
    name : str
        Used in error messages.

    Raises
    ------
    TypeError
        Not 2-D, or complex or non-numeric values.
    ValueError
        Non-finite stored values (the first one is named by row and column),
        or more than 2**31 - 1 stored values or rows.
    """
    import scipy.sparse as sp

    block = DEFAULT_BLOCK if block is None else int(block)
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got a sparse array of shape {X.shape}.")
    kind = np.dtype(X.dtype)
    if kind.kind == "c" or kind.kind not in "biuf":
        raise TypeError(f"{name} must have real numeric values, got dtype {kind}.")
    if dtype is None:
        dtype = kind if kind.kind == "f" else np.float64
    dtype = jnp.dtype(jax.dtypes.canonicalize_dtype(dtype))
    csc = sp.csc_matrix(X)                     # a copy only if not CSC already
    if not csc.has_canonical_format:
        csc = csc.copy()
        csc.sum_duplicates()
    n, p = csc.shape
    if max(n, csc.nnz + padding(block)) >= 2**31:
        raise ValueError(f"{name} has {csc.nnz} stored values and {n} rows; at most "
                         "2**31 - 1 are supported (int32 indices).")
    values = csc.data
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        column = int(np.searchsorted(csc.indptr, bad, side="right") - 1)
        raise ValueError(
            f"{name} contains {int((~finite).sum())} non-finite stored values (first at row "
            f"{int(csc.indices[bad])}, column {column}). Impute or drop them before "
            "fitting, e.g. with sklearn.impute.SimpleImputer.")
    counts = np.diff(csc.indptr)
    columns = np.repeat(np.arange(p, dtype=np.int32), counts)
    return CSCDesign(
        data=jnp.asarray(_pad(values, block, dtype)),
        indices=jnp.asarray(_pad(csc.indices, block, np.int32)),
        columns=jnp.asarray(np.concatenate([columns, np.full(padding(block), max(p - 1, 0),
                                                             np.int32)])),
        indptr=jnp.asarray(np.asarray(csc.indptr, np.int32)),
        shape=(int(n), int(p)), block=int(block))


def from_bcoo(X, *, block=DEFAULT_BLOCK):
    """A :class:`CSCDesign` from a 2-D :class:`jax.experimental.sparse.BCOO`.

    Pure (a sort of the stored values by column, then row), so it works
    under :func:`jax.jit`; BCOO's out-of-range padding entries are dropped
    (given zero values). Duplicate entries stay as separate values, which
    every product here sums.
    """
    if not _is_bcoo(X):
        raise TypeError(f"from_bcoo needs a BCOO array, got {type(X).__name__}.")
    if X.ndim != 2 or X.n_batch != 0 or X.n_dense != 0:
        raise ValueError(
            f"from_bcoo needs a 2-D BCOO with no batch or dense dimensions, got shape "
            f"{X.shape} with n_batch={X.n_batch}, n_dense={X.n_dense}.")
    n, p = X.shape
    rows = X.indices[:, 0].astype(jnp.int32)
    cols = X.indices[:, 1].astype(jnp.int32)
    data = X.data
    outside = (rows < 0) | (rows >= n) | (cols < 0) | (cols >= p)
    cols = jnp.where(outside, p, cols)              # sorted to the end, outside indptr
    order = jnp.lexsort((rows, cols))
    rows, cols, data = rows[order], cols[order], data[order]
    outside = cols >= p
    indptr = jnp.searchsorted(cols, jnp.arange(p + 1, dtype=jnp.int32), side="left")
    data = jnp.where(outside, jnp.zeros_like(data), data)
    pad = jnp.zeros(padding(block), data.dtype)
    zeros = jnp.zeros(padding(block), jnp.int32)
    last = jnp.full(padding(block), max(p - 1, 0), jnp.int32)
    return CSCDesign(
        data=jnp.concatenate([data, pad]),
        indices=jnp.concatenate([jnp.where(outside, 0, rows), zeros]),
        columns=jnp.concatenate([jnp.where(outside, p - 1, cols), last]),
        indptr=indptr.astype(jnp.int32), shape=(int(n), int(p)), block=int(block))


def as_design(X, *, dtype=None, name="X"):
    """:class:`CSCDesign` for any sparse input (SciPy, BCOO or CSCDesign)."""
    if isinstance(X, CSCDesign):
        return X if dtype is None else X.astype(dtype)
    if _is_bcoo(X):
        design = from_bcoo(X)
        return design if dtype is None else design.astype(dtype)
    return from_scipy(X, dtype=dtype, name=name)


def pad(design, shape, capacity):
    """``design`` as a larger matrix: empty rows and columns appended, and room
    for ``capacity`` stored values (zeros), so that problems of nearby sizes
    share one compiled program (the estimators' shape buckets).

    The matrix is unchanged on its first ``design.shape`` rows and columns,
    zero elsewhere.
    """
    n, p = design.shape
    n_new, p_new = shape
    if n_new < n or p_new < p or capacity < design.nnz:
        raise ValueError(f"pad can only grow: {design.shape} with {design.nnz} values to "
                         f"{shape} with {capacity}.")
    extra = capacity - design.nnz
    indptr = jnp.concatenate([design.indptr,
                              jnp.full(p_new - p, design.indptr[-1], design.indptr.dtype)])
    nnz = design.nnz
    return CSCDesign(
        data=jnp.concatenate([design.data[:nnz],
                              jnp.zeros(extra + design.padding, design.dtype)]),
        indices=jnp.concatenate([design.indices[:nnz],
                                 jnp.zeros(extra + design.padding, jnp.int32)]),
        columns=jnp.concatenate([design.columns[:nnz], jnp.full(extra + design.padding,
                                                                max(p_new - 1, 0), jnp.int32)]),
        indptr=indptr, shape=(int(n_new), int(p_new)), block=design.block)
