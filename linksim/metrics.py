"""Metrics: how a reported number is computed from a system's sufficient statistics.

A system's ``simulate`` returns additive statistics for one batch (error counts, trial
counts, sums, sums of squares). The runner adds them up per sweep point; a metric
turns the totals into an :class:`~linksim.stats.Estimate` with a confidence interval.

Register a new metric with::

    @metrics.register("my_rate")
    def _() -> Metric:
        return ProportionMetric("my_rate", count="my_errors", total="my_trials")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Dict, List, Mapping, Optional, Tuple

import numpy as np
from scipy import stats as _st

from .registry import metrics
from .stats import Estimate, mean_of_runs, mean_t, proportion


class Metric:
    """Base class: ``estimate(totals)`` and, for stopping rules, ``errors(totals)``."""

    name: str
    #: Axis label of figures (defaults to the name).
    label: str = ""
    #: Statistic keys this metric needs from a system.
    requires: Tuple[str, ...] = ()
    #: True if smaller is better and the value is an error probability (log axes).
    is_error_rate: ClassVar[bool] = False

    def estimate(self, totals: Mapping[str, float], *, confidence: float = 0.95, ci_method: str = "wilson") -> Estimate:
        raise NotImplementedError  # pragma: no cover

    def errors(self, totals: Mapping[str, float]) -> Optional[float]:
        """Number of observed error events (drives ``target_errors``); None if not a count."""
        return None

    def trials(self, totals: Mapping[str, float]) -> float:
        """Number of observations behind the estimate."""
        return 0.0

    def check_totals(self, totals: Mapping[str, float]) -> Optional[Tuple[str, str]]:
        """``(key, problem)`` if ``totals`` cannot come from a run (a results file read back), else None."""
        return None


@dataclass
class ProportionMetric(Metric):
    """``count / total`` with a binomial interval.

    :param count: Key of the event count (errors for an error rate, successes otherwise).
    :param total: Key of the number of trials.
    :param error_rate: True if ``count`` counts errors (BER, BLER); False for successes
        (accuracy), in which case errors are ``total - count``.
    """

    name: str
    count: str
    total: str
    error_rate: bool = True
    label: str = ""

    @property
    def requires(self) -> Tuple[str, ...]:  # type: ignore[override]
        return (self.count, self.total)

    @property
    def is_error_rate(self) -> bool:  # type: ignore[override]
        return self.error_rate

    def estimate(self, totals: Mapping[str, float], *, confidence: float = 0.95, ci_method: str = "wilson") -> Estimate:
        return proportion(totals.get(self.count, 0.0), totals.get(self.total, 0.0), ci_method, confidence)

    def errors(self, totals: Mapping[str, float]) -> Optional[float]:
        count = totals.get(self.count, 0.0)
        return count if self.error_rate else totals.get(self.total, 0.0) - count

    def trials(self, totals: Mapping[str, float]) -> float:
        return totals.get(self.total, 0.0)

    def check_totals(self, totals: Mapping[str, float]) -> Optional[Tuple[str, str]]:
        count, total = totals.get(self.count), totals.get(self.total)
        if total is not None and total < 0:
            return self.total, f"{total:g} trials is negative"
        if count is not None and count < 0:
            return self.count, f"{count:g} is a negative count"
        if count is not None and total is not None and count > total:
            return self.count, f"{count:g} events out of {total:g} trials"
        return None


@dataclass
class MeanMetric(Metric):
    """Mean of a per-sample quantity with a Student-t interval.

    A system reports ``<key>_sum``, ``<key>_sumsq`` and ``<key>_count``.
    """

    name: str
    key: str
    label: str = ""

    @property
    def requires(self) -> Tuple[str, ...]:  # type: ignore[override]
        return (f"{self.key}_sum", f"{self.key}_sumsq", f"{self.key}_count")

    def estimate(self, totals: Mapping[str, float], *, confidence: float = 0.95, ci_method: str = "wilson") -> Estimate:
        s, sq, n = (totals.get(k, 0.0) for k in self.requires)
        return mean_t(s, sq, n, confidence)

    def trials(self, totals: Mapping[str, float]) -> float:
        return totals.get(f"{self.key}_count", 0.0)

    def check_totals(self, totals: Mapping[str, float]) -> Optional[Tuple[str, str]]:
        for key in (f"{self.key}_count", f"{self.key}_sumsq"):
            if totals.get(key, 0.0) < 0:
                return key, f"{totals[key]:g} is negative"
        return None


@dataclass
class SeedMeanMetric(Metric):
    """Mean over independently trained models (seeds) of each model's success rate.

    A system that evaluates the same images with ``S`` replicas reports
    ``<count_prefix><i>`` for ``i = 0..S-1`` and ``<total>`` (images per replica). The
    estimate is the mean of the ``S`` per-replica rates with a Student-t interval and
    the sample standard deviation between replicas (:func:`~linksim.stats.mean_of_runs`):
    the spread a paper's "mean +- std over 5 runs" reports.
    """

    name: str
    count_prefix: str
    total: str
    label: str = ""

    @property
    def requires(self) -> Tuple[str, ...]:  # type: ignore[override]
        return (self.total, f"{self.count_prefix}0")

    def _counts(self, totals: Mapping[str, float]) -> List[float]:
        counts = []
        while f"{self.count_prefix}{len(counts)}" in totals:
            counts.append(float(totals[f"{self.count_prefix}{len(counts)}"]))
        return counts

    def estimate(self, totals: Mapping[str, float], *, confidence: float = 0.95, ci_method: str = "wilson") -> Estimate:
        total = totals.get(self.total, 0.0)
        if total <= 0:
            return Estimate(math.nan, math.nan, math.nan)
        return mean_of_runs([c / total for c in self._counts(totals)], confidence)

    def trials(self, totals: Mapping[str, float]) -> float:
        return totals.get(self.total, 0.0) * len(self._counts(totals))

    def check_totals(self, totals: Mapping[str, float]) -> Optional[Tuple[str, str]]:
        total = totals.get(self.total, 0.0)
        for i, count in enumerate(self._counts(totals)):
            if not 0 <= count <= total:
                return f"{self.count_prefix}{i}", f"{count:g} events out of {total:g} trials"
        return None


@dataclass
class BalancedAccuracyMetric(Metric):
    """``(TP/P + TN/N) / 2`` of a binary task: accuracy that the majority class cannot game.

    Statistics ``true_positives``, ``positives``, ``true_negatives``, ``negatives``. The
    interval is the normal (delta-method) one, ``+- z sqrt(p1 q1/P + p0 q0/N) / 2``,
    clipped to [0, 1].
    """

    name: str = "balanced_accuracy"
    label: str = "Balanced accuracy"
    requires: Tuple[str, ...] = ("true_positives", "positives", "true_negatives", "negatives")

    def estimate(self, totals: Mapping[str, float], *, confidence: float = 0.95, ci_method: str = "wilson") -> Estimate:
        tp, pos, tn, neg = (totals.get(k, 0.0) for k in self.requires)
        if pos <= 0 or neg <= 0:
            return Estimate(math.nan, math.nan, math.nan)
        p1, p0 = tp / pos, tn / neg
        value = 0.5 * (p1 + p0)
        half = float(_st.norm.ppf(0.5 + confidence / 2.0)) * 0.5 * math.sqrt(
            p1 * (1 - p1) / pos + p0 * (1 - p0) / neg)
        return Estimate(value, max(0.0, value - half), min(1.0, value + half))

    def trials(self, totals: Mapping[str, float]) -> float:
        return totals.get("positives", 0.0) + totals.get("negatives", 0.0)

    def check_totals(self, totals: Mapping[str, float]) -> Optional[Tuple[str, str]]:
        for hits, of in (("true_positives", "positives"), ("true_negatives", "negatives")):
            if not 0 <= totals.get(hits, 0.0) <= totals.get(of, 0.0):
                return hits, f"{totals.get(hits, 0.0):g} out of {totals.get(of, 0.0):g}"
        return None


def binary_task_stats(predicted: "np.ndarray", labels: "np.ndarray") -> Dict[str, float]:
    """The statistics of :class:`BalancedAccuracyMetric` for one batch of a binary task.

    :param predicted: ``[B]`` int, predicted class (0 or 1).
    :param labels: ``[B]`` int, true class (0 or 1).
    """
    positive = labels == 1
    return {"true_positives": float(np.count_nonzero(positive & (predicted == 1))),
            "positives": float(np.count_nonzero(positive)),
            "true_negatives": float(np.count_nonzero(~positive & (predicted == 0))),
            "negatives": float(np.count_nonzero(~positive))}


def _factory(metric: Metric) -> Callable[[], Metric]:
    def make() -> Metric:
        return metric

    make.__doc__ = metric.__doc__
    return make


_SHIPPED = {
    "ber": (ProportionMetric("ber", "bit_errors", "bits", label="BER"), "Bit error rate (information bits)."),
    "bler": (ProportionMetric("bler", "block_errors", "blocks", label="BLER"), "Block (codeword/message) error rate."),
    "ser": (ProportionMetric("ser", "symbol_errors", "symbols", label="SER"), "Symbol error rate."),
    "accuracy": (ProportionMetric("accuracy", "correct", "trials", error_rate=False, label="Accuracy"),
                 "Task accuracy (e.g. answer accuracy)."),
    "psnr": (MeanMetric("psnr", "psnr", label="PSNR (dB)"), "Mean PSNR in dB over images."),
    "ssim": (MeanMetric("ssim", "ssim", label="SSIM"), "Mean SSIM over images."),
    "mse": (MeanMetric("mse", "mse", label="MSE"), "Mean squared error per sample."),
    "bpp": (MeanMetric("bpp", "bpp", label="Bits per pixel"), "Source-codec bits per pixel (classical image links)."),
    "image_loss": (ProportionMetric("image_loss", "images_lost", "images", label="Image loss rate"),
                   "Fraction of images the receiver could not decode."),
    "symbols_per_message": (MeanMetric("symbols_per_message", "symbols_per_message", label="Symbols per message"),
                            "Transmitted complex symbols per message (sentence/image)."),
    "index_error_rate": (ProportionMetric("index_error_rate", "index_errors", "indices", label="Index error rate"),
                         "Share of codebook indices received wrong (digital semantic links)."),
    "recall_at_1": (ProportionMetric("recall_at_1", "retrieval_hits", "retrieval_queries", error_rate=False,
                                     label="Recall@1"),
                    "Retrieval: share of queries whose nearest gallery item (cosine similarity of embeddings) has "
                    "the query's identity (class)."),
    "activation_frequency": (ProportionMetric("activation_frequency", "activations", "activation_trials",
                                              error_rate=False, label="Activation frequency"),
                             "Share of the images keeping a feature (patch position) in which its activation "
                             "exceeds the model's threshold (masked VQ-VAE Fig. 9; sweep feature)."),
    "codebook_cosine_mean": (MeanMetric("codebook_cosine_mean", "codebook_cosine_mean",
                                        label="Mean |cosine| between used codes"),
                             "Mean absolute off-diagonal cosine similarity of the most-used codebook vectors (the "
                             "heat map's codes; one value per model)."),
    "codebook_cosine_max": (MeanMetric("codebook_cosine_max", "codebook_cosine_max",
                                       label="Max |cosine| between used codes"),
                            "Largest absolute off-diagonal cosine similarity of the most-used codebook vectors."),
    "codebook_cosine_mean_all": (MeanMetric("codebook_cosine_mean_all", "codebook_cosine_mean_all",
                                            label="Mean |cosine| between codes"),
                                 "Mean absolute off-diagonal cosine similarity of all codebook vectors."),
    "codebook_cosine_max_all": (MeanMetric("codebook_cosine_max_all", "codebook_cosine_max_all",
                                           label="Max |cosine| between codes"),
                                "Largest absolute off-diagonal cosine similarity of all codebook vectors."),
    "codebook_perplexity": (MeanMetric("codebook_perplexity", "codebook_perplexity", label="Codebook perplexity"),
                            "exp(entropy) of the codebook indices sent for clean test images: the effective "
                            "number of codes used."),
    "backdoor_accuracy": (ProportionMetric("backdoor_accuracy", "backdoor_hits", "backdoor_trials", error_rate=False,
                                           label="Backdoor accuracy (ASR)"),
                          "Share of erased (triggered) samples the judge puts in the backdoor's target class."),
    "mse_erased": (MeanMetric("mse_erased", "mse_erased", label="MSE on erased samples"),
                   "Mean squared error per pixel value of the erased samples' reconstructions."),
    "psnr_erased": (MeanMetric("psnr_erased", "psnr_erased", label="PSNR on erased samples (dB)"),
                    "Mean PSNR of the erased samples' reconstructions."),
    "trigger_level": (MeanMetric("trigger_level", "trigger_level", label="Trigger level in reconstructions"),
                      "Mean reconstructed pixel of the backdoor patch on erased samples, in units of 255 (the "
                      "trigger: 1); a judge-free view of whether the codec still carries the trigger."),
    "membership_rate": (ProportionMetric("membership_rate", "membership_hits", "membership_trials", error_rate=False,
                                         label="Membership rate of erased samples"),
                        "Share of erased samples a loss-threshold membership attacker calls members (threshold: the "
                        "median reconstruction MSE of triggered test images of the base class, so 0.5 = unseen)."),
    "probe_mse": (MeanMetric("probe_mse", "probe_mse", label="MSE on the probe set"),
                  "Clean probe-set MSE per pixel value, recorded during unlearning (Fig. 5 of the SCU paper)."),
    "probe_mse_erased": (MeanMetric("probe_mse_erased", "probe_mse_erased", label="MSE on erased probe samples"),
                         "Erased probe-set MSE per pixel value, recorded during unlearning."),
    "probe_accuracy": (ProportionMetric("probe_accuracy", "probe_accuracy_hits", "probe_accuracy_trials",
                                        error_rate=False, label="Accuracy on the probe set"),
                       "Judge accuracy on the clean probe set's reconstructions, recorded during unlearning."),
    "probe_backdoor_accuracy": (ProportionMetric("probe_backdoor_accuracy", "probe_backdoor_hits",
                                                 "probe_backdoor_trials", error_rate=False,
                                                 label="ASR on erased probe samples"),
                                "Share of erased probe samples put in the target class, recorded during unlearning."),
    "running_time_s": (MeanMetric("running_time_s", "running_time_s", label="Running time (s)"),
                       "Wall time of the model's training or unlearning, as recorded with its weights."),
    "gradient_samples": (MeanMetric("gradient_samples", "gradient_samples", label="Gradient samples"),
                         "Examples through a backward pass in the model's training or unlearning (machine-free cost)."),
    "mi_leakage": (MeanMetric("mi_leakage", "mi_leakage", label="MI leakage (bits)"),
                   "MI between image and attacker reconstruction: 16-bin plug-in per image, Miller-Madow, bits "
                   "(linksim.privacy.leakage)."),
    "attacker_psnr": (MeanMetric("attacker_psnr", "attacker_psnr", label="Attacker PSNR (dB)"),
                      "PSNR of the eavesdropper's model-inversion reconstruction."),
    "attacker_ssim": (MeanMetric("attacker_ssim", "attacker_ssim", label="Attacker SSIM"),
                      "SSIM of the eavesdropper's model-inversion reconstruction."),
    "attacker_accuracy": (ProportionMetric("attacker_accuracy", "attacker_correct", "attacker_trials",
                                           error_rate=False, label="Accuracy on attacker reconstructions"),
                          "Share of the attacker's reconstructions a judge classifies correctly."),
    "attribute_leakage": (ProportionMetric("attribute_leakage", "attribute_correct", "attribute_trials",
                                           error_rate=False, label="Attribute-inference accuracy"),
                          "Share of test images whose private attribute (or class) the eavesdropper's inference "
                          "network reads off the intercepted symbols."),
    "accuracy_seeds": (SeedMeanMetric("accuracy_seeds", "correct_seed", "trials_per_seed",
                                      label="Accuracy (mean over seeds)"),
                       "Mean over independently trained models (training.seeds) of each one's accuracy; interval "
                       "and std from the spread between them."),
    "balanced_accuracy": (BalancedAccuracyMetric(), "Binary tasks: (TP/P + TN/N)/2, the mean of the per-class "
                                                    "accuracies (the majority class scores 0.5)."),
    "tx_power": (MeanMetric("tx_power", "tx_power", label="Transmit power per symbol"),
                 "Mean transmitted energy per complex channel symbol."),
    "params_m": (MeanMetric("params_m", "params_m", label="Deployed parameters (M)"),
                 "Trainable parameters of the deployed networks, millions (privacy_cost)."),
    "params_train_m": (MeanMetric("params_train_m", "params_train_m", label="Parameters in training (M)"),
                       "Parameters of every network training needs, millions (privacy_cost)."),
    "gflops": (MeanMetric("gflops", "gflops", label="Forward GFLOPs per image"),
               "Forward FLOPs of one image through the deployed path, 2 per multiply-add, GFLOP (privacy_cost)."),
    "train_epoch_s": (MeanMetric("train_epoch_s", "train_epoch_s", label="Training time per epoch (s)"),
                      "Seconds per training epoch, extrapolated from timed steps (privacy_cost; machine-dependent)."),
    "infer_ms": (MeanMetric("infer_ms", "infer_ms", label="Inference time per image (ms)"),
                 "Median batch-1 latency of the deployed path (privacy_cost; machine-dependent)."),
}
#: bAbI task numbers with a per-task accuracy metric (``accuracy_task1`` ... ``accuracy_task20``).
BABI_TASKS = tuple(range(1, 21))


def task_accuracy_stats(correct: "np.ndarray", task: "np.ndarray") -> Dict[str, float]:
    """Per-task statistics of one batch: ``correct_task<t>`` and ``trials_task<t>`` for every
    task ``t`` present in ``task``.

    :param correct: ``[B]`` bool, whether each answer was right.
    :param task: ``[B]`` int, the bAbI task number (1..20) of each question.
    """
    out: Dict[str, float] = {}
    for t in np.unique(task):
        mask = task == t
        out[f"correct_task{int(t)}"] = float(correct[mask].sum())
        out[f"trials_task{int(t)}"] = float(mask.sum())
    return out


for _task in BABI_TASKS:
    _SHIPPED[f"accuracy_task{_task}"] = (
        ProportionMetric(f"accuracy_task{_task}", f"correct_task{_task}", f"trials_task{_task}", error_rate=False,
                         label=f"Accuracy, bAbI task {_task}"),
        f"Answer accuracy on the questions of bAbI task {_task} (Mem-DeepSC systems).")
TASK_ACCURACY_METRICS = frozenset(f"accuracy_task{t}" for t in BABI_TASKS)

for _name, (_metric, _summary) in _SHIPPED.items():
    metrics.register(_name, summary=_summary)(_factory(_metric))


def get_metric(name: str, *, field: str = "metrics") -> Metric:
    """The registered metric ``name`` (a :class:`Metric` instance)."""
    return metrics.get(name, field=field)()
