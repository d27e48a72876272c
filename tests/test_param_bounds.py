"""Every size a component takes is bounded, and checked by ``linksim validate``.

For each bound: a value just above it fails with one :class:`~linksim.errors.UserError`
naming the field, and (where cheap) the limit itself validates. Cross-field checks that
used to fail only at run time (after training or the first sweep point) fail here.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import pytest

from linksim.errors import UserError
from linksim.registry import theory, validate_params
from linksim.scenario import parse_scenario


def _bit_link(params: Optional[Dict[str, Any]] = None, channel: Optional[Dict[str, Any]] = None,
              training: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    system: Dict[str, Any] = {"label": "b", "type": "bit_link", "params": params or {}}
    if training is not None:
        system["training"] = training
    return {"name": "b", "channel": channel or {"type": "awgn"}, "sweep": {"parameter": "snr_db", "values": [0]},
            "systems": [system], "metrics": ["ber"]}


def _memdeepsc(params: Optional[Dict[str, Any]] = None, training: Optional[Dict[str, Any]] = None,
               data: Optional[Dict[str, Any]] = None, kind: str = "memdeepsc") -> Dict[str, Any]:
    system: Dict[str, Any] = {"label": "m", "type": kind, "params": params or {}}
    if training is not None:
        system["training"] = training
    return {"name": "m", "data": {"type": "babi", "tasks": [1], "num_train": 20, "num_valid": 4, "num_test": 10,
                                  **(data or {})},
            "channel": {"type": "awgn"}, "sweep": {"parameter": "snr_db", "values": [0]},
            "systems": [system], "metrics": ["accuracy"]}


def _image(kind: str = "image_jscc", params: Optional[Dict[str, Any]] = None,
           training: Optional[Dict[str, Any]] = None, data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    base = {"image_jscc": {"method": "deepjscc", "bandwidth_ratio": "1/6"},
            "image_digital": {"bandwidth_ratio": "1/6"}, "image_codec": {}}[kind]
    system: Dict[str, Any] = {"label": "i", "type": kind, "params": {**base, **(params or {})}}
    if training is not None:
        system["training"] = training
    sweep = {"parameter": "bpp", "values": [1]} if kind == "image_codec" else {"parameter": "snr_db", "values": [5]}
    return {"name": "i", "data": {"type": "images", "num_train": 20, "num_test": 10, **(data or {})},
            "channel": {"type": "awgn"}, "sweep": sweep, "systems": [system], "metrics": ["psnr"]}


def _rejects(scenario: Dict[str, Any], field: str) -> str:
    with pytest.raises(UserError) as info:
        parse_scenario(scenario)
    message = str(info.value)
    assert f"{field}:" in message, message
    assert "\n" not in message, message
    return message


# --------------------------------------------------------------------------- the issue's examples


@pytest.mark.parametrize("scenario, field", [
    (_bit_link({"code": {"type": "uncoded", "k": 10**12}}), "systems[0].params.code.k"),
    (_bit_link(channel={"type": "mimo", "nt": 100000, "nr": 4}), "channel.nt"),
    (_bit_link(channel={"type": "mimo", "nt": 4, "nr": 100000}), "channel.nr"),
    (_image(data={"num_test": 10**9}), "data.num_test"),
    (_image(data={"num_train": 10**9}), "data.num_train"),
    (_memdeepsc(data={"num_test": 10**9}), "data.num_test"),
])
def test_issue_examples_are_rejected(scenario, field):
    _rejects(scenario, field)


# --------------------------------------------------------------------------- PHY


def _with(scenario: Dict[str, Any], path: str, value: Any) -> Dict[str, Any]:
    out = copy.deepcopy(scenario)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    node[keys[-1]] = value
    return out


@pytest.mark.parametrize("code, field, limit, above", [
    ({"type": "uncoded"}, "k", 2**17, 2**17 + 1),
    ({"type": "ldpc5g", "n": 16896}, "k", 8448, 8449),
    ({"type": "ldpc5g", "k": 8448}, "n", 2 * 8448, 316 * 384 + 1),  # k/n >= 1/5 keeps n <= 5 k below the limit
    ({"type": "ldpc5g", "k": 512, "n": 1024}, "num_iter", 200, 201),
    ({"type": "wimax_ldpc"}, "n", 2304, 2304 + 96),
    ({"type": "wimax_ldpc"}, "num_iter", 200, 201),
    ({"type": "turbo"}, "k", 6144, 6144 + 64),
    ({"type": "turbo"}, "num_iter", 50, 51),
])
def test_code_bounds(code, field, limit, above):
    parse_scenario(_bit_link({"code": {**code, field: limit}}))
    _rejects(_bit_link({"code": {**code, field: above}}), f"systems[0].params.code.{field}")


@pytest.mark.parametrize("k, n", [
    (4000, 13000),   # k > 3824 and 1/4 < k/n < 1/3: base graph 1 cannot, base graph 2 may not
    (4000, 17000),   # k > 3840 and k/n <= 1/4: base graph 2 holds at most 3840 bits
])
def test_ldpc5g_base_graph_limits_fail_at_validation(k, n):
    message = _rejects(_bit_link({"code": {"type": "ldpc5g", "k": k, "n": n}}), "systems[0].params.code")
    assert "base graph" in message


def test_ldpc5g_base_graph_edges_validate():
    parse_scenario(_bit_link({"code": {"type": "ldpc5g", "k": 3824, "n": 13000}}))
    parse_scenario(_bit_link({"code": {"type": "ldpc5g", "k": 3840, "n": 16000}}))
    parse_scenario(_bit_link({"code": {"type": "ldpc5g", "k": 8448, "n": 25344}}))


@pytest.mark.parametrize("field", ["nt", "nr"])
def test_mimo_antenna_bound(field):
    spec = {"type": "mimo", "nt": 4, "nr": 4}
    parse_scenario(_bit_link(channel={**spec, field: 64}))
    _rejects(_bit_link(channel={**spec, field: 65}), f"channel.{field}")
    _rejects(_bit_link(channel={"type": "awgn"}) | {"systems": [
        {"label": "b", "type": "bit_link", "channel": {**spec, field: 65}}]}, f"systems[0].channel.{field}")


@pytest.mark.parametrize("channel", [{"type": "rayleigh"}, {"type": "rician", "k_factor": 1.0},
                                     {"type": "mimo", "nt": 2, "nr": 2}])
def test_coherence_bound(channel):
    parse_scenario(_bit_link(channel={**channel, "coherence": 2**17}))
    _rejects(_bit_link(channel={**channel, "coherence": 2**17 + 1}), "channel.coherence")


def test_amc_table_size_bound():
    entry = {"min_snr_db": 0.0, "order": 4, "code": {"type": "turbo", "k": 40}}
    _rejects(_memdeepsc({"amc": {"entries": [entry] * 65}}, kind="memdeepsc_digital"), "systems[0].params.amc.entries")


def test_bit_link_rejects_a_training_block():
    _rejects(_bit_link(training={"epochs": 3}), "systems[0].training")


@pytest.mark.parametrize("name, params, field", [
    ("ber_qam_awgn", {"order": 4**9}, "order"),
    ("capacity_mimo_rayleigh", {"nt": 65, "nr": 2}, "nt"),
    ("capacity_mimo_rayleigh", {"nt": 2, "nr": 65}, "nr"),
    ("capacity_mimo_rayleigh", {"nt": 2, "nr": 2, "samples": 10**6 + 1}, "samples"),
    ("capacity_mimo_rayleigh", {"nt": 64, "nr": 64, "samples": 24415}, "samples"),
])
def test_theory_curve_bounds(name, params, field):
    fn = theory.get(name)
    with pytest.raises(UserError, match=rf"curve\.{field}:"):
        validate_params(fn, params, field="curve")


def test_theory_curve_limits_validate():
    validate_params(theory.get("ber_qam_awgn"), {"order": 4**8}, field="curve")
    validate_params(theory.get("capacity_mimo_rayleigh"), {"nt": 64, "nr": 64, "samples": 24414}, field="curve")
    validate_params(theory.get("capacity_mimo_rayleigh"), {"nt": 2, "nr": 2, "samples": 10**6}, field="curve")


# --------------------------------------------------------------------------- bAbI and Mem-DeepSC


@pytest.mark.parametrize("data, field", [
    ({"num_train": 100001}, "data.num_train"),
    ({"num_valid": 100001}, "data.num_valid"),
    ({"num_test": 100001}, "data.num_test"),
    ({"memory_length": 1001}, "data.memory_length"),
    ({"tasks": list(range(1, 21)), "num_train": 50000, "num_valid": 0, "num_test": 1, "memory_length": 21},
     "data.memory_length"),
    ({"source": "official", "num_train": 9500, "num_valid": 501}, "data.num_valid"),
    ({"source": "official", "num_test": 1001}, "data.num_test"),
])
def test_babi_bounds(data, field):
    _rejects(_memdeepsc(data=data), field)


def test_babi_limits_validate():
    parse_scenario(_memdeepsc(data={"num_train": 100000, "num_valid": 100000, "num_test": 100000}))
    parse_scenario(_memdeepsc(data={"memory_length": 1000}))
    parse_scenario(_memdeepsc(data={"source": "official", "num_train": 9000, "num_valid": 1000, "num_test": 1000}))


@pytest.mark.parametrize("training, field", [
    ({"semantic": {"batch_size": 8193, "learning_rate": 1e-3, "epochs": 1}}, "training.semantic.batch_size"),
    ({"whole": {"batch_size": 8, "learning_rate": 1e-3, "epochs": 10001}}, "training.whole.epochs"),
    ({"max_train": 10**7 + 1}, "training.max_train"),
    ({"mask_l1_range": [1, 1025]}, "training.mask_l1_range"),
])
def test_memdeepsc_training_bounds(training, field):
    _rejects(_memdeepsc(training=training), f"systems[0].{field}")
    _rejects(_memdeepsc(training=training, kind="memdeepsc_digital"), f"systems[0].{field}")


def test_memdeepsc_training_limits_validate():
    parse_scenario(_memdeepsc(training={"semantic": {"batch_size": 8192, "learning_rate": 1e-3, "epochs": 10000},
                                        "max_train": 10**7}))


def test_memdeepsc_mask_range_beyond_symbols():
    scenario = _memdeepsc({"symbols": 16, "mask": "consecutive"}, training={"mask_l1_range": [4, 17]})
    message = _rejects(scenario, "systems[0].training.mask_l1_range")
    assert "params.symbols" in message
    parse_scenario(_memdeepsc({"symbols": 16, "mask": "consecutive"}, training={"mask_l1_range": [4, 16]}))


def test_memdeepsc_digital_checks_its_train_channel():
    _rejects(_memdeepsc({"train_channel": {"type": "rician"}}, kind="memdeepsc_digital"),
             "systems[0].params.train_channel.k_factor")


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("data, field", [
    ({"num_train": 200001}, "data.num_train"),
    ({"num_test": 200001}, "data.num_test"),
    ({"source": "skimage", "num_train": 9, "num_test": None}, "data.num_train"),
])
def test_image_data_bounds(data, field):
    scenario = _image("image_codec", data=data)
    scenario["data"] = {k: v for k, v in scenario["data"].items() if v is not None}
    _rejects(scenario, field)


def test_image_data_limits_validate():
    parse_scenario(_image("image_codec", data={"num_train": 200000, "num_test": 200000}))


@pytest.mark.parametrize("side", [0, 2049])
def test_photo_crop_bound(side):
    from linksim.data.images import ImageDataset

    with pytest.raises(UserError, match=r"data\.size:"):
        validate_params(ImageDataset, {"source": "skimage", "size": [64, side]}, field="data")
    validate_params(ImageDataset, {"source": "skimage", "size": [2048, 2048]}, field="data")


@pytest.mark.parametrize("params, field, limit", [
    ({"width": 1025}, "params.width", 1024),
    ({"projection_width": 4097}, "params.projection_width", 4096),
    ({"update_every": 10**6 + 1}, "params.update_every", 10**6),
    ({"threads": 1025}, "params.threads", 1024),
    ({"downstream": {"width": 513}}, "params.downstream.width", 512),
    ({"downstream": {"blocks": 65}}, "params.downstream.blocks", 64),
    ({"downstream": {"epochs": 10001}}, "params.downstream.epochs", 10000),
    ({"downstream": {"batch_size": 4097}}, "params.downstream.batch_size", 4096),
    ({"downstream": {"decay_every": 10001}}, "params.downstream.decay_every", 10000),
    ({"downstream": {"threads": 1025}}, "params.downstream.threads", 1024),
    ({"test_downstream": {"blocks": 65}}, "params.test_downstream.blocks", 64),
])
def test_image_jscc_param_bounds(params, field, limit):
    _rejects(_image(params=params), f"systems[0].{field}")
    key = field.split(".")[1:]
    at_limit: Dict[str, Any] = {key[0]: limit} if len(key) == 1 else {key[0]: {key[1]: limit}}
    parse_scenario(_image(params=at_limit))


@pytest.mark.parametrize("training, field", [
    ({"pretrain": {"epochs": 10001, "batch_size": 64, "learning_rate": 1e-3}}, "training.pretrain.epochs"),
    ({"pretrain": {"epochs": 1, "batch_size": 4097, "learning_rate": 1e-3}}, "training.pretrain.batch_size"),
    ({"finetune": {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "decay_every": 10001}},
     "training.finetune.decay_every"),
    ({"num_train": 200001}, "training.num_train"),
    ({"num_train": 21}, "training.num_train"),          # more than data.num_train: 20
    ({"train_snr_db": [10, 0]}, "training.train_snr_db"),
    ({"bogus": 1}, "training.bogus"),
])
def test_image_jscc_training_block(training, field):
    _rejects(_image(training=training), f"systems[0].{field}")


def test_image_jscc_training_limits_validate():
    parse_scenario(_image(training={"pretrain": {"epochs": 10000, "batch_size": 4096, "learning_rate": 1e-3,
                                                 "decay_every": 10000}, "num_train": 20}))


@pytest.mark.parametrize("params, field", [
    ({"pilot_images": 100001}, "params.pilot_images"),
    ({"code_rates": ["1/2"] * 9}, "params.code_rates"),
    ({"orders": [4] * 7}, "params.orders"),
    ({"downstream": {"epochs": 10001}}, "params.downstream.epochs"),
])
def test_image_digital_bounds(params, field):
    _rejects(_image("image_digital", params=params), f"systems[0].{field}")


@pytest.mark.parametrize("kind", ["image_digital", "image_codec"])
def test_untrained_image_systems_reject_a_training_block(kind):
    _rejects(_image(kind, training={"epochs": 3}), "systems[0].training")
