"""Second moments for refit: the sums its least squares needs, per site.

Refit (`rebuild/refit.py`, docs/method.md section 8) fits each folded
site's linear neurons as an affine map of what the producer's terms read,
`sigma(z_J) ~ [F 1] w`: `F` holds, per output position, the producer's
input (and the sources earlier folds gave it), as the kernel sees it (the
patches of a convolution, a flattened input). Its normal equations need two
sums over the calibration rows, `[F 1]^T [F 1]` and `[F 1]^T sigma(z)`.
They are gathered here in float64, batch by batch (activations are never
all in memory), for every neuron of the site, so one set of sums serves any
threshold:

* for one plan's features, by refit's own pass (`gather`);
* for every feature any plan can read, during `measure(..., moments=True)`
  (`counting.py` adds a `MomentsProbe` to its pass): refit then runs from
  the statistics, in sweeps and size targets, with no further pass.

Memory per site: `8 (F + 1) (F + 1 + n)` bytes, `F` feature columns and `n`
neurons (`SiteMoments.nbytes`).
"""

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_linprune.graph import registry
from keras_linprune.graph.kinds.base import position_rows
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement import jax_counting, replicas


@dataclasses.dataclass(frozen=True)
class Block:
    """The feature columns one source contributes, read with one geometry.

    Attributes:
        source: Key of the source tensor.
        signature: Geometry signature of the term reading it (`"dense"`, a
            convolution's kernel, strides, padding...).
        width: Channels of the source in the original model.
        taps: Shape of the term's tap axes (algebra layout): `()` for one
            tap, a convolution's kernel size, `(positions,)` through a
            `Flatten`.
    """

    source: str
    signature: str
    width: int
    taps: tuple = ()

    @property
    def size(self):
        """Feature columns: taps times channels."""
        return math.prod(self.taps) * self.width

    def columns(self, keep=None):
        """Indices (within the block) of the features of channels `keep`
        (`None`: all), tap-major like the kernel's rows.

        >>> Block("x", "k", width=3, taps=(2,)).columns([0, 2]).tolist()
        [0, 2, 3, 5]
        """
        if keep is None:
            return np.arange(self.size)
        taps = np.arange(math.prod(self.taps))[:, None] * self.width
        return (taps + np.asarray(keep, np.int64)[None, :]).ravel()


@dataclasses.dataclass
class SiteMoments:
    """The sums of one site's least squares.

    Attributes:
        blocks: The feature blocks, in column order.
        gram: `[F 1]^T [F 1]`, float64, the ones column last.
        cross: `[F 1]^T sigma(z)` for every neuron of the site, float64.
    """

    blocks: tuple
    gram: np.ndarray
    cross: np.ndarray

    @property
    def nbytes(self):
        """Memory the sums take."""
        return self.gram.nbytes + self.cross.nbytes

    def __add__(self, other):
        if other.blocks != self.blocks:
            raise ValueError(
                "Expected moments of the same features. Received: blocks "
                f"{self.blocks} and {other.blocks}"
            )
        return SiteMoments(
            self.blocks, self.gram + other.gram, self.cross + other.cross
        )

    def normal_equations(self, selected, linear, intercept):
        """`(A, b)` of the fit of neurons `linear` on the features
        `selected`, a list of `(block, kept channels or None)` (each block
        one of `blocks`), with the ones column if `intercept`."""
        starts = np.cumsum([0] + [b.size for b in self.blocks])
        where = {b: s for b, s in zip(self.blocks, starts)}
        missing = [b for b, _ in selected if b not in where]
        if missing:  # measured moments hold every block any plan reads
            raise RuntimeError(
                f"keras_linprune bug: no moments for the features {missing}. "
                "Please report it with the model's summary."
            )
        parts = [where[b] + b.columns(keep) for b, keep in selected]
        if intercept:
            parts.append([starts[-1]])
        index = np.concatenate(parts).astype(np.int64)
        return self.gram[np.ix_(index, index)], self.cross[np.ix_(index, linear)]


def unfit_reason(analysis, site):
    """Why refit cannot fit `site` whatever the plan (`""` if it can): a
    producer called at several places has one kernel for different rows."""
    if len(analysis.found.bindings[site.name].tensor) > 1:
        return "shared layer"
    return ""


def site_blocks(analysis, terms, skip_unfit=False):
    """The `Block`s of a producer's terms, a list of `(source key, taps,
    geometry signature)`, or the reason refit cannot read one of them
    (with `skip_unfit`, such terms are left out instead: a plan reading
    one keeps the plain fold anyway)."""
    layers = _geometry_layers(analysis)
    widths = analysis.spec.source_widths
    blocks = []
    for source, taps, signature in terms:
        layer = layers[signature]
        kind = registry.linear_kind(layer)
        if not kind.fits_by_rows:
            if skip_unfit:
                continue
            return f"a {type(layer).__name__} term"
        blocks.append(
            Block(source, signature, widths[source], kind.tap_shape(layer, taps))
        )
    return tuple(blocks)


@dataclasses.dataclass(frozen=True)
class _Column:
    """Columns of a Gram matrix: how to read them from the probe's outputs.

    `identity` is equal for columns holding the same values: a tensor
    read position by position (a site's activation, a pointwise term's
    source) is one column whoever reads it.
    """

    identity: tuple
    slot: int  # index of the tensor in the probe's outputs
    width: int
    layer: object = None  # the geometry layer of a patch-like read
    taps: int = 1
    axis: int = -1  # channel axis of a position-by-position read

    def rows(self, outs, dtype):
        v = outs[self.slot]
        if self.layer is not None:
            kind = registry.linear_kind(self.layer)
            return ops.cast(kind.feature_rows(self.layer, v, self.taps), dtype)
        return ops.cast(position_rows(v, self.axis), dtype)


@dataclasses.dataclass
class _Host:
    """One Gram matrix over `columns` (and a ones column), from which the
    moments of every site in `sites` are sliced."""

    columns: list
    sites: list

    @property
    def size(self):
        return sum(c.width for c in self.columns) + 1

    def index(self, columns):
        """Indices of `columns` (each one of this host's) in the Gram."""
        starts = np.cumsum([0] + [c.width for c in self.columns])
        where = {c.identity: start for c, start in zip(self.columns, starts)}
        parts = [where[c.identity] + np.arange(c.width) for c in columns]
        return np.concatenate(parts).astype(np.int64)


class MomentsProbe:
    """What a pass over the data needs to sum the moments of some sites.

    Each site's sums are blocks of the Gram matrix of its features and its
    activation. Sites whose columns are all among another's (a chain of
    Dense layers: each producer reads every earlier one's input and
    activation) share that one's Gram: one matrix product per group
    instead of one per site.

    Attributes:
        tensors: The original model's tensors the sums read (add them to
            a probe model's outputs).
        shapes: The shapes of the Gram matrices `sums` returns.
    """

    def __init__(self, analysis, blocks):
        """`blocks`: mapping from site key to its feature `Block`s."""
        self.blocks = dict(blocks)
        self.tensors, slots = [], {}

        def slot(t):
            if id(t) not in slots:
                slots[id(t)] = len(self.tensors)
                self.tensors.append(t)
            return slots[id(t)]

        layers = _geometry_layers(analysis)
        self._columns = {
            site: _site_columns(analysis, layers, site, site_blocks, slot)
            for site, site_blocks in self.blocks.items()
        }
        self._hosts = _hosts(self._columns)
        self.shapes = [(h.size, h.size) for h in self._hosts]

    def site_nbytes(self):
        """Per site, the memory its `SiteMoments` will take."""
        out = {}
        for site, columns in self._columns.items():
            features = sum(c.width for c in columns[:-1]) + 1
            out[site] = 8 * features * (features + columns[-1].width)
        return out

    @property
    def nbytes(self):
        """Memory of the pass's totals (one Gram per group) and of the
        sites' moments sliced from them."""
        grams = sum(8 * h.size * h.size for h in self._hosts)
        return grams + sum(self.site_nbytes().values())

    def sums(self, outs, dtype="float64"):
        """The Gram matrices `[F 1]^T [F 1]` of one batch, one per group of
        sites, from the values `outs` of `tensors` (a flat list;
        `keras.ops`, traced by the caller)."""
        result = []
        for host in self._hosts:
            f = ops.concatenate([c.rows(outs, dtype) for c in host.columns], axis=-1)
            f = ops.concatenate([f, ops.ones_like(f[:, :1])], axis=-1)
            result.append(ops.matmul(ops.transpose(f), f))
        return result

    def collect(self, grams):
        """`{site: SiteMoments}` from the totals of `sums` (NumPy)."""
        out = {}
        for host, gram in zip(self._hosts, grams):
            gram = np.asarray(gram, np.float64)
            for site in host.sites:
                *features, target = self._columns[site]
                rows = np.append(host.index(features), host.size - 1)  # + ones
                out[site] = SiteMoments(
                    self.blocks[site],
                    gram[np.ix_(rows, rows)],
                    gram[np.ix_(rows, host.index([target]))],
                )
        return {site: out[site] for site in self.blocks}


def _geometry_layers(analysis):
    """Geometry signature -> a layer applying its kernel that way (equal
    signatures read their sources alike)."""
    return {
        lin.geometry: analysis.operations[name]
        for name, lin in analysis.spec.linears.items()
    }


def physical_memory():
    """This machine's memory in bytes, or `None` where unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(probe):
    """Raises `ValueError` when the moments `probe` sums would take more
    than half of this machine's memory (checked before any data is read;
    skipped where the memory is unknown)."""
    memory = physical_memory()
    if memory is None or probe.nbytes <= memory / 2:
        return
    largest = sorted(probe.site_nbytes().items(), key=lambda kv: -kv[1])[:3]
    sites = ", ".join(f"{site!r}: {size / 1e9:.2f} GB" for site, size in largest)
    raise ValueError(
        "Expected second moments that fit in memory: they would take "
        f"{probe.nbytes / 1e9:.2f} GB (largest sites {sites}) of this "
        f"machine's {memory / 1e9:.2f} GB. Received: moments=True. Measure "
        "without moments (refit then sums only its plan's features, in a "
        "pass of its own)"
    )


def _site_columns(analysis, layers, site, blocks, slot):
    """A site's feature columns, in block order, then its activation's
    (`layers`: `_geometry_layers(analysis)`)."""
    found = analysis.found
    binding = found.bindings[site]
    env = found.env[id(binding.nodes[0])]
    columns = []
    for b in blocks:
        layer = layers[b.signature]
        taps = math.prod(b.taps)
        if taps == 1 and registry.linear_kind(layer).is_pointwise(layer):
            axis = registry.linear_kind(layer).channel_axis(layer)
            columns.append(
                _Column(("rows", b.source), slot(env[b.source]), b.width, axis=axis)
            )
        else:
            columns.append(
                _Column(("patches", b), slot(env[b.source]), b.size, layer, taps)
            )
    tensor, axis = binding.tensor[0], binding.channel_axis
    columns.append(
        _Column(("rows", site), slot(tensor), int(tensor.shape[axis]), axis=axis)
    )
    return columns


def _hosts(columns):
    """Groups sites so that each group's columns are all among its first
    site's (the widest first; a site joins the first group holding all its
    columns)."""
    hosts = []
    by_width = sorted(columns, key=lambda s: -sum(c.width for c in columns[s]))
    for site in by_width:
        identities = {c.identity for c in columns[site]}
        for host in hosts:
            if identities <= {c.identity for c in host.columns}:
                host.sites.append(site)
                break
        else:
            hosts.append(_Host(list(columns[site]), [site]))
    return hosts


def gather(analysis, blocks, data, *, batch_size, steps, verbose, strategy):
    """One pass over `data` summing the moments of the sites in `blocks`
    (refit's own pass, when the statistics hold no moments).

    Under a `tf.distribute` strategy of several replicas each batch's rows
    are split across them and the sums reduced (`replicas.py`).

    Returns:
        `{site: SiteMoments}`.
    """
    probe_spec = MomentsProbe(analysis, blocks)
    fn = analysis.fn
    probe = keras.Model(fn.inputs, probe_spec.tensors)
    step = _batch_step(probe, probe_spec, replicas.active_strategy(strategy))
    calibration = data_lib.Calibration(data, fn, batch_size, steps)
    bar = calibration.progress_bar(verbose)
    totals = None
    for i, x in enumerate(calibration, start=1):
        totals = replicas.add_sums(totals, [np.asarray(s, np.float64) for s in step(x)])
        if bar is not None:
            bar.update(i)
    return probe_spec.collect(totals)


def _batch_step(probe, probe_spec, strategy):
    """The compiled `x -> sums of the batch`, in float64: a `tf.function`
    (split across the replicas of `strategy`), or a `jax.jit` run with
    64-bit types enabled (JAX computes in 32 bits by default)."""
    if keras.backend.backend() == "jax":
        jitted = jax_counting.jitted_probe(probe, probe_spec.sums)

        def step(x):
            with jax_counting.x64():
                return jitted(x)

        return step

    def batch_sums(x):
        outs = probe(x, training=False)
        return probe_spec.sums(
            list(outs) if isinstance(outs, (list, tuple)) else [outs]
        )

    if strategy is None:
        return tf.function(batch_sums, autograph=False, reduce_retracing=True)
    return replicas.compiled_split_sum(strategy, batch_sums, probe.inputs)
