"""The options of `apply`: their defaults, and what they build.

`Options` holds every option of `apply` (and the subset `measure` takes),
validates them when it is created (through `checks.py`, the one home of
every check) and builds what the pipeline needs from them: the threshold
policy (`policy`) and the planner's options (`plan_options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras

from keras_linprune import checks
from keras_linprune.analysis import Analysis
from keras_linprune.graph.model_checks import check_backend
from keras_linprune.measurement.data import MIN_ROWS
from keras_linprune.measurement.latency_model import latency_model
from keras_linprune.plan import policies
from keras_linprune.plan.costs import LatencyModel
from keras_linprune.plan.decisions import OBJECTIVES, SHORTCUT_FORMS, Plan


@dataclasses.dataclass(frozen=True)
class Options:
    """The options of `apply`, with their defaults (see `apply` for what
    each means). Created once per call; the constructor checks every
    option that needs nothing but the options, `check_against` the ones
    that need the model or the data, `check_analysis` those that need
    the analysed graph.

    Example:

    >>> Options(threshold=0.9).policy()
    FixedThreshold(threshold=0.9)
    >>> Options(target_size=0.5).policy()
    SizeTarget(params=None, fraction=0.5, mixes=(0.0,), score=None)
    >>> Options(threshold=1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected `threshold` to be in [0, 1] ... Received: threshold=1.5
    """

    threshold: float | None = None
    layer_threshold: str | int | float = "optimal"
    remove_dead: bool = True
    remove_inactive: bool | str = "auto"
    shortcut: str = "auto"
    objective: str = "params"
    target_size: float | None = None
    target_params: int | None = None
    target_step: float | None = None
    max_metric_drop: float | None = None
    eval_data: Any = None
    metric: Any = "accuracy"
    refit: bool | str = "auto"
    ridge: float = 1e-6
    finetune: int = 0
    certify: bool = False
    input_box: Any = None
    batch_size: int | None = None
    steps: int | None = None
    min_rows: int = MIN_ROWS
    strategy: Any = None
    verbose: Any = "auto"
    #: How shortcuts are computed, settled from `refit` (and, for "auto",
    #: the data, in `check_against`): "plain", "per_site" or "sequential".
    refit_mode: str = dataclasses.field(default="plain", init=False)
    #: The mixes of folding and inactive-neuron removal a size target
    #: compares (`policies.MIXES`), settled in `check_against`.
    target_mixes: tuple[float, ...] = dataclasses.field(default=(0.0,), init=False)

    def __post_init__(self) -> None:
        checks.check_target(
            self.threshold, self.target_size, self.target_params, self.target_step
        )
        checks.check_guard(
            self.max_metric_drop, self.eval_data, self.threshold, self.has_target
        )
        checks.check_flag("certify", self.certify)
        checks.check_refit(self.refit)
        certify = self.certify or self.input_box is not None
        checks.check_certify_alone(
            certify,
            self.threshold,
            self.has_target or self.guarded,
            self.refit not in (False, "auto"),
        )
        if self.refit:
            checks.check_ridge(self.ridge)
        if self.objective == "latency":
            check_backend(needs_tensorflow="objective='latency' (its calibration)")
        threshold = 1.0 if self.threshold is None else self.threshold
        self._set(
            certify=certify,
            _threshold=checks.check_threshold(threshold),
            layer_threshold=checks.check_layer_threshold(self.layer_threshold),
            remove_dead=checks.check_flag("remove_dead", self.remove_dead),
            remove_inactive=checks.check_remove_inactive(self.remove_inactive),
            shortcut=checks.check_choice("shortcut", self.shortcut, SHORTCUT_FORMS),
            objective=checks.check_choice("objective", self.objective, OBJECTIVES),
            batch_size=checks.check_count("batch_size", self.batch_size),
            min_rows=checks.check_count(
                "min_rows", self.min_rows, "the fewest calibration rows accepted"
            ),
            steps=checks.check_count(
                "steps", self.steps, "the number of batches to read"
            ),
            strategy=checks.check_strategy(self.strategy),
            finetune=checks.check_epochs("finetune", self.finetune),
            verbose=checks.check_verbose(self.verbose),
            # "auto" is settled by `check_against`, which sees the data.
            refit_mode={True: "per_site", "sequential": "sequential"}.get(
                self.refit, "plain"
            ),
            target_mixes=(1.0,) if self.remove_inactive is True else (0.0,),
        )

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def check_against(self, model: keras.Model, data: Any) -> None:
        """The checks that need the model or the calibration data; also
        settles `refit_mode` from `refit` and the data."""
        if self.guarded or (self.has_target and self.eval_data is not None):
            checks.check_metrics(model, self.eval_data, [self.metric])
        checks.check_calibration_needs(
            self.certify, self.input_box, self.refit, data, self.finetune
        )
        if self.refit == "auto":
            self._set(refit_mode=self._auto_refit(data))
        if self.remove_inactive == "auto" and self._can_score_target(data):
            self._set(target_mixes=policies.MIXES)

    def _can_score_target(self, data: Any) -> bool:
        """Whether a size target (or a metric guard, over size targets) can
        compare plans by fidelity: on `eval_data`, or on calibration data
        (not statistics alone). Not with the prototype's step search or
        `remove_dead=False`."""
        scorable = self.eval_data is not None or checks.has_data(data)
        sized = (self.has_target and self.target_step is None) or self.guarded
        return sized and self.remove_dead and scorable

    @property
    def scores_target(self) -> bool:
        """Whether the size target compares several plans by fidelity."""
        return len(self.target_mixes) > 1

    def _auto_refit(self, data: Any) -> str:
        """What `refit="auto"` does with `data`: nothing where the fold is
        exact (threshold 1.0, certified) or nothing can be fitted from
        (stats without moments); per-site least squares from moments, or
        for a metric guard over thresholds (gathered in its one measuring
        pass); else the sequential fit, which reads the data `2 + 2 n`
        times (a guard over size targets too)."""
        lossy = self.has_target or self.guarded or self._threshold < 1.0
        if self.certify or not lossy:
            return "plain"
        fittable = checks.has_data(data) or checks.has_moments(data)
        if not checks.has_data(data):
            return "per_site" if fittable else "plain"
        if self.guarded and self.remove_inactive != "auto":
            return "per_site"  # a threshold guard: moments from its one pass
        return "sequential"

    def check_analysis(self, analysis: Analysis) -> None:
        """The checks that need the analysed model, before measuring."""
        checks.check_objective_against(self.objective, analysis.spec)

    @property
    def has_target(self) -> bool:
        """Whether a size target chooses the threshold."""
        return self.target_size is not None or self.target_params is not None

    @property
    def guarded(self) -> bool:
        """Whether a metric guard chooses the threshold."""
        return self.max_metric_drop is not None

    @property
    def plan_options(self) -> dict[str, Any]:
        """Options of `plan.planner.Planner` other than the threshold."""
        return dict(
            layer_threshold=self.layer_threshold,
            remove_dead=self.remove_dead,
            # (1.0,) for `remove_inactive=True`, (0.0,) for False or "auto"
            # without plans to compare, every mix when comparing them.
            remove_inactive=any(m > 0 for m in self.target_mixes),
            shortcut=self.shortcut,
            objective=self.objective,
            latency=self._latency_model(),
        )

    def _latency_model(self) -> LatencyModel | None:
        """The calibrated `LatencyModel` of `objective="latency"` (measured
        once per machine and cached), else `None`."""
        return latency_model() if self.objective == "latency" else None

    def policy(
        self,
        guard: policies.MetricGuard | None = None,
        score: Callable[[Plan], float] | None = None,
    ) -> policies.Policy:
        """The threshold policy: a size target (comparing its mixes by
        `score`, lower is better, when `scores_target`) or step search
        when given, the metric guard `guard` (built by the caller, who can
        score plans) when guarded, else the fixed threshold."""
        if self.guarded:
            if guard is None:
                raise ValueError("Expected the metric guard of a guarded call")
            if self.scores_target and score is not None:
                return policies.SizeGuard(guard, self.target_mixes, score)
            return guard
        mixes = dict(mixes=self.target_mixes, score=score)
        if self.target_params is not None:
            return policies.SizeTarget(params=int(self.target_params), **mixes)
        if self.target_size is not None and self.target_step is not None:
            return policies.StepSearch(float(self.target_size), float(self.target_step))
        if self.target_size is not None:
            return policies.SizeTarget(fraction=float(self.target_size), **mixes)
        return policies.FixedThreshold(self._threshold)
