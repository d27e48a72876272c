"""Cost of machine unlearning against retraining, side by side in one process (SCU paper, Table II).

On the real MNIST digits (``source: mnist_10k``) with the shipped scenarios' settings
(EDR 6 %, 3x3 trigger, VIB codec k = 49, width 16, AWGN 5 dB, ``training.preset: cpu``
and the unlearning defaults of ``image_unlearning``), this script

1. trains Retrain (from scratch on the remaining data) and Origin (on all of it), timed;
2. unlearns copies of Origin by VBU, SCU w/o CC (``ju``), SCU and HBU, timed;

all on one torch thread in one process, one after the other, so that every wall time is
measured on the same machine under the same load. It prints, per method, the wall time
and the gradient samples (examples through a backward pass: machine-free) and their
ratios to Retrain, and SCU/VBU, the quantities of the paper's speed claims (the
analysis note, A2, A10-A13). Nothing is written to the weight cache. Run::

    python benchmarks/scu_cost.py                       # about 8 minutes on one core
    python benchmarks/scu_cost.py --num-train 2000 --epochs 2 --json cost.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any, Dict

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-train", type=int, default=None, help="first N training images (default: all 7996)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the cpu preset's 6)")
    parser.add_argument("--snr-db", type=float, default=5.0)
    parser.add_argument("--json", default=None, help="also write the measurements here")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from dataclasses import replace

    from linksim.data.backdoor import poison
    from linksim.layers.channel import ChannelLayer
    from linksim.registry import build_component, datasets
    from linksim.systems.scu.methods import UnlearnJob, UnlearnSettings, copy_codec, train_vib, unlearn
    from linksim.systems.scu.networks import build_vib_codec
    from linksim.systems.scu.system import CPU_STAGES, ImageUnlearningParams
    from linksim.systems.training import seed_training
    from linksim.vision.quality import symbols_for_ratio

    params = ImageUnlearningParams(method="scu")
    data = build_component(datasets, {"type": "images", "source": "mnist_10k"}, field="data")
    train = data.split("train")
    images, labels = train.images[:args.num_train], train.labels[:args.num_train]
    split = poison(images, labels, erased_ratio=params.erased_ratio, trigger=params.trigger,
                   target_label=params.target_label, base_label=params.base_label, seed=1)
    stage = CPU_STAGES["codec"] if args.epochs is None else replace(CPU_STAGES["codec"], epochs=args.epochs)
    k = symbols_for_ratio(float(params.bandwidth_ratio), data.image_shape)
    channel = ChannelLayer({"type": "awgn"}, args.snr_db)
    build = lambda: build_vib_codec(k, data.image_shape, params.width or 16)  # noqa: E731
    rows: Dict[str, Dict[str, Any]] = {}

    def trained(name: str, x: Any, y: Any) -> Any:
        seed_training({"benchmark": name})
        codec = build()
        started = time.perf_counter()
        train_vib(codec, channel, x, y, stage, beta=params.beta, seed=0, name=name, log=None)
        rows[name] = {"wall_s": time.perf_counter() - started, "gradient_samples": len(x) * stage.epochs}
        print(f"{name:>8}: {rows[name]['wall_s']:8.1f} s  {rows[name]['gradient_samples']:>9} gradient samples",
              flush=True)
        return codec

    trained("retrain", split.remaining_images, split.remaining_labels)
    origin = trained("origin", *split.full())
    u = params.unlearning
    settings = UnlearnSettings(u.epochs, u.batch_size, u.learning_rate, u.clip_norm)
    for method in ("vbu", "ju", "scu", "hbu"):
        seed_training({"benchmark": method})
        codec, fixed = copy_codec(origin, build), copy_codec(origin, build)
        job = UnlearnJob(codec, fixed, channel, (split.erased_images, split.erased_labels),
                         (split.remaining_images, split.remaining_labels), settings,
                         ImageUnlearningParams(method=method).unlearn_params(), seed=0)
        report = unlearn(method, job)
        rows[method] = {"wall_s": report.wall_s, "gradient_samples": report.gradient_samples, "steps": report.steps}
        print(f"{method:>8}: {report.wall_s:8.1f} s  {report.gradient_samples:>9} gradient samples "
              f"({report.steps} steps)", flush=True)

    retrain = rows["retrain"]
    print(f"\n{'method':>8}  {'wall / Retrain':>15}  {'samples / Retrain':>18}")
    for name, row in rows.items():
        row["wall_over_retrain"] = row["wall_s"] / retrain["wall_s"]
        row["samples_over_retrain"] = row["gradient_samples"] / retrain["gradient_samples"]
        print(f"{name:>8}  {row['wall_over_retrain']:15.4f}  {row['samples_over_retrain']:18.4f}")
    ratios = {"scu_over_vbu_wall": rows["scu"]["wall_s"] / rows["vbu"]["wall_s"],
              "scu_over_vbu_samples": rows["scu"]["gradient_samples"] / rows["vbu"]["gradient_samples"],
              "hbu_over_scu_wall": rows["hbu"]["wall_s"] / rows["scu"]["wall_s"]}
    print("\n" + "  ".join(f"{name} {value:.3f}" for name, value in ratios.items()))
    machine = {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
               "torch": torch.__version__, "threads": torch.get_num_threads(), "device": "cpu"}
    print(f"device: {machine}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "ratios": ratios, "machine": machine, "erased": split.erased_count,
                       "train_images": len(images), "epochs": stage.epochs}, handle, indent=1)


if __name__ == "__main__":
    main()
