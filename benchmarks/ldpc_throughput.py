#!/usr/bin/env python
"""Sweep throughput of linksim's Monte-Carlo runner against Sionna's ``sim_ber``.

The link: 5G NR LDPC (k=512, n=1024 by default) with QPSK over AWGN, APP demapping and
20 iterations of flooding BP decoding, swept over Eb/N0. Both sides simulate exactly the
same number of blocks per point (no early stopping, no error targets), in one process on
one device, and the script reports information bits per second of each and their ratio:

* linksim: :func:`linksim.runner.run_scenario` on a scenario dict with one ``bit_link``
  system (progress off, results and plots into a temporary folder). The timed region is
  the whole call: building the system, per-batch seeding, simulating, saving results,
  writing the CSV. linksim's own per-point timers (the "in-loop" column) show how much
  of that was spent simulating.
* sionna: :func:`sionna.phy.utils.sim_ber` with an ``mc_fun`` built from Sionna blocks
  (BinarySource, LDPC5GEncoder, Mapper, AWGN, Demapper, LDPC5GDecoder). The blocks are
  built once per process (reported as "build"); the timed region is the ``sim_ber`` call.
  This side is the reference: Sionna's own decoder, whereas linksim decodes with
  :class:`linksim.phy.ldpc_decoder.FastLDPC5GDecoder` (same decisions, faster BP core).

Runs alternate linksim / sionna. One warm-up run of each comes first and is discarded;
then ``--repeats`` measured runs of each (the order flips on every repeat, so drift in
machine load hits both sides alike). Reported: the median over the measured runs, and
the ratio of each back-to-back pair. The last line printed is
``ratio linksim/sim_ber: X.XX`` (the ratio of the medians), for scripts.

Examples (see benchmarks/README.md)::

    python benchmarks/ldpc_throughput.py                       # defaults: 1.5-3 min on one CPU core
    python benchmarks/ldpc_throughput.py --json out.json
    python benchmarks/ldpc_throughput.py --threads 0           # torch's default thread count
    python benchmarks/ldpc_throughput.py --device cuda --batch-size 4000 --batches 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

LABEL = "5G LDPC"


# --------------------------------------------------------------------------- set-up


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=int, default=200, help="code blocks per batch (both sides)")
    p.add_argument("--batches", type=int, default=2,
                   help="batches per sweep point (linksim max_batches = sionna max_mc_iter)")
    p.add_argument("--repeats", type=int, default=3, help="measured runs of each side, after one warm-up run each")
    p.add_argument("--ebno", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0], help="Eb/N0 points [dB]")
    p.add_argument("--k", type=int, default=512, help="information bits per block")
    p.add_argument("--n", type=int, default=1024, help="code bits per block")
    p.add_argument("--num-iter", type=int, default=20, help="BP iterations")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile Sionna's mc_fun (sim_ber compile_mode); "
                        "linksim has no compile hook and runs eager")
    p.add_argument("--compile-mode", default="default", help="compile mode with --compile")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads; default 1 on CPU (per-core throughput, stable on shared "
                        "machines), torch's choice on CUDA; 0 = torch's choice")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write all measurements here")
    args = p.parse_args(argv)
    for name in ("batch_size", "batches", "repeats", "num_iter"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when available; returns ``cpu`` or ``cuda``."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    return requested


def sionna_device(device: str) -> str:
    """Sionna names GPUs ``cuda:<index>``."""
    return f"cuda:{torch.cuda.current_device()}" if device == "cuda" else device


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.cuda.current_device())
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> Dict[str, Any]:
    import sionna

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "device": device,
        "device_name": device_name(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": load,
        "torch": torch.__version__,
        "sionna": getattr(sionna, "__version__", "?"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class Clock:
    """Wall and process CPU time of a region (CPU time sums all threads)."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self) -> "Clock":
        _sync(self.device)
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        _sync(self.device)
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


# --------------------------------------------------------------------------- linksim


def linksim_scenario(args: argparse.Namespace, device: str) -> Dict[str, Any]:
    return {
        "name": "ldpc_throughput",
        "seed": args.seed,
        "device": device,
        "channel": {"type": "awgn"},
        "sweep": {"parameter": "ebno_db", "values": list(args.ebno)},
        "systems": [{
            "label": LABEL,
            "type": "bit_link",
            "params": {"modulation": 4,
                       "code": {"type": "ldpc5g", "k": args.k, "n": args.n, "num_iter": args.num_iter}},
        }],
        "metrics": ["ber", "bler"],
        "monte_carlo": {
            "batch_size": args.batch_size,
            "max_batches": args.batches,
            "target_errors": 10**12,  # never reached: every point runs max_batches
            "min_value": None,
            "skip_error_free": False,
        },
    }


def _ensure_runner_accepts_cuda(device: str) -> Optional[str]:
    """Work around ``runner.use_device("cuda")``, which Sionna rejects (it wants ``cuda:0``).

    Installs a shim on :mod:`linksim.runner` only when the runner still has the problem;
    returns a note for the report, or None.
    """
    if device != "cuda":
        return None
    import sionna.phy

    import linksim.runner as runner

    before = sionna.phy.config.device
    try:
        runner.use_device("cuda")
        return None
    except ValueError:
        pass
    finally:
        sionna.phy.config.device = before
    original = runner.use_device

    def use_device(dev: str) -> None:
        original(sionna_device(dev))

    runner.use_device = use_device  # type: ignore[assignment]
    return "runner.use_device('cuda') raised ValueError (Sionna wants 'cuda:0'); benchmark shim applied"


def linksim_decoder_name(args: argparse.Namespace) -> str:
    """Module and class of the BP decoder linksim's ``ldpc5g`` code uses."""
    from linksim.phy.codes import build_code

    code = build_code({"type": "ldpc5g", "k": args.k, "n": args.n, "num_iter": args.num_iter})
    decoder = getattr(code, "_decoder", None)
    return f"{type(decoder).__module__}.{type(decoder).__name__}" if decoder is not None else "?"


def run_linksim(args: argparse.Namespace, device: str) -> Dict[str, Any]:
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    scenario = parse_scenario(linksim_scenario(args, device))
    with tempfile.TemporaryDirectory(prefix="linksim-bench-") as tmp:
        tmp_path = Path(tmp)
        with Clock(device) as clock:
            result = run_scenario(scenario, out=tmp_path / "run", plots_dir=tmp_path / "plots",
                                  cache_dir=tmp_path / "cache", device=device, fresh=True, progress=False)
        records = result.store.system_records(LABEL)
    bits = sum(r.totals["bits"] for r in records)
    in_loop = sum(r.elapsed_s for r in records)
    return {
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "in_loop_s": in_loop,
        "info_bits": bits,
        "bits_per_s": bits / clock.wall,
        "in_loop_bits_per_s": bits / in_loop if in_loop > 0 else float("nan"),
        "ber": [r.totals["bit_errors"] / r.totals["bits"] for r in records],
        "bler": [r.totals["block_errors"] / r.totals["blocks"] for r in records],
    }


# --------------------------------------------------------------------------- sionna


def build_sionna(args: argparse.Namespace, device: str) -> Callable[..., Any]:
    """The Sionna link as an ``mc_fun(batch_size, ebno_db) -> (b, b_hat)``."""
    import sionna.phy
    from sionna.phy.channel import AWGN
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import BinarySource, Demapper, Mapper
    from sionna.phy.utils import ebnodb2no

    sionna.phy.config.device = sionna_device(device)
    num_bits_per_symbol = 2
    coderate = args.k / args.n
    source = BinarySource()
    encoder = LDPC5GEncoder(args.k, args.n)
    mapper = Mapper("qam", num_bits_per_symbol)
    channel = AWGN()
    demapper = Demapper("app", "qam", num_bits_per_symbol)
    decoder = LDPC5GDecoder(encoder, num_iter=args.num_iter, hard_out=True)

    def mc_fun(batch_size: int, ebno_db: torch.Tensor):
        no = ebnodb2no(ebno_db, num_bits_per_symbol=num_bits_per_symbol, coderate=coderate)
        b = source([batch_size, args.k])
        c = encoder(b)
        x = mapper(c)
        y = channel(x, no)
        llr = demapper(y, no)
        b_hat = decoder(llr)
        return b, b_hat

    return mc_fun


def run_sionna(args: argparse.Namespace, device: str, mc_fun: Callable[..., Any], run_index: int) -> Dict[str, Any]:
    import sionna.phy
    from sionna.phy.utils import sim_ber

    dev = sionna_device(device)
    sionna.phy.config.device = dev
    sionna.phy.config.seed = args.seed + run_index
    ebno = torch.tensor(args.ebno)
    with Clock(device) as clock:
        ber, bler = sim_ber(mc_fun, ebno, batch_size=args.batch_size, max_mc_iter=args.batches,
                            num_target_bit_errors=None, early_stop=False, verbose=False,
                            compile_mode=args.compile_mode if args.compile else None, device=dev)
    bits = len(args.ebno) * args.batches * args.batch_size * args.k
    return {
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "info_bits": bits,
        "bits_per_s": bits / clock.wall,
        "ber": [float(v) for v in ber.cpu()],
        "bler": [float(v) for v in bler.cpu()],
    }


# --------------------------------------------------------------------------- main


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x == x else "-"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    threads = args.threads if args.threads is not None else (1 if device == "cpu" else 0)
    if threads > 0:
        torch.set_num_threads(threads)

    import sionna.phy

    sionna.phy.config.device = sionna_device(device)
    env = environment(device)
    notes = [n for n in [_ensure_runner_accepts_cuda(device)] if n]
    notes.append(f"decoders: linksim {linksim_decoder_name(args)}, sionna sionna.phy.fec.ldpc.LDPC5GDecoder "
                 "(the reference)")
    if args.compile:
        notes.append(f"sionna mc_fun compiled (mode {args.compile_mode!r}); linksim runs eager")

    bits_per_run = len(args.ebno) * args.batches * args.batch_size * args.k
    print(f"LDPC sweep throughput: 5G LDPC (k={args.k}, n={args.n}), QPSK, AWGN, "
          f"{args.num_iter} BP iterations")
    print(f"device: {device} ({env['device_name']}), torch {env['torch']}, sionna {env['sionna']}, "
          f"threads {env['torch_threads']}, load avg {env['load_average_1min']}")
    print(f"sweep: ebno_db {args.ebno}; {args.batches} batches x {args.batch_size} blocks per point "
          f"= {bits_per_run:,} info bits per run; 1 warm-up + {args.repeats} measured run(s) each")
    for note in notes:
        print(f"note: {note}")

    with Clock(device) as build_clock:
        mc_fun = build_sionna(args, device)
    print(f"sionna blocks built in {build_clock.wall:.2f} s (outside the timed runs)", flush=True)

    runs: List[Dict[str, Any]] = []
    header = f"{'run':<18}{'wall s':>9}{'cpu s':>9}{'info bits/s':>14}{'in-loop bits/s':>16}"
    print(header)
    print("-" * len(header))
    for rep in range(args.repeats + 1):
        order = ("linksim", "sionna") if rep % 2 == 0 else ("sionna", "linksim")
        for side in order:
            res = run_linksim(args, device) if side == "linksim" else run_sionna(args, device, mc_fun, rep)
            res.update(side=side, repeat=rep, warmup=(rep == 0))
            runs.append(res)
            name = f"{side} {'warm-up' if rep == 0 else f'#{rep}'}"
            print(f"{name:<18}{res['wall_s']:>9.2f}{res['cpu_s']:>9.2f}{_fmt_rate(res['bits_per_s']):>14}"
                  f"{_fmt_rate(res.get('in_loop_bits_per_s', float('nan'))):>16}", flush=True)

    measured = {side: [r for r in runs if r["side"] == side and not r["warmup"]] for side in ("linksim", "sionna")}
    med = {side: statistics.median(r["bits_per_s"] for r in rs) for side, rs in measured.items()}
    med_cpu = {side: statistics.median(r["info_bits"] / r["cpu_s"] for r in rs) for side, rs in measured.items()}
    ratio = med["linksim"] / med["sionna"]
    ratio_cpu = med_cpu["linksim"] / med_cpu["sionna"]
    # the two runs of one repeat ran back to back: their ratio is least affected by load drift
    paired = [lk["bits_per_s"] / sn["bits_per_s"] for lk, sn in zip(measured["linksim"], measured["sionna"])]
    print("-" * len(header))
    print(f"median info bits/s  linksim {_fmt_rate(med['linksim'])}  sionna {_fmt_rate(med['sionna'])}  "
          f"ratio linksim/sionna {ratio:.2f}  (per CPU-second: {ratio_cpu:.2f})")
    print("paired ratios (one per repeat): " + ", ".join(f"{r:.2f}" for r in paired)
          + f"; median {statistics.median(paired):.2f}")
    last = {side: rs[-1] for side, rs in measured.items()}
    print("BER   " + "  ".join(f"{e:g} dB: {a:.3e}/{b:.3e}" for e, a, b in
                               zip(args.ebno, last["linksim"]["ber"], last["sionna"]["ber"])) + "  (linksim/sionna)")

    if args.json is not None:
        payload = {
            "benchmark": "ldpc_throughput",
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "environment": env,
            "notes": notes,
            "sionna_build_s": build_clock.wall,
            "runs": runs,
            "median_bits_per_s": med,
            "median_bits_per_cpu_s": med_cpu,
            "ratio_linksim_over_sionna": ratio,
            "ratio_per_cpu_s": ratio_cpu,
            "paired_ratios": paired,
            "median_paired_ratio": statistics.median(paired),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.json}")
    print(f"ratio linksim/sim_ber: {ratio:.2f}")  # last line, for scripts: the ratio of the medians
    return 0


if __name__ == "__main__":
    sys.exit(main())
