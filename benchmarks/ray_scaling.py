#!/usr/bin/env python
"""Speed-up of one linksim sweep on 1 and 2 local Ray workers, against a serial run.

The sweep: 5G NR LDPC (k=512, n=1024, 20 BP iterations) with QPSK over AWGN, Eb/N0 =
0..2 dB in 5 points, ``--batches`` batches of ``--batch-size`` blocks per point, no early
stopping (every configuration does exactly the same batches). Three configurations run
side by side in this script:

* **serial**: :func:`linksim.runner.run_scenario` in this process, one torch thread
  (the reference, and the results every other run must equal);
* **ray 1**: a local Ray instance with 1 CPU, ``RayExecutor(1)``;
* **ray 2**: a local Ray instance with 2 CPUs, ``RayExecutor(2)``.

For each Ray configuration the instance is started once (its start-up time is printed,
not counted), one warm-up sweep lets the workers import linksim and build the system,
then ``--repeats`` timed sweeps follow. Each timed region is the whole ``run_scenario``
call into a fresh folder (scheduling, simulation, saving results, CSV). The script checks
that every run's CSV equals the serial one byte for byte and prints, last,
``speedup 2 workers: X.XX`` = median time of ray 1 / median time of ray 2.

Example::

    python benchmarks/ray_scaling.py                 # defaults: about 3-5 min on 2 idle cores
    python benchmarks/ray_scaling.py --batches 4 --repeats 1 --json out.json
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
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
os.environ.setdefault("MPLBACKEND", "Agg")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--batch-size", type=int, default=200, help="code blocks per batch")
    p.add_argument("--batches", type=int, default=8, help="batches per sweep point")
    p.add_argument("--repeats", type=int, default=2, help="timed sweeps per configuration (after one warm-up)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the measurements here")
    return p.parse_args(argv)


def scenario(args: argparse.Namespace) -> Dict[str, Any]:
    return {
        "name": "ray_scaling",
        "seed": 1,
        "sweep": {"parameter": "ebno_db", "values": [0.0, 0.5, 1.0, 1.5, 2.0]},
        "channel": {"type": "awgn"},
        "systems": [{"label": "5G LDPC", "type": "bit_link",
                     "params": {"modulation": 4, "code": {"type": "ldpc5g", "k": 512, "n": 1024, "num_iter": 20}}}],
        "metrics": ["ber", "bler"],
        "monte_carlo": {"batch_size": args.batch_size, "max_batches": args.batches, "target_errors": None,
                        "min_value": None, "skip_error_free": False},
        "figures": [],
    }


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed_sweep(data: Dict[str, Any], executor: Any) -> tuple:
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_scenario(parse_scenario(data), out=Path(tmp) / "run", plots_dir=Path(tmp) / "run",
                              progress=False, executor=executor)
        elapsed = time.perf_counter() - t0
        return elapsed, result.csv_path.read_text()


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from linksim.executors import RayExecutor

    data = scenario(args)
    print(f"device: {cpu_name()}, {os.cpu_count()} logical CPUs; torch {torch.__version__}, 1 thread per process; "
          f"load average {os.getloadavg()[0]:.2f}")
    blocks = 5 * args.batches * args.batch_size
    print(f"sweep: 5G LDPC 512/1024, QPSK, AWGN, 5 points x {args.batches} batches x {args.batch_size} blocks "
          f"= {blocks} blocks")
    results: Dict[str, Any] = {"device": cpu_name(), "cpus": os.cpu_count(), "blocks": blocks, "runs": {}}

    timed_sweep(data, None)  # warm-up: imports, Sionna's code construction
    serial_times, reference = [], None
    for _ in range(args.repeats):
        elapsed, csv_text = timed_sweep(data, None)
        serial_times.append(elapsed)
        reference = reference or csv_text
    results["runs"]["serial"] = serial_times
    print(f"serial: {statistics.median(serial_times):.2f} s (runs {', '.join(f'{t:.2f}' for t in serial_times)})")

    identical = True
    for workers in (1, 2):
        t0 = time.perf_counter()
        with RayExecutor(workers) as executor:
            start_s = time.perf_counter() - t0
            timed_sweep(data, executor)  # warm-up: workers import linksim and build the system
            times = []
            for _ in range(args.repeats):
                elapsed, csv_text = timed_sweep(data, executor)
                times.append(elapsed)
                identical &= csv_text == reference
        results["runs"][f"ray{workers}"] = times
        print(f"ray {workers} worker(s): {statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}; "
              f"Ray start {start_s:.1f} s, not counted)")
    ray1, ray2 = (statistics.median(results["runs"][k]) for k in ("ray1", "ray2"))
    results.update(identical=identical, speedup_2_workers=ray1 / ray2,
                   speedup_2_workers_vs_serial=statistics.median(serial_times) / ray2)
    print(f"results identical to the serial run: {'yes' if identical else 'NO'}")
    print(f"2 workers vs serial: {results['speedup_2_workers_vs_serial']:.2f}x")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"speedup 2 workers: {ray1 / ray2:.2f}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
