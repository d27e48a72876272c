#!/usr/bin/env python
"""Write the bad-input corpus of tests/test_bad_inputs.py (issue 16).

    python tests/bad_inputs/make_corpus.py          # (re)write scenarios/ and results/
    python tests/bad_inputs/make_corpus.py --check  # exit 1 if the files differ from this script's output

Every file under ``scenarios/`` is one bad scenario: a tiny valid scenario (one of
``BASES`` below, each runs in about a second) with exactly one thing wrong. Its first
line is ``# field: <text the one-line error message must contain>`` (the field path,
or ``.yaml:<line>`` for YAML-level problems), the second ``# why: ...``; optional
further header lines:

* ``# line: none``: the message need not carry a line number (there is none);
* ``# env: NAME=VALUE``: set for both commands (e.g. ``LINKSIM_PLUGINS=toy_plugin``).

``results/`` holds bad ``results.json`` files for ``linksim plot``, listed with their
fields in ``results/manifest.yaml`` and derived from ``results/valid_base.json`` (a real
results file of the ``bits`` base). ``cli.yaml`` (bad command lines) is written by
hand. Cases that need a big file (over 1 MiB) are built by the test at run time.
The committed files are this script's output: edit the script, not the files.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import yaml

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
RESULTS = HERE / "results"

NAN, INF = float("nan"), float("inf")

# --------------------------------------------------------------------------- bases
# Each base validates and runs with `linksim run --quick` in a second or so (the
# learned ones train tiny models on tiny data, but a bad case must fail before that).

BITS: Dict[str, Any] = {
    "name": "tiny_bits",
    "seed": 1,
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "snr_db", "values": [0, 4]},
    "systems": [
        {"label": "QPSK", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "uncoded", "k": 64}}},
    ],
    "metrics": ["ber", "bler"],
    "monte_carlo": {"batch_size": 32, "max_batches": 2, "target_errors": 10,
                    "quick": {"batch_size": 16, "max_batches": 1}},
    "figures": [
        {"file": "tiny_ber.pdf", "y": "ber", "title": "tiny",
         "theory": [{"type": "ber_qam_awgn", "params": {"order": 4}}]},
    ],
    "tables": [{"file": "tiny.csv", "metrics": ["ber"], "format": "{:.3g}"}],
}

BITS2: Dict[str, Any] = {  # two systems, for systems[1] and per-system channels
    **copy.deepcopy(BITS),
    "name": "tiny_bits2",
    "systems": [
        {"label": "QPSK", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "uncoded", "k": 64}}},
        {"label": "16-QAM Rayleigh", "type": "bit_link", "channel": {"type": "rayleigh"},
         "params": {"modulation": 16, "code": {"type": "uncoded", "k": 64}}},
    ],
}


def _bits_with_channel(channel: Dict[str, Any]) -> Dict[str, Any]:
    base = copy.deepcopy(BITS)
    base["name"] = f"tiny_{channel['type']}"
    base["channel"] = channel
    return base


RAYLEIGH = _bits_with_channel({"type": "rayleigh", "coherence": "symbol", "csi": {"type": "imperfect", "error_variance": 0.01}})
RICIAN = _bits_with_channel({"type": "rician", "k_factor": 2.0, "los_phase": 0.0})
MIMO = _bits_with_channel({"type": "mimo", "nt": 2, "nr": 2, "equalizer": "lmmse"})

CODED: Dict[str, Any] = {  # one system per code family
    **copy.deepcopy(BITS),
    "name": "tiny_codes",
    "systems": [
        {"label": "LDPC", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "ldpc5g", "k": 64, "n": 128, "num_iter": 5}}},
        {"label": "Turbo", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "turbo", "k": 40, "num_iter": 2}}},
        {"label": "WiMAX", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "wimax_ldpc", "rate": "1/2", "n": 576, "num_iter": 5}}},
    ],
}

TEXT: Dict[str, Any] = {
    "name": "tiny_text",
    "seed": 1,
    "data": {"type": "babi", "source": "embedded", "tasks": [1], "num_train": 40, "num_valid": 10,
             "num_test": 20, "memory_length": 4, "seed": 0},
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "snr_db", "values": [0, 10]},
    "systems": [
        {"label": "Mem-DeepSC", "type": "memdeepsc",
         "params": {"width": 16, "heads": 2, "ff_width": 16, "encoder_steps": 1, "decoder_steps": 1,
                    "jsc_hidden": 16, "symbols": 8, "importance_width": 8},
         "training": {"preset": "cpu", "max_train": 40}},
        {"label": "Digital", "type": "memdeepsc_digital",
         "params": {"width": 16, "heads": 2, "ff_width": 16, "encoder_steps": 1, "decoder_steps": 1,
                    "jsc_hidden": 16, "code": {"type": "turbo", "k": 40, "num_iter": 2}, "modulation": 16}},
    ],
    "metrics": ["accuracy"],
    "monte_carlo": {"batch_size": 10, "max_batches": 1, "target_errors": None,
                    "quick": {"batch_size": 5, "max_batches": 1}},
    "figures": [{"file": "tiny_text.pdf", "y": "accuracy", "scale": "linear", "ylim": [0, 1]}],
}

IMAGES: Dict[str, Any] = {
    "name": "tiny_images",
    "seed": 1,
    "data": {"type": "images", "source": "embedded", "num_train": 16, "num_test": 8, "seed": 0},
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "bandwidth_ratio", "values": ["1/12", "1/6"], "fixed": {"snr_db": 20}},
    "systems": [
        {"label": "DeepJSCC", "type": "image_jscc", "params": {"method": "deepjscc", "width": 8},
         "training": {"preset": "cpu", "num_train": 16}},
        {"label": "JPEG+LDPC", "type": "image_digital",
         "params": {"codec": "jpeg", "code_rates": ["1/2"], "orders": [4], "select": "fixed", "num_iter": 5}},
    ],
    "metrics": ["psnr"],
    "monte_carlo": {"batch_size": 4, "max_batches": 1, "target_errors": None,
                    "quick": {"batch_size": 2, "max_batches": 1}},
    "figures": [{"file": "tiny_psnr.pdf", "y": "psnr", "scale": "linear", "xscale": "log", "xticks": "fractions"}],
}

CODEC: Dict[str, Any] = {
    "name": "tiny_codec",
    "seed": 1,
    "data": {"type": "images", "source": "embedded", "num_train": 1, "num_test": 4},
    "sweep": {"parameter": "bpp", "values": [1.0, 2.0]},
    "systems": [{"label": "JPEG", "type": "image_codec", "params": {"codec": "jpeg", "chroma": "420"}}],
    "metrics": ["psnr", "bpp"],
    "monte_carlo": {"batch_size": 2, "max_batches": 1, "target_errors": None,
                    "quick": {"batch_size": 2, "max_batches": 1}},
    "tables": [{"file": "tiny_codec.csv", "metrics": ["psnr", "bpp"], "format": "{:.2f}"}],
}

BASES: Dict[str, Dict[str, Any]] = {
    "bits": BITS, "bits2": BITS2, "rayleigh": RAYLEIGH, "rician": RICIAN, "mimo": MIMO, "coded": CODED,
    "text": TEXT, "images": IMAGES, "codec": CODEC,
}

# --------------------------------------------------------------------------- rendering

_DELETE = object()


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), sort_keys=False, allow_unicode=False)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    if text.endswith("..."):
        text = text[:-3].rstrip()
    return text


def render(data: Any) -> str:
    """Block style at the top level, one flow-style line per value (lists of mappings: one item a line)."""
    if not isinstance(data, dict):
        return _flow(data) + "\n"
    lines = []
    for key, value in data.items():
        k = _flow(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{k}:")
            lines.extend(f"  - {_flow(v)}" for v in value)
        else:
            lines.append(f"{k}: {_flow(value)}")
    return "\n".join(lines) + "\n"


Path_ = Tuple[Union[str, int], ...]


def _parse(path: str) -> Path_:
    out: List[Union[str, int]] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def mutate(base: Dict[str, Any], *edits: Tuple[str, Any]) -> Dict[str, Any]:
    """A deep copy of ``base`` with ``(path, value)`` edits; value ``_DELETE`` removes the key."""
    data = copy.deepcopy(base)
    for path, value in edits:
        parts = _parse(path)
        node = data
        for p in parts[:-1]:
            node = node[p]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return data


# --------------------------------------------------------------------------- cases

class Case:
    def __init__(self, slug: str, field: str, why: str, body: Union[str, bytes], *, line: bool = True,
                 env: Optional[str] = None) -> None:
        self.slug, self.field, self.why, self.body, self.line, self.env = slug, field, why, body, line, env

    def header(self) -> str:
        head = f"# field: {self.field}\n# why: {self.why}\n"
        if not self.line:
            head += "# line: none\n"
        if self.env:
            head += f"# env: {self.env}\n"
        return head

    def content(self) -> bytes:
        head = self.header().encode("ascii")
        return head + (self.body if isinstance(self.body, bytes) else self.body.encode("utf-8"))


CASES: List[Case] = []


def case(slug: str, field: str, why: str, base: str, *edits: Tuple[str, Any], **kw: Any) -> None:
    CASES.append(Case(slug, field, why, render(mutate(BASES[base], *edits)), **kw))


def raw(slug: str, field: str, why: str, body: Union[str, bytes], **kw: Any) -> None:
    CASES.append(Case(slug, field, why, body, **kw))


D = _DELETE

# ---- name, description, top level ------------------------------------------------
case("name_missing", "name", "name is required", "bits", ("name", D))
case("name_empty", "name", "empty name", "bits", ("name", ""))
case("name_slash", "name", "a name with a slash would escape runs/", "bits", ("name", "a/b"))
case("name_dotdot", "name", "path traversal in the name", "bits", ("name", "../../etc"))
case("name_int", "name", "a number, not a string", "bits", ("name", 123))
case("name_list", "name", "a list, not a string", "bits", ("name", ["a", "b"]))
case("name_null", "name", "null name", "bits", ("name", None))
case("name_too_long", "name", "a 300-character name cannot be a folder name (runs/<name>)", "bits", ("name", "n" * 300))
case("description_list", "description", "description must be text", "bits", ("description", [1, 2]))
case("top_unknown_key", "sytems", "misspelt top-level key", "bits", ("sytems", []))
case("systems_missing", "systems", "no systems", "bits", ("systems", D))
case("systems_empty", "systems", "empty systems list", "bits", ("systems", []))
case("systems_mapping", "systems", "systems is a mapping, not a list", "bits", ("systems", {"label": "a", "type": "bit_link"}))
case("metrics_missing", "metrics", "no metrics", "bits", ("metrics", D))
case("metrics_empty", "metrics", "empty metrics list", "bits", ("metrics", []))
case("metrics_string", "metrics", "a string, not a list", "bits", ("metrics", "ber"))

# ---- seed, device -----------------------------------------------------------------
case("seed_negative", "seed", "seed < 0", "bits", ("seed", -1))
case("seed_too_big", "seed", "seed >= 2**63", "bits", ("seed", 2**63))
case("seed_bool", "seed", "a boolean is not a seed", "bits", ("seed", True))
case("seed_float", "seed", "fractional seed", "bits", ("seed", 1.5))
case("seed_string", "seed", "not a number", "bits", ("seed", "abc"))
case("seed_nan", "seed", "NaN seed", "bits", ("seed", NAN))
case("seed_huge", "seed", "a 100-digit seed", "bits", ("seed", 10**100))
case("device_tpu", "device", "no such device", "bits", ("device", "tpu"))
case("device_upper", "device", "device names are lower case", "bits", ("device", "CUDA"))
case("device_int", "device", "a number, not a device", "bits", ("device", 0))
case("device_list", "device", "a list, not a device", "bits", ("device", ["cpu"]))

# ---- data: babi ---------------------------------------------------------------------
case("babi_type_missing", "data.type", "data without a type", "text", ("data.type", D))
case("babi_type_unknown", "data.type", "no such dataset", "text", ("data.type", "wikipedia"))
case("babi_type_os_system", "data.type", "an import path to os.system is not a dataset", "text", ("data", {"type": "os:system"}))
case("babi_type_print", "data.type", "builtins.print is not a dataset", "text", ("data", {"type": "builtins:print"}))
case("babi_type_images", "data.type", "memdeepsc needs bAbI, not images", "text", ("data", {"type": "images"}))
case("babi_data_string", "data", "data must be a mapping", "text", ("data", "babi"))
case("babi_source", "data.source", "no such bAbI source", "text", ("data.source", "wikipedia"))
case("babi_tasks_zero", "data.tasks", "bAbI tasks are 1..20", "text", ("data.tasks", [0]))
case("babi_tasks_21", "data.tasks", "bAbI tasks are 1..20", "text", ("data.tasks", [21]))
case("babi_tasks_empty", "data.tasks", "no task", "text", ("data.tasks", []))
case("babi_num_train_zero", "data.num_train", "no training questions", "text", ("data.num_train", 0))
case("babi_num_train_huge", "data.num_train", "10**12 generated questions exhaust memory", "text", ("data.num_train", 10**12))
case("babi_num_test_huge", "data.num_test", "10**9 generated test questions exhaust memory", "text", ("data.num_test", 1000000000))
case("babi_num_test_float", "data.num_test", "fractional count", "text", ("data.num_test", 1.5))
case("babi_num_train_inf", "data.num_train", "infinite count", "text", ("data.num_train", INF))
case("babi_num_valid_negative", "data.num_valid", "negative count", "text", ("data.num_valid", -1))
case("babi_memory_length_zero", "data.memory_length", "memory of no sentence", "text", ("data.memory_length", 0))
case("babi_memory_length_huge", "data.memory_length", "a memory of 10**9 sentences", "text", ("data.memory_length", 10**9))
case("babi_seed_bool", "data.seed", "a boolean is not a seed", "text", ("data.seed", True))
case("babi_seed_nan", "data.seed", "NaN seed", "text", ("data.seed", NAN))
case("babi_path_int", "data.path", "a number is not a path", "text", ("data.path", 123))
case("babi_unknown_key", "data.shuffle", "unknown dataset parameter", "text", ("data.shuffle", True))

# ---- data: images --------------------------------------------------------------------
case("images_source", "data.source", "no such image source", "images", ("data.source", "imagenet"))
case("images_num_train_zero", "data.num_train", "no training images", "images", ("data.num_train", 0))
case("images_num_test_huge", "data.num_test", "10**9 generated test images exhaust memory", "images", ("data.num_test", 1000000000))
case("images_num_train_bool", "data.num_train", "a boolean is not a count", "images", ("data.num_train", True))
case("images_size_zero", "data.size", "0x0 crop", "images", ("data.source", "skimage"), ("data.size", [0, 0]))
case("images_size_huge", "data.size", "a 100000x100000 crop exhausts memory", "images", ("data.source", "skimage"), ("data.size", [100000, 100000]))
case("images_size_one", "data.size", "size needs (H, W)", "images", ("data.source", "skimage"), ("data.size", [32]))
case("images_size_nan", "data.size", "NaN height", "images", ("data.source", "skimage"), ("data.size", [NAN, 32]))
case("images_seed_negative", "data.seed", "negative generator seed", "images", ("data.seed", -5))
case("images_download_word", "data.download", "not a boolean", "images", ("data.download", "perhaps"))
case("images_type_babi", "data.type", "image systems need images, not bAbI", "images", ("data", {"type": "babi"}))
case("images_unknown_key", "data.resolution", "unknown dataset parameter", "images", ("data.resolution", 32))

# ---- channel ----------------------------------------------------------------------------
case("channel_type_unknown", "channel.type", "no such channel", "bits", ("channel.type", "optical"))
case("channel_type_missing", "channel.type", "channel without a type", "bits", ("channel", {}))
case("channel_string", "channel", "channel must be a mapping", "bits", ("channel", "awgn"))
case("channel_type_os_system", "channel.type", "os.system is not a channel", "bits", ("channel.type", "os:system"))
case("channel_type_print", "channel.type", "builtins.print is not a channel", "bits", ("channel.type", "builtins:print"))
case("channel_type_subprocess", "channel.type", "subprocess.run is not a channel", "bits", ("channel.type", "subprocess:run"))
case("channel_type_sentinel", "channel.type", "a Channel subclass from a module that is not an allowed plugin", "bits", ("channel.type", "corpus_sentinel:SentinelChannel"))
case("channel_type_int", "channel.type", "a number is not a channel name", "bits", ("channel.type", 5))
case("awgn_unknown_param", "channel.snr", "AWGN has no parameters", "bits", ("channel.snr", 3))
case("awgn_k_factor", "channel.k_factor", "k_factor belongs to rician", "bits", ("channel.k_factor", 2.0))
case("rayleigh_coherence_zero", "channel.coherence", "coherence of 0 channel uses", "rayleigh", ("channel.coherence", 0))
case("rayleigh_coherence_negative", "channel.coherence", "negative coherence", "rayleigh", ("channel.coherence", -3))
case("rayleigh_coherence_float", "channel.coherence", "fractional coherence", "rayleigh", ("channel.coherence", 1.5))
case("rayleigh_coherence_bool", "channel.coherence", "a boolean is not a coherence", "rayleigh", ("channel.coherence", True))
case("rayleigh_coherence_word", "channel.coherence", "no such coherence", "rayleigh", ("channel.coherence", "frame"))
case("rayleigh_csi_no_variance", "channel.csi", "imperfect CSI needs error_variance", "rayleigh", ("channel.csi", {"type": "imperfect"}))
case("rayleigh_csi_negative", "channel.csi", "negative error variance", "rayleigh", ("channel.csi.error_variance", -0.1))
case("rayleigh_csi_nan", "channel.csi", "NaN error variance", "rayleigh", ("channel.csi.error_variance", NAN))
case("rayleigh_csi_inf", "channel.csi", "infinite error variance", "rayleigh", ("channel.csi.error_variance", INF))
case("rayleigh_csi_type", "channel.csi", "no such CSI type", "rayleigh", ("channel.csi", {"type": "oracle"}))
case("rayleigh_csi_word", "channel.csi", "no such CSI shorthand", "rayleigh", ("channel.csi", "perfectish"))
case("rayleigh_csi_int", "channel.csi", "a number is not a CSI", "rayleigh", ("channel.csi", 5))
case("rayleigh_csi_unknown_key", "channel.csi", "unknown key in the CSI", "rayleigh", ("channel.csi.bias", 0.1))
case("rayleigh_unknown_key", "channel.doppler", "unknown channel parameter", "rayleigh", ("channel.doppler", 10))
case("rician_k_missing", "channel.k_factor", "k_factor is required", "rician", ("channel.k_factor", D))
case("rician_k_negative", "channel.k_factor", "negative K", "rician", ("channel.k_factor", -1))
case("rician_k_nan", "channel.k_factor", "NaN K", "rician", ("channel.k_factor", NAN))
case("rician_k_inf", "channel.k_factor", "infinite K", "rician", ("channel.k_factor", INF))
case("rician_k_word", "channel.k_factor", "not a number", "rician", ("channel.k_factor", "high"))
case("rician_k_bool", "channel.k_factor", "a boolean is not a K factor", "rician", ("channel.k_factor", True))
case("rician_phase_inf", "channel.los_phase", "infinite LOS phase", "rician", ("channel.los_phase", INF))
case("mimo_nt_missing", "channel.nt", "nt is required", "mimo", ("channel.nt", D))
case("mimo_nt_zero", "channel.nt", "no transmit antenna", "mimo", ("channel.nt", 0))
case("mimo_nt_huge", "channel.nt", "100000 antennas exhaust memory", "mimo", ("channel.nt", 100000), ("channel.nr", 100000))
case("mimo_nr_huge", "channel.nr", "100000 receive antennas exhaust memory", "mimo", ("channel.nr", 100000))
case("mimo_nt_float", "channel.nt", "fractional antenna count", "mimo", ("channel.nt", 2.0))
case("mimo_nt_bool", "channel.nt", "a boolean is not an antenna count", "mimo", ("channel.nt", True))
case("mimo_equalizer", "channel.equalizer", "no such equalizer", "mimo", ("channel.equalizer", "mmse"))
case("mimo_zf_too_few_rx", "channel.equalizer", "ZF needs nr >= nt", "mimo", ("channel.nt", 4), ("channel.equalizer", "zf"))
case("mimo_csi_nan", "channel.csi", "NaN error variance on MIMO", "mimo", ("channel.csi", {"type": "imperfect", "error_variance": NAN}))
case("system_channel_rician_k", "systems[0].channel.k_factor", "per-system channel with negative K", "bits", ("systems[0].channel", {"type": "rician", "k_factor": -2}))
case("system1_channel_k", "systems[1].channel.k_factor", "second system's Rician channel has K = NaN", "bits2", ("systems[1].channel", {"type": "rician", "k_factor": NAN}))
case("system1_channel_mimo_huge", "systems[1].channel.nt", "second system's MIMO channel of 100000 antennas", "bits2", ("systems[1].channel", {"type": "mimo", "nt": 100000, "nr": 100000}))
case("system1_channel_os_system", "systems[1].channel.type", "os.system as a per-system channel", "bits2", ("systems[1].channel", {"type": "os:system"}))
case("system_channel_list", "systems[0].channel", "per-system channel is a list", "bits", ("systems[0].channel", []))
case("system1_channel_coherence", "systems[1].channel.coherence", "coherence 0 on the second system", "bits2", ("systems[1].channel.coherence", 0))

# ---- sweep ------------------------------------------------------------------------------
case("sweep_parameter_space", "sweep.parameter", "not an identifier", "bits", ("sweep.parameter", "snr db"))
case("sweep_parameter_not_taken", "sweep.parameter", "bit_link does not take bandwidth_ratio", "bits", ("sweep.parameter", "bandwidth_ratio"))
case("sweep_parameter_memdeepsc", "sweep.parameter", "memdeepsc does not take ebno_db", "text", ("sweep.parameter", "ebno_db"))
case("sweep_values_empty", "sweep.values", "no sweep value", "bits", ("sweep.values", []))
case("sweep_values_nan", "sweep.values[0]", "NaN sweep value", "bits", ("sweep.values", [NAN]))
case("sweep_values_inf", "sweep.values[1]", "infinite sweep value", "bits", ("sweep.values", [0, INF]))
case("sweep_values_minus_inf", "sweep.values[1]", "-inf sweep value", "bits", ("sweep.values", [0, -INF]))
case("sweep_values_word", "sweep.values[0]", "not a number", "bits", ("sweep.values", ["abc"]))
case("sweep_values_div_zero", "sweep.values[0]", "fraction with denominator 0", "bits", ("sweep.values", ["1/0"]))
case("sweep_values_bool", "sweep.values[0]", "a boolean is not a sweep value", "bits", ("sweep.values", [True]))
case("sweep_values_nested", "sweep.values[0]", "a list inside the values", "bits", ("sweep.values", [[1, 2]]))
case("sweep_values_scalar", "sweep.values", "values must be a list", "bits", ("sweep.values", 5))
case("sweep_values_huge_snr", "sweep.values[0]", "-1e308 dB overflows 10**(-snr/10)", "bits", ("sweep.values", [-1.0e308]))
case("sweep_values_too_many", "sweep.values", "2000 sweep points (more than the limit)", "bits", ("sweep.values", list(range(2000))))
case("sweep_values_and_range", "sweep", "values and start/stop/step together", "bits", ("sweep.start", 0), ("sweep.stop", 4), ("sweep.step", 2))
case("sweep_start_only", "sweep", "start without stop and step", "bits", ("sweep", {"parameter": "snr_db", "start": 0}))
case("sweep_stop_below_start", "sweep", "stop < start", "bits", ("sweep", {"parameter": "snr_db", "start": 4, "stop": 0, "step": 1}))
case("sweep_step_zero", "sweep.step", "step 0", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 4, "step": 0}))
case("sweep_step_negative", "sweep.step", "negative step", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 4, "step": -1}))
case("sweep_step_tiny", "sweep.step", "step 1e-300: ~1e300 points (validate hangs)", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 1, "step": 1.0e-300}))
case("sweep_step_denormal", "sweep.step", "step 5e-324 overflows the point count", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 1, "step": 5e-324}))
case("sweep_step_small", "sweep.step", "10 million points", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 10000, "step": 0.001}))
case("sweep_stop_inf", "sweep.stop", "infinite stop", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": INF, "step": 1}))
case("sweep_start_minus_inf", "sweep.start", "-inf start", "bits", ("sweep", {"parameter": "snr_db", "start": -INF, "stop": 4, "step": 1}))
case("sweep_start_nan", "sweep.start", "NaN start", "bits", ("sweep", {"parameter": "snr_db", "start": NAN, "stop": 4, "step": 1}))
case("sweep_step_nan", "sweep.step", "NaN step", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 4, "step": NAN}))
case("sweep_step_bool", "sweep.step", "a boolean step", "bits", ("sweep", {"parameter": "snr_db", "start": 0, "stop": 4, "step": True}))
case("sweep_fixed_swept", "sweep.fixed", "snr_db both swept and fixed", "bits", ("sweep.fixed", {"snr_db": 3}))
case("sweep_fixed_not_taken", "sweep.fixed.bandwidth_ratio", "bit_link does not take bandwidth_ratio", "bits", ("sweep.fixed", {"bandwidth_ratio": 0.5}))
case("sweep_fixed_nan", "sweep.fixed.snr_db", "NaN fixed SNR", "images", ("sweep.fixed.snr_db", NAN))
case("sweep_fixed_inf", "sweep.fixed.snr_db", "infinite fixed SNR", "images", ("sweep.fixed.snr_db", INF))
case("sweep_fixed_list", "sweep.fixed", "fixed must be a mapping", "bits", ("sweep.fixed", [1, 2]))
case("sweep_unknown_key", "sweep.steps", "misspelt sweep key", "bits", ("sweep.steps", 2))
case("sweep_ratio_zero", "sweep", "bandwidth ratio 0 gives no symbol", "images", ("sweep.values", [0]))
case("sweep_ratio_above_one", "sweep", "bandwidth ratio 2 (> 1)", "images", ("sweep.values", [2]))
case("sweep_bpp_negative", "sweep", "negative bits per pixel", "codec", ("sweep.values", [-1]))
case("sweep_codec_snr", "sweep.parameter", "image_codec sweeps bpp, not snr_db", "codec", ("sweep.parameter", "snr_db"))
case("sweep_images_no_snr", "train_snr_db", "no SNR anywhere for the learned image link", "images", ("sweep.fixed", {}))

# ---- systems (common) -----------------------------------------------------------------
case("system_label_missing", "systems[0].label", "label is required", "bits", ("systems[0].label", D))
case("system_label_empty", "systems[0].label", "empty label", "bits", ("systems[0].label", ""))
case("system_label_int", "systems[0].label", "a number is not a label", "bits", ("systems[0].label", 5))
case("system_label_duplicate", "systems[1].label", "two systems with one label", "bits2", ("systems[1].label", "QPSK"))
case("system_type_missing", "systems[0].type", "type is required", "bits", ("systems[0].type", D))
case("system_type_unknown", "systems[0].type", "no such system", "bits", ("systems[0].type", "bitlink"))
case("system_type_os_system", "systems[0].type", "os.system is not a system", "bits", ("systems[0].type", "os:system"))
case("system_type_print", "systems[0].type", "builtins.print is not a system", "bits", ("systems[0].type", "builtins:print"))
case("system_type_subprocess", "systems[0].type", "subprocess.run is not a system", "bits", ("systems[0].type", "subprocess:run"))
case("system_type_pickle", "systems[0].type", "pickle.loads is not a system", "bits", ("systems[0].type", "pickle:loads"))
case("system_type_os_abort", "systems[0].type", "os.abort is not a system", "bits", ("systems[0].type", "os:abort"))
case("system_type_ordered_dict", "systems[0].type", "a class, but not a System", "bits", ("systems[0].type", "collections:OrderedDict"))
case("system_type_colon", "systems[0].type", "an empty import path", "bits", ("systems[0].type", ":"))
case("system_type_no_module", "systems[0].type", "a module that does not exist", "bits", ("systems[0].type", "no_such_module_xyz:Foo"))
case("system_type_int", "systems[0].type", "a number is not a type", "bits", ("systems[0].type", 5))
case("system_type_toy_not_allowed", "systems[0].type", "a plugin System the user did not allow", "bits",
     ("systems[0]", {"label": "coin", "type": "toy_plugin:ToyCoin", "params": {"scale": 10}}), ("metrics", ["ber"]),
     ("tables", [{"file": "tiny.csv", "metrics": ["ber"]}]))
case("system_type_sentinel", "systems[0].type", "a System subclass from a module that is not an allowed plugin", "bits",
     ("systems[0]", {"label": "s", "type": "corpus_sentinel:SentinelSystem"}), ("metrics", ["ber"]),
     ("tables", [{"file": "tiny.csv", "metrics": ["ber"]}]))
case("system_params_list", "systems[0].params", "params must be a mapping", "bits", ("systems[0].params", []))
case("system_params_string", "systems[0].params", "params must be a mapping", "bits", ("systems[0].params", "x"))
case("system_unknown_key", "systems[0].parms", "misspelt system key", "bits", ("systems[0].parms", {}))
case("system_int", "systems[0]", "a number instead of a system", "bits", ("systems", [5]))
case("system_string", "systems[0]", "a name instead of a system mapping", "bits", ("systems", ["bit_link"]))
case("system_null", "systems[0]", "a null system", "bits", ("systems", [None]))

# ---- bit_link ------------------------------------------------------------------------------
case("bit_modulation_12", "systems[0].params.modulation", "12-QAM does not exist", "bits", ("systems[0].params.modulation", 12))
case("bit_modulation_zero", "systems[0].params.modulation", "order 0", "bits", ("systems[0].params.modulation", 0))
case("bit_modulation_negative", "systems[0].params.modulation", "negative order", "bits", ("systems[0].params.modulation", -4))
case("bit_modulation_float", "systems[0].params.modulation", "fractional order", "bits", ("systems[0].params.modulation", 4.5))
case("bit_modulation_bool", "systems[0].params.modulation", "a boolean is not an order", "bits", ("systems[0].params.modulation", True))
case("bit_modulation_word", "systems[0].params.modulation", "not a number", "bits", ("systems[0].params.modulation", "sixteen"))
case("bit_modulation_huge", "systems[0].params.modulation", "2**40-QAM", "bits", ("systems[0].params.modulation", 2**40))
case("bit_demapping", "systems[0].params.demapping", "no such demapper", "bits", ("systems[0].params.demapping", "exact"))
case("bit_unknown_param", "systems[0].params.interleaver", "unknown bit_link parameter", "bits", ("systems[0].params.interleaver", True))
case("bit_code_no_type", "systems[0].params.code", "code without a type", "bits", ("systems[0].params.code", {"k": 64}))
case("bit_code_unknown", "systems[0].params.code.type", "no such code", "bits", ("systems[0].params.code.type", "polar"))
case("bit_code_string", "systems[0].params.code", "code must be a mapping", "bits", ("systems[0].params.code", "uncoded"))
case("bit_code_os_system", "systems[0].params.code.type", "os.system is not a code", "bits", ("systems[0].params.code", {"type": "os:system"}))
case("bit_code_print", "systems[0].params.code.type", "builtins.print is not a code", "bits", ("systems[0].params.code", {"type": "builtins:print"}))
case("bit_code_sentinel", "systems[0].params.code.type", "a ChannelCode from a module that is not an allowed plugin", "bits", ("systems[0].params.code", {"type": "corpus_sentinel:SentinelCode"}))
case("uncoded_k_zero", "systems[0].params.code.k", "k = 0", "bits", ("systems[0].params.code.k", 0))
case("uncoded_k_huge", "systems[0].params.code.k", "k = 10**12 bits per block exhausts memory", "bits", ("systems[0].params.code.k", 1000000000000))
case("uncoded_k_negative", "systems[0].params.code.k", "negative k", "bits", ("systems[0].params.code.k", -5))
case("uncoded_k_nan", "systems[0].params.code.k", "NaN k", "bits", ("systems[0].params.code.k", NAN))
case("uncoded_k_bool", "systems[0].params.code.k", "a boolean is not a block length", "bits", ("systems[0].params.code.k", True))
case("uncoded_n", "systems[0].params.code.n", "uncoded has no n", "bits", ("systems[0].params.code.n", 10))
case("ldpc5g_k_small", "systems[0].params.code.k", "5G LDPC k < 12", "coded", ("systems[0].params.code.k", 11))
case("ldpc5g_rate", "systems[0].params.code", "5G LDPC rate k/n = 125/128 above 0.95", "coded", ("systems[0].params.code.k", 125))
case("ldpc5g_iter_zero", "systems[0].params.code.num_iter", "no BP iteration", "coded", ("systems[0].params.code.num_iter", 0))
case("ldpc5g_iter_huge", "systems[0].params.code.num_iter", "10**9 BP iterations", "coded", ("systems[0].params.code.num_iter", 10**9))
case("ldpc5g_cn_update", "systems[0].params.code.cn_update", "no such check-node update", "coded", ("systems[0].params.code.cn_update", "magic"))
case("ldpc5g_n_huge", "systems[0].params.code.n", "n beyond the 5G lifting sizes", "coded", ("systems[0].params.code.n", 10**9))
case("turbo_k_not_qpp", "systems[1].params.code.k", "41 is not an LTE QPP block size", "coded", ("systems[1].params.code.k", 41))
case("turbo_k_huge", "systems[1].params.code.k", "k = 10**12", "coded", ("systems[1].params.code.k", 1000000000000))
case("turbo_iter_zero", "systems[1].params.code.num_iter", "no Turbo iteration", "coded", ("systems[1].params.code.num_iter", 0))
case("turbo_algorithm", "systems[1].params.code.algorithm", "no such decoder", "coded", ("systems[1].params.code.algorithm", "viterbi"))
case("wimax_rate", "systems[2].params.code.rate", "no 7/8 WiMAX code", "coded", ("systems[2].params.code.rate", "7/8"))
case("wimax_rate_float", "systems[2].params.code.rate", "rate as a float, not one of the names", "coded", ("systems[2].params.code.rate", 0.5))
case("wimax_n", "systems[2].params.code.n", "1000 is not a WiMAX length", "coded", ("systems[2].params.code.n", 1000))
case("wimax_n_huge", "systems[2].params.code.n", "n = 10**12", "coded", ("systems[2].params.code.n", 1000000000000))
case("bit_training_unknown", "systems[0].training", "bit_link trains nothing: training keys are unknown", "bits", ("systems[0].training", {"epochs": 3}))
case("bit_training_scalar", "systems[0].training", "training must be a mapping", "bits", ("systems[0].training", 5))

# ---- memdeepsc --------------------------------------------------------------------------------
case("mem_width_small", "systems[0].params.width", "width below 8", "text", ("systems[0].params.width", 6))
case("mem_width_odd", "systems[0].params.width", "odd width", "text", ("systems[0].params.width", 15))
case("mem_width_huge", "systems[0].params.width", "width 100000", "text", ("systems[0].params.width", 100000))
case("mem_heads_zero", "systems[0].params.heads", "no attention head", "text", ("systems[0].params.heads", 0))
case("mem_heads_not_dividing", "systems[0].params.heads", "3 heads do not divide width 16", "text", ("systems[0].params.heads", 3))
case("mem_dropout_one", "systems[0].params.dropout", "dropout 1", "text", ("systems[0].params.dropout", 1.0))
case("mem_dropout_nan", "systems[0].params.dropout", "NaN dropout", "text", ("systems[0].params.dropout", NAN))
case("mem_symbols_zero", "systems[0].params.symbols", "no symbol per sentence", "text", ("systems[0].params.symbols", 0))
case("mem_mask", "systems[0].params.mask", "no such mask", "text", ("systems[0].params.mask", "everything"))
case("mem_mask_l1_zero", "systems[0].params.mask_l1", "keeps no symbol", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.mask_l1", 0))
case("mem_mask_l1_above", "systems[0].params.mask_l1", "keeps more symbols than sent", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.mask_l1", 100))
case("mem_keep_ratio_zero", "systems[0].params.keep_ratio", "keep ratio 0", "text", ("systems[0].params.mask", "random"), ("systems[0].params.keep_ratio", 0))
case("mem_keep_ratio_above", "systems[0].params.keep_ratio", "keep ratio 1.5", "text", ("systems[0].params.mask", "random"), ("systems[0].params.keep_ratio", 1.5))
case("mem_eq15_mu_inf", "systems[0].params.eq15.mu_max", "infinite mu_max", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.eq15", {"mu_max": INF}))
case("mem_eq15_sigma_zero", "systems[0].params.eq15.sigma_m2", "sigma_m2 = 0", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.eq15", {"sigma_m2": 0}))
case("mem_eq15_rounding", "systems[0].params.eq15.rounding", "no such rounding", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.eq15", {"rounding": "floor"}))
case("mem_eq15_min_symbols_zero", "systems[0].params.eq15.min_symbols", "L_min = 0", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.eq15", {"min_symbols": 0}))
case("mem_position_overhead", "systems[0].params.position_overhead", "no such position coding", "text", ("systems[0].params.mask", "importance"), ("systems[0].params.position_overhead", "huffman"))
case("mem_train_channel_unknown", "systems[0].params.train_channel", "no such training channel", "text", ("systems[0].params.train_channel", {"type": "optical"}))
case("mem_train_channel_k", "systems[0].params.train_channel.k_factor", "training channel with negative K", "text", ("systems[0].params.train_channel", {"type": "rician", "k_factor": -1}))
case("mem_train_channel_os_system", "systems[0].params.train_channel", "os.system as the training channel", "text", ("systems[0].params.train_channel", {"type": "os:system"}))
case("mem_threads_zero", "systems[0].params.threads", "0 threads", "text", ("systems[0].params.threads", 0))
case("mem_threads_huge", "systems[0].params.threads", "100000 threads", "text", ("systems[0].params.threads", 100000))
case("mem_memory_int", "systems[0].params.memory", "5 is not a boolean", "text", ("systems[0].params.memory", 5))
case("mem_variant", "systems[0].params.variant", "no such variant", "text", ("systems[0].params.variant", "both"))
case("mem_ff_width_huge", "systems[0].params.ff_width", "ff_width 10**9", "text", ("systems[0].params.ff_width", 10**9))
case("mem_training_preset", "systems[0].training.preset", "no such preset", "text", ("systems[0].training.preset", "gpu"))
case("mem_training_batch_zero", "systems[0].training.semantic.batch_size", "batch of 0", "text", ("systems[0].training.semantic", {"batch_size": 0, "learning_rate": 1e-3, "epochs": 1}))
case("mem_training_batch_huge", "systems[0].training.semantic.batch_size", "a batch of 10**12 sentences", "text", ("systems[0].training.semantic", {"batch_size": 10**12, "learning_rate": 1e-3, "epochs": 1}))
case("mem_training_lr_nan", "systems[0].training.semantic.learning_rate", "NaN learning rate", "text", ("systems[0].training.semantic", {"batch_size": 8, "learning_rate": NAN, "epochs": 1}))
case("mem_training_epochs_negative", "systems[0].training.channel.epochs", "negative epochs", "text", ("systems[0].training.channel", {"batch_size": 8, "learning_rate": 1e-3, "epochs": -1}))
case("mem_training_epochs_huge", "systems[0].training.whole.epochs", "10**12 epochs", "text", ("systems[0].training.whole", {"batch_size": 8, "learning_rate": 1e-3, "epochs": 10**12}))
case("mem_training_stage_missing", "systems[0].training.importance", "a stage without its fields", "text", ("systems[0].training.importance", {"epochs": 1}))
case("mem_training_snr_reversed", "systems[0].training.train_snr_db", "[hi, lo]", "text", ("systems[0].training.train_snr_db", [18, 0]))
case("mem_training_snr_nan", "systems[0].training.train_snr_db", "NaN training SNR", "text", ("systems[0].training.train_snr_db", NAN))
case("mem_training_max_train_zero", "systems[0].training.max_train", "train on 0 questions", "text", ("systems[0].training.max_train", 0))
case("mem_training_l1_range", "systems[0].training.mask_l1_range", "L1 range from 0", "text", ("systems[0].training.mask_l1_range", [0, 5]))
case("mem_training_unknown", "systems[0].training.epochs", "unknown training key", "text", ("systems[0].training.epochs", 3))
case("mem_training_list", "systems[0].training", "training must be a mapping", "text", ("systems[0].training", []))
case("memdig_modulation", "systems[1].params.modulation", "12-QAM", "text", ("systems[1].params.modulation", 12))
case("memdig_code_k", "systems[1].params.code.k", "Turbo k = 41", "text", ("systems[1].params.code.k", 41))
case("memdig_code_os_system", "systems[1].params.code.type", "os.system as the digital code", "text", ("systems[1].params.code", {"type": "os:system"}))
case("memdig_mask", "systems[1].params.mask", "the digital baseline has no mask", "text", ("systems[1].params.mask", "importance"))
case("memdig_variant", "systems[1].params.variant", "the digital baseline has no variant", "text", ("systems[1].params.variant", "separate"))
case("memdig_amc_empty", "systems[1].params.amc", "an AMC table without entries", "text", ("systems[1].params.amc", {"entries": []}))
case("memdig_amc_scalar", "systems[1].params.amc", "AMC must be a mapping", "text", ("systems[1].params.amc", 5))
case("memdig_amc_order", "systems[1].params.amc.entries[0].order", "AMC entry with 12-QAM", "text", ("systems[1].params.amc", {"entries": [{"code": {"type": "turbo", "k": 40}, "order": 12, "min_snr_db": 0}]}))
case("memdig_amc_snr_nan", "systems[1].params.amc.entries[0].min_snr_db", "AMC threshold NaN", "text", ("systems[1].params.amc", {"entries": [{"code": {"type": "turbo", "k": 40}, "order": 4, "min_snr_db": NAN}]}))
case("memdig_training_unknown", "systems[1].training", "unknown training key on the digital baseline", "text", ("systems[1].training", {"epochs": 3}))

# ---- image_jscc ---------------------------------------------------------------------------------
case("jscc_method_missing", "systems[0].params.method", "method is required", "images", ("systems[0].params.method", D))
case("jscc_method", "systems[0].params.method", "no such method", "images", ("systems[0].params.method", "jpeg"))
case("jscc_ratio_zero", "systems[0].params.bandwidth_ratio", "ratio 0", "images", ("systems[0].params.bandwidth_ratio", 0))
case("jscc_ratio_two", "systems[0].params.bandwidth_ratio", "ratio above 1", "images", ("systems[0].params.bandwidth_ratio", 2))
case("jscc_width_small", "systems[0].params.width", "width 2", "images", ("systems[0].params.width", 2))
case("jscc_width_huge", "systems[0].params.width", "100000 feature maps", "images", ("systems[0].params.width", 100000))
case("jscc_alpha1", "systems[0].params.alpha1", "alpha1 above 1", "images", ("systems[0].params.alpha1", 1.5))
case("jscc_alpha2", "systems[0].params.alpha2", "negative alpha2", "images", ("systems[0].params.alpha2", -0.1))
case("jscc_temperature_zero", "systems[0].params.temperature", "temperature 0", "images", ("systems[0].params.temperature", 0))
case("jscc_temperature_inf", "systems[0].params.temperature", "infinite temperature", "images", ("systems[0].params.temperature", INF))
case("jscc_projection_small", "systems[0].params.projection_width", "projection width 1", "images", ("systems[0].params.projection_width", 1))
case("jscc_projection_huge", "systems[0].params.projection_width", "projection width 10**9", "images", ("systems[0].params.projection_width", 10**9))
case("jscc_beta", "systems[0].params.beta", "beta 2", "images", ("systems[0].params.beta", 2))
case("jscc_update_every", "systems[0].params.update_every", "update every 0 steps", "images", ("systems[0].params.update_every", 0))
case("jscc_finetune_word", "systems[0].params.finetune", "not a boolean", "images", ("systems[0].params.finetune", "perhaps"))
case("jscc_downstream_width", "systems[0].params.downstream.width", "classifier width 2", "images", ("systems[0].params.downstream", {"width": 2}))
case("jscc_downstream_epochs", "systems[0].params.downstream.epochs", "classifier trained 0 epochs", "images", ("systems[0].params.downstream", {"epochs": 0}))
case("jscc_downstream_batch", "systems[0].params.downstream.batch_size", "classifier batch 1", "images", ("systems[0].params.downstream", {"batch_size": 1}))
case("jscc_downstream_lr", "systems[0].params.downstream.learning_rate", "infinite classifier learning rate", "images", ("systems[0].params.downstream", {"learning_rate": INF}))
case("jscc_downstream_blocks", "systems[0].params.downstream.blocks", "10**6 residual blocks", "images", ("systems[0].params.downstream", {"blocks": 10**6}))
case("jscc_downstream_unknown", "systems[0].params.downstream.depth", "unknown classifier key", "images", ("systems[0].params.downstream", {"depth": 20}))
case("jscc_test_downstream", "systems[0].params.test_downstream.width", "test classifier width 1", "images", ("systems[0].params.test_downstream", {"width": 1}))
case("jscc_threads_zero", "systems[0].params.threads", "0 threads", "images", ("systems[0].params.threads", 0))
case("jscc_mimo", "channel", "image_jscc needs a SISO channel", "images", ("channel", {"type": "mimo", "nt": 2, "nr": 2}))
case("jscc_training_preset", "systems[0].training.preset", "no such preset", "images", ("systems[0].training.preset", "fast"))
case("jscc_training_batch", "systems[0].training.pretrain.batch_size", "training batch 1", "images", ("systems[0].training.pretrain", {"epochs": 1, "batch_size": 1, "learning_rate": 1e-3}))
case("jscc_training_epochs_negative", "systems[0].training.pretrain.epochs", "negative epochs", "images", ("systems[0].training.pretrain", {"epochs": -1, "batch_size": 8, "learning_rate": 1e-3}))
case("jscc_training_epochs_huge", "systems[0].training.pretrain.epochs", "10**12 epochs", "images", ("systems[0].training.pretrain", {"epochs": 10**12, "batch_size": 8, "learning_rate": 1e-3}))
case("jscc_training_lr_nan", "systems[0].training.finetune.learning_rate", "NaN learning rate", "images", ("systems[0].training.finetune", {"epochs": 1, "batch_size": 8, "learning_rate": NAN}))
case("jscc_training_decay_zero", "systems[0].training.finetune.decay_factor", "decay factor 0", "images", ("systems[0].training.finetune", {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "decay_factor": 0}))
case("jscc_training_num_train", "systems[0].training.num_train", "train on 1 image", "images", ("systems[0].training.num_train", 1))
case("jscc_training_snr_reversed", "systems[0].training.train_snr_db", "[hi, lo] training SNR", "images", ("systems[0].training.train_snr_db", [30, 10]))
case("jscc_training_snr_nan", "systems[0].training.train_snr_db", "NaN training SNR", "images", ("systems[0].training.train_snr_db", NAN))
case("jscc_training_unknown", "systems[0].training.epochs", "unknown training key", "images", ("systems[0].training.epochs", 5))

# ---- image_digital, image_codec ----------------------------------------------------------------
case("digital_codec", "systems[1].params.codec", "no such codec", "images", ("systems[1].params.codec", "webp"))
case("digital_chroma", "systems[1].params.chroma", "no 4:2:2", "images", ("systems[1].params.chroma", "422"))
case("digital_code_rates_empty", "systems[1].params.code_rates", "no code rate", "images", ("systems[1].params.code_rates", []))
case("digital_code_rate_bad", "systems[1].params", "no 7/8 WiMAX code", "images", ("systems[1].params.code_rates", ["7/8"]))
case("digital_orders_bad", "systems[1].params", "12-QAM", "images", ("systems[1].params.orders", [12]))
case("digital_orders_empty", "systems[1].params.orders", "no QAM order", "images", ("systems[1].params.orders", []))
case("digital_select", "systems[1].params.select", "no such selection", "images", ("systems[1].params.select", "worst"))
case("digital_select_fixed_many", "systems[1].params.select", "fixed with two rates", "images", ("systems[1].params.code_rates", ["1/2", "2/3"]))
case("digital_select_metric", "systems[1].params.select_metric", "no such selection metric", "images", ("systems[1].params.select_metric", "ssim"))
case("digital_pilot_zero", "systems[1].params.pilot_images", "0 pilot images", "images", ("systems[1].params.pilot_images", 0))
case("digital_pilot_huge", "systems[1].params.pilot_images", "10**9 pilot images", "images", ("systems[1].params.pilot_images", 10**9))
case("digital_bound", "systems[1].params.bound", "no such bound", "images", ("systems[1].params.bound", "shannon"))
case("digital_ratio_negative", "systems[1].params.bandwidth_ratio", "negative bandwidth ratio", "images", ("systems[1].params.bandwidth_ratio", -1))
case("digital_num_iter_zero", "systems[1].params.num_iter", "no BP iteration", "images", ("systems[1].params.num_iter", 0))
case("digital_demapping", "systems[1].params.demapping", "no such demapper", "images", ("systems[1].params.demapping", "exact"))
case("digital_downstream", "systems[1].params.downstream.width", "classifier width 3", "images", ("systems[1].params.downstream", {"width": 3}))
case("digital_training_unknown", "systems[1].training", "image_digital trains nothing it is told about", "images", ("systems[1].training", {"epochs": 3}))
case("codec_codec", "systems[0].params.codec", "no such codec", "codec", ("systems[0].params.codec", "png"))
case("codec_chroma", "systems[0].params.chroma", "no 4:1:1", "codec", ("systems[0].params.chroma", "411"))
case("codec_unknown", "systems[0].params.quality", "unknown codec parameter", "codec", ("systems[0].params.quality", 90))
case("codec_training_unknown", "systems[0].training", "image_codec trains nothing", "codec", ("systems[0].training", {"epochs": 1}))

# ---- metrics -------------------------------------------------------------------------------
case("metric_unknown", "metrics[0]", "no such metric", "bits", ("metrics", ["biterror"]))
case("metric_sys_exit", "metrics[0]", "sys.exit as a metric (validate exits 0 silently)", "bits", ("metrics", ["sys:exit"]))
case("metric_os_abort", "metrics[0]", "os.abort as a metric (dumps core)", "bits", ("metrics", ["os:abort"]))
case("metric_print", "metrics[0]", "builtins.print as a metric", "bits", ("metrics", ["builtins:print"]))
case("metric_sentinel", "metrics[0]", "a Metric subclass by import path: metrics take registered names only", "bits", ("metrics", ["corpus_sentinel:SentinelMetric"]))
case("metric_not_reported", "metrics[0]", "no system reports psnr", "bits", ("metrics", ["psnr"]), ("figures", []), ("tables", []))
case("metric_int", "metrics[1]", "a number is not a metric", "bits", ("metrics", ["ber", 5]))
case("metric_nested", "metrics[0]", "a list inside metrics", "bits", ("metrics", [["ber"]]))
case("metric_duplicate", "metrics[1]", "ber twice", "bits", ("metrics", ["ber", "ber"]))

# ---- monte_carlo ---------------------------------------------------------------------------
case("mc_batch_zero", "monte_carlo.batch_size", "batch of 0", "bits", ("monte_carlo.batch_size", 0))
case("mc_batch_negative", "monte_carlo.batch_size", "negative batch", "bits", ("monte_carlo.batch_size", -1))
case("mc_batch_float", "monte_carlo.batch_size", "fractional batch", "bits", ("monte_carlo.batch_size", 1.5))
case("mc_batch_bool", "monte_carlo.batch_size", "a boolean batch size", "bits", ("monte_carlo.batch_size", True))
case("mc_batch_nan", "monte_carlo.batch_size", "NaN batch", "bits", ("monte_carlo.batch_size", NAN))
case("mc_batch_huge", "monte_carlo.batch_size", "a batch of 10**12 exhausts memory", "bits", ("monte_carlo.batch_size", 1000000000000))
case("mc_batch_word", "monte_carlo.batch_size", "not a number", "bits", ("monte_carlo.batch_size", "big"))
case("mc_max_batches_zero", "monte_carlo.max_batches", "0 batches", "bits", ("monte_carlo.max_batches", 0))
case("mc_min_above_max", "monte_carlo.min_batches", "min_batches > max_batches", "bits", ("monte_carlo.min_batches", 5))
case("mc_target_zero", "monte_carlo.target_errors", "target of 0 errors", "bits", ("monte_carlo.target_errors", 0))
case("mc_stop_metric", "monte_carlo.stop_metric", "stop metric not among the metrics", "bits", ("monte_carlo.stop_metric", "psnr"))
case("mc_stop_metric_int", "monte_carlo.stop_metric", "a number is not a metric", "bits", ("monte_carlo.stop_metric", 5))
case("mc_min_value_zero", "monte_carlo.min_value", "floor 0", "bits", ("monte_carlo.min_value", 0))
case("mc_min_value_one", "monte_carlo.min_value", "floor 1", "bits", ("monte_carlo.min_value", 1))
case("mc_min_value_nan", "monte_carlo.min_value", "NaN floor", "bits", ("monte_carlo.min_value", NAN))
case("mc_ci_width_zero", "monte_carlo.ci_rel_width", "CI width 0", "bits", ("monte_carlo.ci_rel_width", 0))
case("mc_ci_width_inf", "monte_carlo.ci_rel_width", "infinite CI width", "bits", ("monte_carlo.ci_rel_width", INF))
case("mc_confidence_half", "monte_carlo.confidence", "confidence 0.5", "bits", ("monte_carlo.confidence", 0.5))
case("mc_confidence_one", "monte_carlo.confidence", "confidence 1", "bits", ("monte_carlo.confidence", 1))
case("mc_confidence_nan", "monte_carlo.confidence", "NaN confidence", "bits", ("monte_carlo.confidence", NAN))
case("mc_ci_method", "monte_carlo.ci_method", "no such interval", "bits", ("monte_carlo.ci_method", "bayes"))
case("mc_chunk_zero", "monte_carlo.chunk_batches", "save every 0 batches", "bits", ("monte_carlo.chunk_batches", 0))
case("mc_skip_word", "monte_carlo.skip_error_free", "not a boolean", "bits", ("monte_carlo.skip_error_free", "sometimes"))
case("mc_unknown_key", "monte_carlo.batchsize", "misspelt key", "bits", ("monte_carlo.batchsize", 10))
case("mc_scalar", "monte_carlo", "monte_carlo must be a mapping", "bits", ("monte_carlo", 5))
case("mc_quick_batch_zero", "monte_carlo.quick.batch_size", "quick batch 0 (validate must catch it too)", "bits", ("monte_carlo.quick", {"batch_size": 0}))
case("mc_quick_unknown", "monte_carlo.quick.nonsense", "unknown quick key", "bits", ("monte_carlo.quick", {"nonsense": 1}))
case("mc_quick_batch_huge", "monte_carlo.quick.batch_size", "quick batch of 10**12", "bits", ("monte_carlo.quick", {"batch_size": 1000000000000}))
case("mc_quick_max_batches_nan", "monte_carlo.quick.max_batches", "NaN quick max_batches", "bits", ("monte_carlo.quick", {"max_batches": NAN}))
case("mc_quick_min_above_max", "monte_carlo.quick", "quick min_batches > max_batches", "bits", ("monte_carlo.quick", {"min_batches": 5, "max_batches": 1}))
case("mc_quick_list", "monte_carlo.quick", "quick must be a mapping", "bits", ("monte_carlo.quick", [1, 2]))
case("mc_quick_confidence", "monte_carlo.quick.confidence", "quick confidence 2", "bits", ("monte_carlo.quick", {"confidence": 2}))
case("mc_quick_batch_bool", "monte_carlo.quick.batch_size", "a boolean quick batch size", "bits", ("monte_carlo.quick", {"batch_size": True}))
case("mc_quick_stop_metric", "monte_carlo.quick.stop_metric", "quick stop metric not among the metrics", "bits", ("monte_carlo.quick", {"stop_metric": "psnr"}))

# ---- figures -----------------------------------------------------------------------------------
case("fig_scalar", "figures", "figures must be a list", "bits", ("figures", 5))
case("fig_file_traversal", "figures[0].file", "a path out of the plots folder", "bits", ("figures[0].file", "../x.pdf"))
case("fig_file_png", "figures[0].file", "figures are PDFs", "bits", ("figures[0].file", "x.png"))
case("fig_file_absolute", "figures[0].file", "an absolute path", "bits", ("figures[0].file", "/tmp/abs.pdf"))
case("fig_file_missing", "figures[0].file", "file is required", "bits", ("figures[0].file", D))
case("fig_file_nul", "figures[0].file", "a NUL byte in a file name", "bits", ("figures[0].file", "a\x00b.pdf"))
case("fig_file_too_long", "figures[0].file", "a 300-character file name", "bits", ("figures[0].file", "f" * 300 + ".pdf"))
case("fig_file_duplicate", "figures[1].file", "two figures write one file", "bits", ("figures", [BITS["figures"][0], {"file": "tiny_ber.pdf", "y": "bler"}]))
case("fig_y_missing", "figures[0].y", "y is required", "bits", ("figures[0].y", D))
case("fig_y_unknown", "figures[0].y", "y is not a metric of the scenario", "bits", ("figures[0].y", "psnr"))
case("fig_x_unknown", "figures[0].x", "x is neither the swept parameter nor a metric", "bits", ("figures[0].x", "time"))
case("fig_scale", "figures[0].scale", "no such scale", "bits", ("figures[0].scale", "loglog"))
case("fig_xscale", "figures[0].xscale", "no such x scale", "bits", ("figures[0].xscale", "exp"))
case("fig_xticks", "figures[0].xticks", "no such tick style", "bits", ("figures[0].xticks", "sometimes"))
case("fig_xticks_parametric", "figures[0].xticks", "fraction ticks on a metric x axis", "bits", ("figures[0].x", "bler"), ("figures[0].xticks", "fractions"))
case("fig_systems_unknown", "figures[0].systems", "no such system label", "bits", ("figures[0].systems", ["Nope"]))
case("fig_ci_word", "figures[0].ci", "not a boolean", "bits", ("figures[0].ci", "perhaps"))
case("fig_ylim_equal", "figures[0].ylim", "empty y range", "bits", ("figures[0].ylim", [0, 0]))
case("fig_ylim_reversed", "figures[0].ylim", "ylim [1, 0]", "bits", ("figures[0].ylim", [1, 0]))
case("fig_ylim_log_zero", "figures[0].ylim", "0 on a log axis", "bits", ("figures[0].scale", "log"), ("figures[0].ylim", [0, 1]))
case("fig_ylim_nan", "figures[0].ylim", "NaN limit", "bits", ("figures[0].ylim", [NAN, 1]))
case("fig_ylim_inf", "figures[0].ylim", "infinite limit", "bits", ("figures[0].ylim", [1.0e-6, INF]))
case("fig_ylim_one", "figures[0].ylim", "one number", "bits", ("figures[0].ylim", [1]))
case("fig_ylim_three", "figures[0].ylim", "three numbers", "bits", ("figures[0].ylim", [0, 1, 2]))
case("fig_ylim_string", "figures[0].ylim", "a string", "bits", ("figures[0].ylim", "0..1"))
case("fig_title_list", "figures[0].title", "a list title", "bits", ("figures[0].title", ["a"]))
case("fig_unknown_key", "figures[0].colour", "unknown figure key", "bits", ("figures[0].colour", "red"))
case("theory_unknown", "figures[0].theory[0].type", "no such theory curve", "bits", ("figures[0].theory[0].type", "ber_psk"))
case("theory_os_system", "figures[0].theory[0].type", "os.system as a theory curve", "bits", ("figures[0].theory[0]", {"type": "os:system"}))
case("theory_pickle", "figures[0].theory[0].type", "pickle.loads as a theory curve, with params", "bits", ("figures[0].theory[0]", {"type": "pickle:loads", "params": {"fix_imports": True}}))
case("theory_subprocess", "figures[0].theory[0].type", "subprocess.run as a theory curve", "bits", ("figures[0].theory[0]", {"type": "subprocess:run", "params": {"check": False}}))
case("theory_print", "figures[0].theory[0].type", "builtins.print as a theory curve", "bits", ("figures[0].theory[0]", {"type": "builtins:print"}))
case("theory_sentinel", "figures[0].theory[0].type", "a function by import path: theory curves take registered names only", "bits", ("figures[0].theory[0]", {"type": "corpus_sentinel:sentinel_curve"}))
case("theory_params_unknown", "figures[0].theory[0].params", "unknown theory parameter", "bits", ("figures[0].theory[0].params.bogus", 1))
case("theory_order_bad", "figures[0].theory[0].params.order", "12-QAM theory", "bits", ("figures[0].theory[0].params.order", 12))
case("theory_order_nan", "figures[0].theory[0].params.order", "NaN order", "bits", ("figures[0].theory[0].params.order", NAN))
case("theory_order_huge", "figures[0].theory[0].params.order", "order 2**40", "bits", ("figures[0].theory[0].params.order", 2**40))
case("theory_mimo_huge", "figures[0].theory[0].params.nt", "capacity of a 100000x100000 MIMO channel", "bits",
     ("figures[0].theory[0]", {"type": "capacity_mimo_rayleigh", "params": {"nt": 100000, "nr": 100000}}))
case("theory_scalar", "figures[0].theory[0]", "a theory entry that is a number", "bits", ("figures[0].theory", [5]))
case("theory_label_list", "figures[0].theory[0].label", "a list label", "bits", ("figures[0].theory[0].label", [1]))
case("theory_params_list", "figures[0].theory[0].params", "params must be a mapping", "bits", ("figures[0].theory[0].params", [4]))

# ---- tables --------------------------------------------------------------------------------------
case("table_mapping", "tables", "tables must be a list", "bits", ("tables", {}))
case("table_file_txt", "tables[0].file", "tables are .csv", "bits", ("tables[0].file", "x.txt"))
case("table_file_traversal", "tables[0].file", "a path out of the plots folder", "bits", ("tables[0].file", "../t.csv"))
case("table_file_duplicate", "tables[1].file", "two tables write one file", "bits", ("tables", [BITS["tables"][0], {"file": "tiny.csv", "metrics": ["bler"]}]))
case("table_metrics_empty", "tables[0].metrics", "no metric", "bits", ("tables[0].metrics", []))
case("table_metric_unknown", "tables[0].metrics[0]", "not a metric of the scenario", "bits", ("tables[0].metrics", ["psnr"]))
case("table_systems_unknown", "tables[0].systems[0]", "no such system label", "bits", ("tables[0].systems", ["Nope"]))
case("table_format_width", "tables[0].format", "a 2-GB wide field", "bits", ("tables[0].format", "{:>2000000000}"))
case("table_format_precision", "tables[0].format", "2e9 digits of precision", "bits", ("tables[0].format", "{:.2000000000f}"))
case("table_format_index", "tables[0].format", "indexing the number", "bits", ("tables[0].format", "{0[0]}"))
case("table_format_attribute", "tables[0].format", "attribute access in a format", "bits", ("tables[0].format", "{0.__class__}"))
case("table_format_two", "tables[0].format", "two fields for one number", "bits", ("tables[0].format", "{}{}"))
case("table_format_int", "tables[0].format", "an integer format for a float", "bits", ("tables[0].format", "{:d}"))
case("table_format_name", "tables[0].format", "a named field", "bits", ("tables[0].format", "{x}"))
case("table_scale_nan", "tables[0].scale.ber", "NaN scale", "bits", ("tables[0].scale", {"ber": NAN}))
case("table_scale_inf", "tables[0].scale.ber", "infinite scale", "bits", ("tables[0].scale", {"ber": INF}))
case("table_scale_other", "tables[0].scale.bler", "scale of a metric not in the table", "bits", ("tables[0].scale", {"bler": 2}))
case("table_scale_word", "tables[0].scale.ber", "not a number", "bits", ("tables[0].scale", {"ber": "x"}))
case("table_labels", "tables[0].labels", "no such label style", "bits", ("tables[0].labels", "roman"))
case("table_markdown_word", "tables[0].markdown", "not a boolean", "bits", ("tables[0].markdown", "perhaps"))
case("table_unknown_key", "tables[0].precision", "unknown table key", "bits", ("tables[0].precision", 3))

# ---- plugins ----------------------------------------------------------------------------------
case("plugins_not_allowed", "plugins[0]", "a plugin the user did not allow (--plugin / LINKSIM_PLUGINS)", "bits",
     ("plugins", ["toy_plugin"]), ("systems[0]", {"label": "coin", "type": "toy_coin"}), ("metrics", ["ber"]),
     ("tables", [{"file": "tiny.csv", "metrics": ["ber"]}]))
case("plugins_sentinel", "plugins[0]", "listing a module does not allow it", "bits", ("plugins", ["corpus_sentinel"]))
case("plugins_os", "plugins[0]", "os is not an allowed plugin", "bits", ("plugins", ["os"]))
case("plugins_missing_module", "does.not.exist", "an allowed plugin module that does not exist", "bits", ("plugins", ["does.not.exist"]), env="LINKSIM_PLUGINS=does.not.exist", line=False)
case("plugins_string", "plugins", "plugins must be a list", "bits", ("plugins", "toy_plugin"))
case("plugins_int", "plugins[0]", "a number is not a module", "bits", ("plugins", [5]))
case("plugins_empty_name", "plugins[0]", "an empty module name", "bits", ("plugins", [""]))
case("plugins_path", "plugins[0]", "a path is not a module name", "bits", ("plugins", ["../evil"]))
case("plugins_allowed_wrong_kind", "metrics[0]", "an allowed plugin's System named as a metric", "bits",
     ("plugins", ["toy_plugin"]), ("metrics", ["toy_plugin:ToyCoin"]), ("figures", []), ("tables", []),
     env="LINKSIM_PLUGINS=toy_plugin")
case("plugins_allowed_channel_kind", "channel.type", "an allowed plugin's System named as a channel", "bits",
     ("plugins", ["toy_plugin"]), ("channel", {"type": "toy_plugin:ToyCoin"}), env="LINKSIM_PLUGINS=toy_plugin")
case("plugins_allowed_not_a_system", "systems[0].type", "toy_plugin:Field is pydantic.Field, from an allowed module, but not a System", "bits",
     ("plugins", ["toy_plugin"]), ("systems[0].type", "toy_plugin:Field"), env="LINKSIM_PLUGINS=toy_plugin")

# ---- YAML level ------------------------------------------------------------------------------
# Bodies start on line 3 (after the two header lines); ``.yaml:N`` names the line at fault.
_BITS_TEXT = render(BITS)


def _with_line(text: str, after: str, line: str) -> str:
    """Insert ``line`` after the first line starting with ``after``."""
    out = []
    done = False
    for l in text.splitlines():
        out.append(l)
        if not done and l.startswith(after):
            out.append(line)
            done = True
    assert done, after
    return "\n".join(out) + "\n"


def _line_of(text: str, prefix: str, header_lines: int = 2) -> int:
    for i, l in enumerate(text.splitlines()):
        if l.startswith(prefix):
            return i + 1 + header_lines
    raise AssertionError(prefix)


def _problem_line(body: str, header_lines: int = 2) -> int:
    """The line PyYAML reports for a syntax problem in ``body`` (in the file, after the header)."""
    try:
        yaml.safe_load(body)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark.line + 1 + header_lines
    raise AssertionError("no YAML error in the body")


def syntax(slug: str, why: str, body: str) -> None:
    raw(slug, f".yaml:{_problem_line(body)}", why, body)


syntax("yaml_unclosed_flow", "unclosed flow mapping", _BITS_TEXT.replace("channel: {type: awgn}", "channel: {type: awgn"))
syntax("yaml_tab_indent", "a tab in the indentation",
       _BITS_TEXT.replace("seed: 1", "monte_carlo_extra:\n  a: 1\n\tb: 2\nseed: 1"))
syntax("yaml_bad_indent", "indentation that closes nothing", _BITS_TEXT.replace("seed: 1", "seed: 1\n  extra: 2", 1))
syntax("yaml_unclosed_quote", "an unterminated quoted string", _BITS_TEXT.replace("title: tiny", 'title: "tiny'))
syntax("yaml_colon_in_plain", "a mapping value where none is allowed", _BITS_TEXT.replace("seed: 1", "seed: 1: 2"))
raw("yaml_duplicate_top", "seed", "seed given twice (YAML keeps the last one silently)",
    _with_line(_BITS_TEXT, "seed:", "seed: 2"))
raw("yaml_duplicate_top_line", f".yaml:{_line_of(_BITS_TEXT, 'seed') + 1}", "the line of the second seed",
    _with_line(_BITS_TEXT, "seed:", "seed: 2"))
raw("yaml_duplicate_params", "modulation", "modulation given twice inside params",
    _BITS_TEXT.replace("{modulation: 4,", "{modulation: 4, modulation: 16,"))
raw("yaml_duplicate_mc", "batch_size", "batch_size given twice in monte_carlo",
    _BITS_TEXT.replace("monte_carlo: {batch_size: 32,", "monte_carlo: {batch_size: 32, batch_size: 64,"))
raw("yaml_duplicate_block", "systems", "systems given twice",
    _BITS_TEXT + "systems:\n  - {label: Other, type: bit_link}\n")
raw("yaml_duplicate_quick", "max_batches", "max_batches given twice in quick",
    _BITS_TEXT.replace("quick: {batch_size: 16, max_batches: 1}", "quick: {batch_size: 16, max_batches: 1, max_batches: 2}"))
syntax("yaml_two_documents", "two YAML documents in one file", _BITS_TEXT + "---\nname: second\n")
syntax("yaml_python_tag", "a python/object tag (safe loading refuses it)",
    _BITS_TEXT.replace("seed: 1", 'seed: !!python/object/apply:os.getpid []'))
syntax("yaml_unknown_tag", "an unknown local tag",
    _BITS_TEXT.replace("seed: 1", "seed: !secret 1"))
syntax("yaml_unhashable_key", "a list as a mapping key",
    _BITS_TEXT.replace("seed: 1", "? [1, 2]\n: 3"))
syntax("yaml_undefined_alias", "an alias to no anchor",
    _BITS_TEXT.replace("seed: 1", "seed: *nowhere"))
raw("yaml_nul_byte", f".yaml:{_line_of(_BITS_TEXT, 'seed')}", "a NUL byte (two-line message today)",
    _BITS_TEXT.replace("seed: 1", "seed: 1\x00").encode("utf-8"))
raw("yaml_control_byte", f".yaml:{_line_of(_BITS_TEXT, 'channel')}", "a BEL control character",
    _BITS_TEXT.replace("channel: {type: awgn}", "channel: {type: aw\x07gn}").encode("utf-8"))
raw("yaml_escape_byte", f".yaml:{_line_of(_BITS_TEXT, 'name')}", "an ESC control character in the name",
    _BITS_TEXT.replace("name: tiny_bits", "name: tiny\x1bbits").encode("utf-8"))
raw("yaml_invalid_utf8", f".yaml:{_line_of(_BITS_TEXT, 'name')}", "bytes that are not UTF-8",
    _BITS_TEXT.replace("name: tiny_bits", "name: tiny_\udcff\udcfebits").encode("utf-8", "surrogateescape"))
raw("yaml_latin1", f".yaml:{_line_of(_BITS_TEXT, 'systems') + 1}", "a Latin-1 label (not UTF-8)",
    _BITS_TEXT.replace("label: QPSK", "label: QPSK \udce9t\udce9").encode("utf-8", "surrogateescape"))
raw("yaml_empty", ".yaml", "an empty file (comments only)", "", line=False)
raw("yaml_only_document_marker", ".yaml", "nothing but '---'", "---\n", line=False)
raw("yaml_null", ".yaml:3", "a scenario that is null", "null\n")
raw("yaml_scalar", ".yaml:3", "a scenario that is one string", "hello\n")
raw("yaml_number", ".yaml:3", "a scenario that is a number", "42\n")
raw("yaml_list", ".yaml:3", "a scenario that is a list", "- name: a\n- name: b\n")
raw("yaml_list_of_scenario", ".yaml:3", "a list holding a scenario", "- " + _flow(BITS) + "\n")

_DEPTH = 3000
raw("yaml_deep_list", ".yaml:", f"{_DEPTH}-deep nested lists inside params (RecursionError)",
    _BITS_TEXT.replace("code: {type: uncoded, k: 64}}", "code: {type: uncoded, k: 64}, deep: " + "[" * _DEPTH + "]" * _DEPTH + "}"))
raw("yaml_deep_map", ".yaml:", f"{_DEPTH}-deep nested mappings in a training block",
    _BITS_TEXT.replace("params: {modulation", "training: " + "{a: " * _DEPTH + "1" + "}" * _DEPTH + ", params: {modulation"))
raw("yaml_deep_top", ".yaml:3", f"{_DEPTH}-deep nested lists as the whole file", "[" * _DEPTH + "]" * _DEPTH + "\n")
raw("yaml_deep_block", ".yaml:", "400-deep block-style nesting (one-space indents) in monte_carlo.quick",
    _BITS_TEXT.replace("monte_carlo: {batch_size: 32, max_batches: 2, target_errors: 10, quick: {batch_size: 16, max_batches: 1}}",
                       "monte_carlo:\n quick:\n" + "".join(" " * (i + 2) + f"k{i}:\n" for i in range(400)) + " " * 402 + "1"))


def _bomb(levels: int = 9, width: int = 9) -> str:
    """Anchors a0..a{levels}: a{i} is a list of ``width`` aliases of a{i-1} (width**levels leaves)."""
    lines = ['x0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return lines


def _bomb_flow(levels: int = 9, width: int = 9) -> str:
    """One flow sequence: the last element expands to width**levels strings."""
    parts = ['&b0 "lol"']
    for i in range(1, levels + 1):
        parts.append(f"&b{i} [" + ", ".join([f"*b{i - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


raw("bomb_quick", ".yaml:", "billion laughs inside monte_carlo.quick",
    _BITS_TEXT.replace("quick: {batch_size: 16, max_batches: 1}", "quick: {batch_size: 16, max_batches: 1, nonsense: " + _bomb_flow() + "}"))
raw("bomb_quick_valid_key", ".yaml:", "billion laughs as the value of a real quick key",
    _BITS_TEXT.replace("quick: {batch_size: 16, max_batches: 1}", "quick: {batch_size: 16, max_batches: " + _bomb_flow() + "}"))
raw("bomb_training", ".yaml:", "billion laughs in a bit_link training block (run grew past 5.8 GB)",
    _BITS_TEXT.replace("params: {modulation", "training: {payload: " + _bomb_flow() + "}, params: {modulation"))
raw("bomb_params", ".yaml:", "billion laughs inside params",
    _BITS_TEXT.replace("code: {type: uncoded, k: 64}}", "code: {type: uncoded, k: 64}, payload: " + _bomb_flow() + "}"))
raw("bomb_description", ".yaml:", "billion laughs as the description",
    _BITS_TEXT.replace("seed: 1", "seed: 1\ndescription: " + _bomb_flow()))
raw("bomb_sweep_values", ".yaml:", "billion laughs as the sweep values (validate expands it)",
    _BITS_TEXT.replace("values: [0, 4]", "values: " + _bomb_flow(levels=8, width=10)))
raw("bomb_top_keys", ".yaml:", "billion laughs in unknown top-level keys", _BITS_TEXT + "\n".join(_bomb()) + "\n")
raw("bomb_data", ".yaml:", "billion laughs in the data block of a learned system", render(TEXT).replace("seed: 0}", "seed: 0, payload: " + _bomb_flow() + "}", 1))
raw("bomb_image_training", ".yaml:", "billion laughs in image_jscc training.train_snr_db",
    render(IMAGES).replace("training: {preset: cpu, num_train: 16}", "training: {preset: cpu, num_train: 16, train_snr_db: " + _bomb_flow() + "}"))
raw("bomb_theory_params", ".yaml:", "billion laughs as a theory curve parameter",
    _BITS_TEXT.replace("params: {order: 4}", "params: {order: " + _bomb_flow() + "}"))


def _many_aliases(n: int = 20000) -> str:
    return "[" + ", ".join(["*z"] * n) + "]"


raw("yaml_many_aliases", ".yaml:", "20000 aliases of one anchor (linear, but over any sane alias cap)",
    _BITS_TEXT.replace("seed: 1", "seed: 1\nanchor: &z 0\nmany: " + _many_aliases()))

# ---- late additions (appended so that earlier file numbers stay put) -----------------------
case("system_type_relative", "systems[0].type", "a relative import path (importlib raises TypeError)", "bits", ("systems[0].type", ".bitlink:BitLink"))
case("system_type_dotted_empty", "systems[0].type", "an import path with an empty attribute", "bits", ("systems[0].type", "os:"))

# --------------------------------------------------------------------------- results files

RESULT_CASES: List[Tuple[str, str, str, Callable[[Dict[str, Any]], Any]]] = []


def result(slug: str, field: str, why: str, edit: Callable[[Dict[str, Any]], Any]) -> None:
    RESULT_CASES.append((slug, field, why, edit))


def _set(path: str, value: Any) -> Callable[[Dict[str, Any]], Any]:
    def edit(payload: Dict[str, Any]) -> Any:
        return mutate(payload, (path, value))
    return edit


def _text(text: Union[str, bytes]) -> Callable[[Dict[str, Any]], Any]:
    return lambda payload: text


result("invalid_json", ".json", "truncated JSON", lambda p: json.dumps(p, indent=1)[:200])
result("empty", ".json", "an empty file", _text(""))
result("json_list", ".json", "a JSON list at the top", _text("[1, 2, 3]\n"))
result("json_string", ".json", "a JSON string at the top", _text('"results"\n'))
result("invalid_utf8", ".json", "bytes that are not UTF-8", _text(b'{"linksim_results": 1, "x": "\xff\xfe"}\n'))
result("deep_json", ".json", "20000-deep nested JSON (RecursionError)", _text("[" * 20000 + "]" * 20000))
result("version_2", "linksim_results", "an unknown format version", _set("linksim_results", 2))
result("version_missing", "linksim_results", "no format version", _set("linksim_results", D))
result("version_string", "linksim_results", "version as a string", _set("linksim_results", "1"))
result("scenario_missing", "scenario", "no scenario", _set("scenario", D))
result("scenario_string", "scenario", "scenario is a string", _set("scenario", "tiny_bits"))
result("hash_missing", "scenario_hash", "no scenario hash", _set("scenario_hash", D))
result("provenance_string", "provenance", "provenance is a string", _set("provenance", "x"))
result("records_mapping", "records", "records not a list", _set("records", {}))
result("records_string", "records", "records a string", _set("records", "none"))
result("record_int", "records[0]", "a record that is a number", _set("records[0]", 5))
result("record_no_system", "records[0].system", "a record missing system", _set("records[0].system", D))
result("record_unknown_key", "records[0].colour", "unknown record key", _set("records[0].colour", "red"))
result("record_totals_string", "records[0].totals", "totals a string", _set("records[0].totals", "x"))
result("record_totals_nan", "records[0].totals.bits", "NaN bits", _set("records[0].totals.bits", NAN))
result("record_totals_negative", "records[0].totals.bit_errors", "negative error count", _set("records[0].totals.bit_errors", -5))
result("record_totals_word", "records[0].totals.bits", "bits as a word", _set("records[0].totals.bits", "many"))
result("record_batches_nan", "records[0].batches", "NaN batches", _set("records[0].batches", NAN))
result("record_batches_negative", "records[0].batches", "negative batches", _set("records[0].batches", -1))
result("record_point_index_string", "records[0].point_index", "point index a string", _set("records[0].point_index", "a"))
result("record_point_empty", "records[0].point", "a point without the swept parameter", _set("records[0].point", {}))
result("record_point_nan", "records[0].point", "a NaN sweep value in a record", _set("records[0].point.snr_db", NAN))
result("scenario_no_metrics", "scenario.metrics", "scenario missing metrics", _set("scenario.metrics", D))
result("scenario_metrics_string", "scenario.metrics", "metrics a string", _set("scenario.metrics", "ber"))
result("scenario_metric_unknown", "scenario.metrics[0]", "an unknown metric", _set("scenario.metrics", ["biterror", "bler"]))
result("scenario_metric_sys_exit", "scenario.metrics[0]", "sys.exit as a metric", _set("scenario.metrics", ["sys:exit", "bler"]))
result("scenario_theory_os_system", "scenario.figures[0].theory[0].type", "os.system as a theory curve",
       _set("scenario.figures[0].theory[0]", {"type": "os:system", "params": {}, "label": None}))
result("scenario_theory_pickle", "scenario.figures[0].theory[0].type", "pickle.loads as a theory curve",
       _set("scenario.figures[0].theory[0]", {"type": "pickle:loads", "params": {"fix_imports": True}, "label": None}))
result("scenario_theory_sentinel", "scenario.figures[0].theory[0].type", "a module that is not an allowed plugin",
       _set("scenario.figures[0].theory[0]", {"type": "corpus_sentinel:sentinel_curve", "params": {}, "label": None}))
result("scenario_no_sweep", "scenario.sweep", "scenario without a sweep", _set("scenario.sweep", D))
result("scenario_sweep_tiny_step", "scenario.sweep.step", "a sweep of 1e300 points",
       _set("scenario.sweep", {"parameter": "snr_db", "values": None, "start": 0.0, "stop": 1.0, "step": 1e-300, "fixed": {}}))
result("scenario_no_systems", "scenario.systems", "scenario without systems", _set("scenario.systems", D))
result("scenario_system_no_label", "scenario.systems[0].label", "a system without a label", _set("scenario.systems[0].label", D))
result("scenario_figure_traversal", "scenario.figures[0].file", "a figure path out of the plots folder",
       _set("scenario.figures[0].file", "../escaped.pdf"))
result("scenario_table_traversal", "scenario.tables[0].file", "a table path out of the plots folder",
       _set("scenario.tables[0].file", "../escaped.csv"))
result("scenario_table_format", "scenario.tables[0].format", "a format that indexes the number", _set("scenario.tables[0].format", "{0[0]}"))
result("scenario_table_format_width", "scenario.tables[0].format", "a 2-GB wide field", _set("scenario.tables[0].format", "{:>2000000000}"))
result("scenario_figures_string", "scenario.figures", "figures a string", _set("scenario.figures", "x"))
result("scenario_ylim_nan", "scenario.figures[0].ylim", "NaN y limit", _set("scenario.figures[0].ylim", [NAN, 1]))
result("scenario_figure_y_unknown", "scenario.figures[0].y", "y not a metric", _set("scenario.figures[0].y", "psnr"))
result("scenario_sweep_both", "scenario.sweep", "values and start/stop/step together (pydantic ValidationError escapes)",
       _set("scenario.sweep", {"parameter": "snr_db", "values": [0.0, 4.0], "start": 0.0, "stop": 4.0, "step": 2.0, "fixed": {}}))
result("record_totals_huge", "records[0].totals.bits", "1e308 bits and errors: the interval overflows", _set("records[0].totals", {"bit_errors": 1e308, "bits": 1e308, "block_errors": 1, "blocks": 1}))


# --------------------------------------------------------------------------- command lines
# Placeholders: {ok} a valid tiny scenario (ok.yaml, the `bits` base), {file} an existing
# regular file, {tmp} a fresh empty folder, {foreign} a run folder holding the results of
# another scenario (results/valid_base.json with another name and hash). `isolate: true`: the test runs it in a subprocess (today it can kill
# or exhaust the process that runs it).

_RUN = ["run", "{ok}", "--quick", "--no-progress"]
_DIRS = {"--out": "{tmp}/out", "--plots": "{tmp}/plots", "--cache": "{tmp}/cache"}


def _run(**over: str) -> List[str]:
    args = list(_RUN)
    for opt, default in _DIRS.items():
        args += [opt, over.get(opt.strip("-"), default)]
    return args


_TRAIN = ["train", "{ok}", "--quick", "--cache", "{tmp}/cache"]

CLI_CASES: List[Dict[str, Any]] = [
    {"args": _run() + ["--threads", "0"], "field": "--threads", "why": "0 threads"},
    {"args": _run() + ["--threads", "-1"], "field": "--threads", "why": "negative threads"},
    {"args": _run() + ["--threads", "1000000"], "field": "--threads", "why": "a million threads (libgomp runs out of memory and exits the process)", "isolate": True},
    {"args": _run() + ["--threads", "abc"], "field": "--threads", "why": "not a number (argparse prints usage too)"},
    {"args": _TRAIN + ["--threads", "0"], "field": "--threads", "why": "0 threads for train"},
    {"args": _TRAIN + ["--jobs", "0"], "field": "--jobs", "why": "0 processes"},
    {"args": _TRAIN + ["--jobs", "-2"], "field": "--jobs", "why": "negative processes"},
    {"args": _TRAIN + ["--point", "99"], "field": "--point", "why": "no sweep point 99 (the sweep has 2)"},
    {"args": _TRAIN + ["--point", "-1"], "field": "--point", "why": "negative point index"},
    {"args": _TRAIN + ["--only", "Nope"], "field": "--only", "why": "no system labelled Nope"},
    {"args": _TRAIN + ["--jobs", "2", "--only", "Nope"], "field": "--only", "why": "no system labelled Nope, in parallel"},
    {"args": _run(out="{file}"), "field": "--out", "why": "--out is a regular file"},
    {"args": _run(out="/dev/null"), "field": "--out", "why": "--out is /dev/null"},
    {"args": _run(out="{file}/sub"), "field": "--out", "why": "--out lies under a regular file"},
    {"args": _run(out="{foreign}"), "field": "results.json", "why": "--out holds results of another scenario"},
    {"args": _run(plots="{file}"), "field": "--plots", "why": "--plots is a regular file"},
    {"args": _run(plots="/dev/null"), "field": "--plots", "why": "--plots is /dev/null"},
    {"args": _run(plots="{file}/sub"), "field": "--plots", "why": "--plots lies under a regular file"},
    {"args": _run(cache="{file}"), "field": "--cache", "why": "--cache is a regular file"},
    {"args": _run(cache="{file}/sub"), "field": "--cache", "why": "--cache lies under a regular file"},
    {"args": _run() + ["--plugin", "does.not.exist"], "field": "--plugin", "why": "a plugin module that does not exist"},
    {"args": ["validate", "{ok}", "--plugin", "does.not.exist"], "field": "--plugin", "why": "validate with a missing plugin"},
    {"args": _run() + ["--plugin", "../evil"], "field": "--plugin", "why": "a path is not a module name"},
    {"args": _run() + ["--device", "tpu"], "field": "--device", "why": "no such device (argparse prints usage too)"},
    {"args": _run() + ["--bogus"], "field": "--bogus", "why": "unknown option (argparse prints usage too)"},
    {"args": ["frobnicate"], "field": "frobnicate", "why": "unknown command (argparse prints usage too)"},
    {"args": ["validate", "{tmp}/missing.yaml"], "field": "missing.yaml", "why": "no such scenario file"},
    {"args": ["validate", "{tmp}"], "field": "{tmp}", "why": "a folder given as the scenario"},
    {"args": ["validate", "{file}"], "field": "{file}", "why": "a text file that is not a scenario"},
    {"args": ["validate", "/dev/null"], "field": "/dev/null", "why": "/dev/null as the scenario"},
    {"args": ["run", "{tmp}/missing.yaml", "--quick", "--out", "{tmp}/out", "--plots", "{tmp}/plots", "--cache", "{tmp}/cache"], "field": "missing.yaml", "why": "run a missing scenario"},
    {"args": ["run", "{tmp}", "--quick", "--out", "{tmp}/out", "--plots", "{tmp}/plots", "--cache", "{tmp}/cache"], "field": "{tmp}", "why": "run a folder"},
    {"args": ["train", "{tmp}/missing.yaml", "--cache", "{tmp}/cache"], "field": "missing.yaml", "why": "train a missing scenario"},
    {"args": ["plot", "{tmp}/missing", "--plots", "{tmp}/plots"], "field": "missing", "why": "plot a missing results file"},
    {"args": ["plot", "{tmp}", "--plots", "{tmp}/plots"], "field": "results.json", "why": "plot a folder without results.json"},
    {"args": ["plot", "{file}", "--plots", "{tmp}/plots"], "field": "{file}", "why": "plot a file that is not JSON"},
    {"args": ["plot", "{foreign}", "--plots", "{file}"], "field": "--plots", "why": "plot into a regular file"},
    {"args": ["list", "nonsense"], "field": "nonsense", "why": "no such kind of component"},
    {"args": ["validate", "/dev/zero"], "field": "/dev/zero", "why": "an endless device as the scenario (read until memory runs out)", "isolate": True},
    {"args": ["plot", "/dev/zero", "--plots", "{tmp}/plots"], "field": "/dev/zero", "why": "an endless device as the results file", "isolate": True},
    {"args": _run(out="{tmp}/loop"), "field": "--out", "why": "--out is a symbolic link to itself (made by the test)"},
]

# --------------------------------------------------------------------------- writing

def expected_files() -> Dict[Path, bytes]:
    files: Dict[Path, bytes] = {}
    slugs = set()
    for i, c in enumerate(CASES, 1):
        assert c.slug not in slugs, c.slug
        slugs.add(c.slug)
        files[SCENARIOS / f"{i:03d}_{c.slug}.yaml"] = c.content()
    base = json.loads((RESULTS / "valid_base.json").read_text())
    manifest = []
    for i, (slug, field, why, edit) in enumerate(RESULT_CASES, 1):
        out = edit(copy.deepcopy(base))
        if isinstance(out, bytes):
            data = out
        elif isinstance(out, str):
            data = out.encode("utf-8")
        else:
            data = (json.dumps(out, indent=1) + "\n").encode("utf-8")
        name = f"{i:03d}_{slug}.json"
        files[RESULTS / name] = data
        manifest.append({"file": name, "field": field, "why": why})
    files[HERE / "ok.yaml"] = ("# A valid tiny scenario (the `bits` base of make_corpus.py): {ok} in cli.yaml.\n"
                               + render(BITS)).encode("utf-8")
    files[HERE / "cli.yaml"] = ("# Bad command lines: written by make_corpus.py (see there for the placeholders).\n"
                                + yaml.safe_dump(CLI_CASES, sort_keys=False, width=1000, default_flow_style=None)).encode("utf-8")
    files[RESULTS / "manifest.yaml"] = (
        "# Bad results files for `linksim plot`: written by ../make_corpus.py from valid_base.json.\n"
        "# field: text the one-line error message must contain (it must name the file too).\n"
        + yaml.safe_dump(manifest, sort_keys=False, width=1000)).encode("utf-8")
    return files


def main(argv: List[str]) -> int:
    files = expected_files()
    owned = set(SCENARIOS.glob("*.yaml")) | (set(RESULTS.glob("*.json")) - {RESULTS / "valid_base.json"}) | {RESULTS / "manifest.yaml", HERE / "ok.yaml", HERE / "cli.yaml"}
    if "--check" in argv:
        stale = sorted(str(p.relative_to(HERE)) for p in owned - set(files))
        differ = sorted(str(p.relative_to(HERE)) for p, b in files.items() if not p.exists() or p.read_bytes() != b)
        for name in stale:
            print(f"not written by make_corpus.py: {name}")
        for name in differ:
            print(f"differs from make_corpus.py's output: {name}")
        return 1 if stale or differ else 0
    SCENARIOS.mkdir(parents=True, exist_ok=True)
    for path in owned - set(files):
        path.unlink()
    for path, data in files.items():
        path.write_bytes(data)
    print(f"{len(CASES)} scenario cases, {len(RESULT_CASES)} results cases, {len(CLI_CASES)} command lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
