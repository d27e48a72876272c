"""Mem-DeepSC: memory queue, temporal code, eq. (15), masks, training, weight cache, runner."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import pytest
import torch

import linksim  # noqa: F401  (selects the Keras backend)
from linksim.errors import UserError
from linksim.registry import systems, validate_params
from linksim.runner import run_scenario, seed_everything
from linksim.scenario import parse_scenario
from linksim.stats import wilson_interval
from linksim.systems.base import SystemContext
from linksim.systems.memdeepsc import dynamic
from linksim.systems.memdeepsc.model import memory_queue, push_memory, sinusoidal_code, temporal_code

TINY_DATA = {"type": "babi", "tasks": [1], "num_train": 300, "num_valid": 50, "num_test": 200}


def make_system(cache: Path, params: Optional[Dict[str, Any]] = None, training: Optional[Dict[str, Any]] = None,
                data: Optional[Dict[str, Any]] = None, quick: bool = True, channel: Optional[Dict[str, Any]] = None):
    cls = systems.get("memdeepsc")
    p = validate_params(cls, params or {}, field="params")
    ctx = SystemContext(label="m", channel=channel or {"type": "awgn"}, data=data or TINY_DATA, seed=0,
                        cache_dir=cache, quick=quick, training=training)
    cls.validate_context(p, ctx)
    return cls(p, ctx)


def evaluate(system, snr_db: float, batches: int = 2, batch_size: int = 500) -> Dict[str, float]:
    totals: Dict[str, float] = {}
    with torch.inference_mode():
        for b in range(batches):
            seed_everything(1000 + b)
            for k, v in system.simulate(batch_size, {"snr_db": snr_db}).items():
                totals[k] = totals.get(k, 0.0) + v
    return totals


# ------------------------------------------------------------------ memory (eqs. (5)-(7))


def test_memory_queue_keeps_the_last_t_in_order_newest_last():
    items = np.arange(1, 7)[None, :, None] * np.ones((2, 1, 3))  # sentence k has value k
    q = memory_queue(items, counts=np.array([6, 2]), memory_length=4)
    assert q.shape == (2, 4, 3)
    assert q[0, :, 0].tolist() == [3, 4, 5, 6]          # last T, oldest first, newest last
    assert q[1, :, 0].tolist() == [0, 0, 1, 2]          # short story: zero slots first (k < 0)
    q1 = push_memory(q[1], np.full(3, 7.0))             # eq. (6): pop oldest, push newest
    assert q1[:, 0].tolist() == [0, 1, 2, 7]


def test_babi_arrays_follow_the_queue_convention():
    from linksim.data.babi import BabiDataset

    data = BabiDataset(BabiDataset.Params(tasks=[1], num_train=30, num_valid=0, num_test=1, memory_length=4))
    split = data.split("train")
    filled = np.any(split.context != 0, axis=-1)
    for row, n in zip(filled, split.num_sentences):
        assert row.tolist() == [False] * (4 - n) + [True] * n   # empty slots first, newest last


def test_temporal_code_inner_products_depend_only_on_the_lag():
    code = temporal_code(10, 16)
    assert code.shape == (10, 16)
    gram = code @ code.T
    for lag in range(-9, 10):
        diag = np.diagonal(gram, offset=lag)
        assert np.allclose(diag, diag[0], atol=1e-5), lag
    assert np.allclose(np.diagonal(gram, 1), np.diagonal(gram, -1), atol=1e-5)   # g(d) = g(-d)
    assert not np.allclose(code[0], code[1])
    assert np.allclose(sinusoidal_code(11, 16)[1:], code)


# ------------------------------------------------------------------ eq. (15)


def test_eq15_matches_hand_values_and_table_ii():
    # L1 = 16 * ln(1 + 1/1.44) / ln(1 + 1/(1.44 + 10^(-snr/10)))
    #  0 dB: ln(1.69444) / ln(1 + 1/2.44)     = 0.52734 / 0.34347 = 1.5354 -> 24.57 -> 25
    #  6 dB: ln(1.69444) / ln(1 + 1/1.69119)  = 0.52734 / 0.46455 = 1.1352 -> 18.16 -> 18
    # 18 dB: ln(1.69444) / ln(1 + 1/1.455849) = 0.52734 / 0.52288 = 1.0085 -> 16.14 -> 16
    assert math.isclose(16 * dynamic.eq15_ratio(0.0), 24.566, abs_tol=5e-3)
    assert dynamic.eq15_length(0.0, 16, 32) == 25
    assert dynamic.eq15_length(6.0, 16, 32) == 18
    assert dynamic.eq15_length(18.0, 16, 32) == 16
    assert dynamic.eq15_length(18.0, 16, 32, rounding="ceil") == 17
    row = dynamic.eq15_table([-10, -6, -3, 0, 3, 6, 9, 12, 15, 18], 16, 32)
    assert row[0] == 32 and row[-1] == 16                 # Table II: 32 at low SNR ... 16 at high SNR
    assert np.all(np.diff(row) <= 0)                       # non-increasing in SNR


def test_eq15_limits_and_clipping():
    snrs = np.linspace(-40, 60, 201)
    lengths = dynamic.eq15_table(snrs, 16, 32)
    assert np.all(np.diff(lengths) <= 0) and lengths.min() >= 1 and lengths.max() <= 32
    assert dynamic.eq15_length(-40.0, 16, 32) == 32       # sigma_n -> inf: clipped to L
    assert dynamic.eq15_length(300.0, 16, 32) == 16       # case 1: sigma_n -> 0 gives L_min
    assert dynamic.eq15_length(300.0, 16, 32, rounding="ceil") == 16
    assert dynamic.eq15_length(300.0, 40, 32) == 32       # L_min above L is clipped to L
    assert dynamic.eq15_length(300.0, 1, 32) == 1
    # less model noise: the channel noise weighs more, so relatively more extra symbols
    assert dynamic.eq15_ratio(0.0, mu_max=1.0, sigma_m2=1.44) < dynamic.eq15_ratio(0.0, sigma_m2=0.5)


# ------------------------------------------------------------------ masks


def test_masks_keep_exactly_l1_symbols():
    seed_everything(5)
    l1 = torch.tensor([1, 5, 16, 32, 7])
    scores = torch.randn(5, 32)
    for mask in (dynamic.consecutive_mask(32, l1), dynamic.topk_mask(scores, l1), dynamic.random_mask(32, l1),
                 dynamic.soft_topk_mask(scores, l1)):
        assert mask.shape == (5, 32)
        assert torch.equal(mask.sum(-1), l1.float())
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(dynamic.consecutive_mask(32, l1)[1, :6], torch.tensor([1.0] * 5 + [0.0]))
    top = dynamic.topk_mask(scores, l1)
    for row, k in enumerate(l1.tolist()):
        kept = scores[row][top[row] == 1]
        dropped = scores[row][top[row] == 0]
        assert dropped.numel() == 0 or kept.min() >= dropped.max()


def test_soft_topk_is_hard_forward_and_differentiable():
    scores = torch.randn(4, 8, requires_grad=True)
    mask = dynamic.soft_topk_mask(scores, torch.tensor([2, 4, 6, 8]), temperature=0.5)
    assert torch.equal(mask.detach(), dynamic.topk_mask(scores.detach(), torch.tensor([2, 4, 6, 8])))
    (mask * torch.arange(8.0)).sum().backward()
    assert scores.grad is not None and scores.grad.abs().sum() > 0


def test_apply_mask_sends_unit_energy_per_kept_symbol():
    x = torch.randn(3, 32, 2)
    x = x / x.square().sum((1, 2), keepdim=True).div(32).sqrt()
    mask = dynamic.consecutive_mask(32, torch.tensor([4, 16, 32]))
    y = dynamic.apply_mask(x, mask)
    assert torch.all(y[mask == 0] == 0)
    assert torch.allclose(y.square().sum((1, 2)), torch.tensor([4.0, 16.0, 32.0]), rtol=1e-5)
    assert torch.allclose(y[2], x[2], atol=1e-6)


def test_position_overhead():
    assert dynamic.position_overhead_bits(16, 32) == 30          # ceil(log2 C(32, 16)) = ceil(29.16)
    assert dynamic.position_overhead_symbols(16, 32) == 15       # QPSK, 2 bits per symbol
    assert dynamic.position_overhead_symbols(32, 32) == 0
    assert dynamic.position_overhead_symbols(31, 32) == 3        # log2(32) = 5 bits
    assert dynamic.position_overhead_symbols(10, 32, "bitmap") == 16
    assert dynamic.position_overhead_symbols(10, 32, "none") == 0


# ------------------------------------------------------------------ parameters


def _scenario(params=None, training=None, channel=None):
    system = {"label": "m", "type": "memdeepsc", "params": params or {}}
    if training is not None:
        system["training"] = training
    return {"name": "m", "data": TINY_DATA, "channel": channel or {"type": "awgn"},
            "systems": [system], "metrics": ["accuracy", "symbols_per_message"]}


@pytest.mark.parametrize("params,training,channel,expected", [
    ({"mask": "consecutive", "keep_ratio": 0.0}, None, None, "systems[0].params.keep_ratio"),
    ({"mask": "consecutive", "keep_ratio": 1.5}, None, None, "systems[0].params.keep_ratio"),
    ({"mask": "consecutive", "mask_l1": 40}, None, None, "systems[0].params.mask_l1"),
    ({"mask_l1": 8}, None, None, "systems[0].params.mask_l1: only used with a mask"),
    ({"mask": "random", "mask_l1": 8, "keep_ratio": 0.5}, None, None, "params.keep_ratio: give either"),
    ({"width": 64, "heads": 5}, None, None, "systems[0].params.heads"),
    ({"mask": "wrong"}, None, None, "systems[0].params.mask"),
    ({}, {"train_snr_db": [10, 0]}, None, "training.train_snr_db"),
    ({}, {"semantic": {"batch_size": 0, "learning_rate": 1e-3, "epochs": 1}}, None, "training.semantic.batch_size"),
    ({}, None, {"type": "mimo", "nt": 3, "nr": 3}, "params.symbols: 32 symbols per sentence do not fill"),
    ({"train_channel": {"type": "rician"}}, None, None, "params.train_channel.k_factor"),
])
def test_bad_parameters_name_the_field(params, training, channel, expected):
    with pytest.raises(UserError, match=None) as info:
        parse_scenario(_scenario(params, training, channel))
    assert expected in str(info.value), str(info.value)


def test_l1_choices():
    cache = Path("/nonexistent")
    assert make_system(cache, {"mask": "consecutive"}).symbols_kept(0.0) == 25       # eq15 default
    assert make_system(cache, {"mask": "consecutive", "mask_l1": 12}).symbols_kept(0.0) == 12
    assert make_system(cache, {"mask": "random", "keep_ratio": 0.25}).symbols_kept(0.0) == 8
    assert make_system(cache, {"mask": "random", "eq15": {"min_symbols": 8}}).symbols_kept(40.0) == 8
    assert make_system(cache).symbols_kept(0.0) == 32
    imp = make_system(cache, {"mask": "importance"})
    assert imp.transmission(18.0) == ("importance", 16, 15)
    assert imp.transmission(-10.0) == ("none", 32, 0)


# ------------------------------------------------------------------ training and evaluation


def test_tiny_model_learns_task1_and_memory_matters(tmp_path):
    """A small Mem-DeepSC answers task 1 far above chance; without memory it cannot."""
    data = {"type": "babi", "tasks": [1], "num_train": 400, "num_valid": 0, "num_test": 300}
    tiny = {"width": 32, "heads": 4, "ff_width": 64, "jsc_hidden": 64, "encoder_steps": 2, "decoder_steps": 2,
            "dropout": 0.0, "symbols": 16}
    training = {"semantic": {"batch_size": 32, "learning_rate": 3e-3, "epochs": 30},
                "channel": {"batch_size": 100, "learning_rate": 3e-3, "epochs": 3},
                "whole": {"batch_size": 32, "learning_rate": 3e-4, "epochs": 1},
                "train_snr_db": [5, 20]}
    mem = make_system(tmp_path, tiny, training, data=data, quick=False)
    mem.setup()
    t = evaluate(mem, 20.0)
    low, _ = wilson_interval(t["correct"], t["trials"])
    answers = len(set(mem.data.split("test").answer.tolist()))
    assert answers == 6
    assert low > 1 / answers + 0.3, t                       # chance is 1/6 (measured: 0.72)

    nomem = make_system(tmp_path, {**tiny, "memory": False}, training, data=data, quick=False)
    nomem.setup()
    u = evaluate(nomem, 20.0)
    _, high = wilson_interval(u["correct"], u["trials"])
    assert high < low, (t, u)
    assert u["symbols_per_message_count"] == u["trials"]   # only the question is sent
    assert t["symbols_per_message_sum"] == 16 * t["symbols_per_message_count"]


def test_weight_cache_round_trip(tmp_path, monkeypatch):
    first = make_system(tmp_path, {"mask": "consecutive"})
    first.setup()
    prov = first.provenance()
    assert prov["trained_now"] and {w["role"] for w in prov["weights"]} == {"base", "consecutive"}
    assert all(len(w["sha256"]) == 64 for w in prov["weights"])
    assert "not the paper's data" in prov["data"]["source"]

    import linksim.systems.memdeepsc.system as sysmod

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must not be retrained")

    monkeypatch.setattr(sysmod, "train_mem_deepsc", no_training)
    monkeypatch.setattr(sysmod, "train_mask", no_training)
    second = make_system(tmp_path, {"mask": "consecutive"})
    second.setup()
    prov2 = second.provenance()
    assert not prov2["trained_now"]
    assert [(w["role"], w["source"]) for w in prov2["weights"]] == [("consecutive", "cache")]
    assert prov2["weights"][0]["sha256"] == next(w["sha256"] for w in prov["weights"] if w["role"] == "consecutive")
    assert second.trained_weights() == first.trained_weights()
    assert evaluate(first, 5.0, 1, 50) == evaluate(second, 5.0, 1, 50)   # same weights, same seeds

    # the joint model's stage-2 checkpoint is the separate variant: loaded, not trained
    separate = make_system(tmp_path, {"variant": "separate"})
    separate.setup()
    assert [(w["role"], w["source"]) for w in separate.provenance()["weights"]] == [("base", "cache")]
    # any change of the training settings changes the key
    other = make_system(tmp_path, {"mask": "consecutive"}, training={"train_snr_db": 5})
    monkeypatch.undo()
    other.setup()
    prov3 = other.provenance()
    assert prov3["trained_now"]
    # ... but stage 1 (no channel, no SNR) comes from the cached semantic-codec checkpoint
    assert ("semantic", "cache") in [(w["role"], w["source"]) for w in prov3["weights"]]
    assert "semantic" not in prov3["train_report"]["base"]["stages"]


def test_semantic_checkpoint_loads_into_another_model(tmp_path):
    from linksim.systems.memdeepsc.model import MemDeepSC, ModelConfig, SemanticCodec

    cfg = ModelConfig(vocab_size=20, num_answers=20, memory_length=3, width=16, heads=2, ff_width=16,
                      encoder_steps=1, decoder_steps=1, symbols=4, jsc_hidden=8)
    a, b = (MemDeepSC(cfg, {"type": "awgn"}, 10.0) for _ in range(2))
    for m in (a, b):
        m.build_all(5)
    SemanticCodec(a).save_weights(str(tmp_path / "s.weights.h5"))
    SemanticCodec(b).load_weights(str(tmp_path / "s.weights.h5"))
    for x, y in zip(a.semantic_encoder.get_weights() + a.semantic_decoder.get_weights(),
                    b.semantic_encoder.get_weights() + b.semantic_decoder.get_weights()):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.jsc_encoder.get_weights()[0], b.jsc_encoder.get_weights()[0])


def test_runs_through_the_runner_in_quick_mode(tmp_path):
    scenario = parse_scenario({
        "name": "memdeepsc-quick", "seed": 2, "data": TINY_DATA, "channel": {"type": "rician", "k_factor": 2},
        "sweep": {"parameter": "snr_db", "values": [0, 18]},
        "systems": [
            {"label": "mem", "type": "memdeepsc"},
            {"label": "imp", "type": "memdeepsc", "params": {"mask": "importance"}},
            {"label": "cons", "type": "memdeepsc", "params": {"mask": "consecutive"}},
            {"label": "rnd", "type": "memdeepsc", "params": {"mask": "random", "mask_l1": 8}},
        ],
        "metrics": ["accuracy", "symbols_per_message"],
        "monte_carlo": {"batch_size": 50, "max_batches": 1, "quick": {"batch_size": 50, "max_batches": 1}},
    })
    result = run_scenario(scenario, out=tmp_path / "run", plots_dir=tmp_path / "plots", quick=True,
                          cache_dir=tmp_path / "cache", progress=False)
    recs = {(r.system, r.point["snr_db"]): r.totals for r in result.store}
    assert len(recs) == 8
    for totals in recs.values():
        assert totals["trials"] == 50 and 0 <= totals["correct"] <= 50
        # per-task statistics (accuracy_task<t>) partition the questions
        tasks = sorted(int(k[len("trials_task"):]) for k in totals if k.startswith("trials_task"))
        assert tasks and set(tasks) <= set(TINY_DATA["tasks"])
        assert sum(totals[f"trials_task{t}"] for t in tasks) == 50
        assert sum(totals[f"correct_task{t}"] for t in tasks) == totals["correct"]
    spm = {k: v["symbols_per_message_sum"] / v["symbols_per_message_count"] for k, v in recs.items()}
    assert spm[("mem", 0.0)] == spm[("mem", 18.0)] == 32
    assert spm[("cons", 0.0)] == 25 and spm[("cons", 18.0)] == 16
    assert spm[("imp", 18.0)] == 16 + 15 and spm[("rnd", 0.0)] == 8
    prov = result.store.provenance["systems"]["imp"]
    assert prov["quick"] and prov["dynamic"]["eq15"]["min_symbols"] == 16


def test_training_does_not_depend_on_which_checkpoints_were_cached(tmp_path):
    """A joint model trained from a cached stage-1 checkpoint equals one trained from scratch."""
    import shutil

    scratch = make_system(tmp_path / "a")
    scratch.setup()
    assert "semantic" in scratch.provenance()["train_report"]["base"]["stages"]
    folder = tmp_path / "a" / "weights" / "memdeepsc"
    semantic_key, _ = scratch._semantic_spec()
    target = tmp_path / "b" / "weights" / "memdeepsc"
    target.mkdir(parents=True)
    for path in folder.glob(f"{semantic_key}.*"):
        shutil.copy(path, target / path.name)
    resumed = make_system(tmp_path / "b")
    resumed.setup()
    assert "semantic" not in resumed.provenance()["train_report"]["base"]["stages"]
    for x, y in zip(scratch.model.get_weights(), resumed.model.get_weights()):
        assert np.array_equal(x, y)


def test_training_presets_record_table_i():
    from linksim.systems.memdeepsc.system import TrainingParams
    from linksim.systems.memdeepsc.training import PAPER_TABLE_I, StageSettings

    paper = TrainingParams.model_validate({"preset": "paper"})
    assert paper.stage("semantic") == StageSettings(batch_size=200, learning_rate=5e-4, epochs=250)
    assert paper.stage("channel") == StageSettings(batch_size=100, learning_rate=1e-4, epochs=50)
    assert paper.stage("whole") == StageSettings(batch_size=200, learning_rate=5e-4, epochs=30)
    assert paper.stage("consecutive") == StageSettings(batch_size=200, learning_rate=1e-4, epochs=50)
    custom = TrainingParams.model_validate({"preset": "paper", "whole": {"batch_size": 8, "learning_rate": 1e-3,
                                                                        "epochs": 2}})
    assert custom.stage("whole") == StageSettings(batch_size=8, learning_rate=1e-3, epochs=2) and custom.stage("semantic") == PAPER_TABLE_I["semantic"]
    assert TrainingParams().train_snr_db == (0.0, 18.0)
