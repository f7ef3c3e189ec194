"""Summing refit's second moments over the calibration data.

A `MomentsProbe` says which tensors of the model a pass reads and how it
turns them into Gram matrices, batch by batch in float64 (`counting.py`
adds one to the counting pass for `measure(..., moments=True)`); `gather`
is refit's own pass when the statistics hold no moments. What the sums
are is in `moments.py`, which features they cover in `moment_blocks.py`.
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
from keras_linprune.measurement.moment_blocks import geometry_layers
from keras_linprune.measurement.moments import SiteMoments


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

        layers = geometry_layers(analysis)
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
    (`layers`: `moment_blocks.geometry_layers(analysis)`)."""
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
