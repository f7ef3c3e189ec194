"""What one counting pass found, as the TensorFlow and JAX passes return it.

Both `counting.py` (TensorFlow, the default) and `jax_counting.py` build a
`CountResult`; `counting.count_sites` turns it into `ActivationStats`.
"""

import dataclasses


@dataclasses.dataclass
class CountResult:
    """What one pass over the calibration data found.

    Attributes:
        rows: Rows seen.
        counts: Per probe, `(pieces, width)` int64 counts.
        observations: Per probe, observations per neuron.
        nonfinite: Per probe, batches with NaN/Inf activations.
        moments: The summed `moment_probe.MomentsProbe.sums` (float64), if any.
        input_nonfinite: `{input name: batches with NaN/Inf values}`.
        identical_rows: Whether every numeric input row was the same.
    """

    rows: int
    counts: list
    observations: list
    nonfinite: list
    input_nonfinite: dict
    identical_rows: bool
    moments: list = dataclasses.field(default_factory=list)
