"""Size targets: the highest threshold whose plan meets a parameter budget.

The planner's exact count makes this cheap: no Keras model is built for a
candidate. The linear set of a site only changes at the neurons' activation
rates, so those distinct rates (and 1.0) are the only thresholds worth
trying; they are tried from the highest down.

Example:

>>> import numpy as np
>>> from keras_linprune.spec import GraphSpec, LinearSpec, SiteSpec
>>> spec = GraphSpec({"d0": LinearSpec("d0", "x", 100, 64, True),
...                   "d1": LinearSpec("d1", "d0", 64, 50, True)},
...                  (SiteSpec("d0", "d0", ("d1",), 64),), (), 9714)
>>> rates = {"d0": np.linspace(0.5, 1.0, 64)}
>>> plan = plan_for_target(spec, rates, 6000)
>>> plan.params <= 6000, plan.options["threshold"] < 1.0
(True, True)
"""


from keras_linprune import plan as plan_lib


def candidate_thresholds(spec, rates):
    """Distinct thresholds at which some site's linear set changes, highest
    first (always starting at 1.0)."""
    values = {1.0}
    for site in spec.sites:
        r = plan_lib.piece_rates(site, rates[site.name])
        best, _ = plan_lib.best_sloped_piece(site.activation.pieces, r)
        values.update(float(v) for v in best[best > 0])
    return sorted(values, reverse=True)


def plan_for_target(spec, rates, target_params, **options):
    """The plan at the highest threshold with at most `target_params`.

    Args:
        spec: `GraphSpec` of the model.
        rates: Per-site piece rates (as for `plan.make_plan`).
        target_params: Parameter budget of the compressed model.
        **options: Other `plan.make_plan` options (no `threshold`).

    Returns:
        A `plan.Plan`; its `options["threshold"]` is the chosen threshold.

    Raises:
        ValueError: If no threshold meets the budget; the message gives the
            smallest size folding can reach.
    """
    smallest = None
    for t in candidate_thresholds(spec, rates):
        plan = plan_lib.make_plan(spec, rates, threshold=t, **options)
        if plan.params <= target_params:
            return plan
        if smallest is None or plan.params < smallest.params:
            smallest = plan
    raise ValueError(
        f"Expected a reachable size target. Received: target of "
        f"{target_params:,} parameters, but the smallest model folding can "
        f"reach has {smallest.params:,} parameters "
        f"({smallest.params / spec.total_params:.1%} of the original, at "
        f"threshold {smallest.options['threshold']:.4g})"
    )


def plan_for_fixed_size(spec, rates, size, step, **options):
    """The prototype's `seq_fixed_size_compression`, without its defects.

    Starts at threshold 1.0 and lowers it by `step` until the size counted
    *without the first layer* is at most `size` times the original's (the
    prototype's rule). Thresholds are `1 - k * step` computed exactly (no
    accumulated float error), never below 0, and an unreachable target
    raises instead of looping forever.
    """
    first = spec.sites[0].producer if spec.sites else None
    original = spec.total_params - (spec.linears[first].params if first else 0)
    k, smallest = 0, None
    while True:
        t = max(0.0, round(1.0 - k * step, 12))
        plan = plan_lib.make_plan(spec, rates, threshold=t, **options)
        counted = plan.params - (plan.layout[first].params if first else 0)
        if counted <= size * original:
            return plan
        if smallest is None or counted < smallest[0]:
            smallest = (counted, t)
        if t == 0.0:
            raise ValueError(
                "Expected a reachable size target. Received: target_size="
                f"{size}, but stepping the threshold by {step} reaches at best "
                f"{smallest[0] / original:.1%} of the original size without "
                f"the first layer (threshold {smallest[1]:.4g})"
            )
        k += 1
