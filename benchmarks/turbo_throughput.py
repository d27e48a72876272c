#!/usr/bin/env python
"""Decoding throughput of linksim's exact-MAP Turbo decoder against Sionna's ``TurboDecoder``.

Both decoders get the same batch of channel LLRs (LTE Turbo, rate 1/3, terminated, QPP
interleaver; noisy BPSK codewords at ``--snr-db``, clipped to +-30 as
``linksim.phy.codes.Turbo.decode`` does) and decode it with the exact MAP algorithm:

* sionna: ``sionna.phy.fec.turbo.TurboDecoder(encoder, num_iter, hard_out=True,
  algorithm="map")``, the reference;
* linksim: :class:`linksim.phy.turbo_decoder.TurboMapDecoder`, what linksim's ``turbo``
  code uses for ``algorithm: map``.

Every run checks that the two returned identical decisions (the script fails otherwise).
One warm-up call of each comes first; then ``--repeats`` timed calls of each, alternating,
with the order flipped on every repeat. Reported: the median seconds and information
bits per second of each, the ratio of each back-to-back pair, and, last, the line
``ratio linksim/sionna: X.XX`` (speed-up, ratio of the median throughputs).

Examples (see benchmarks/README.md)::

    python benchmarks/turbo_throughput.py                          # k=256, 1700 blocks, 1 thread
    python benchmarks/turbo_throughput.py --batch-size 200 --repeats 5
    python benchmarks/turbo_throughput.py --k 1024 --num-iter 8 --batch-size 300
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Callable, List, Optional, Tuple

import torch


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=256, help="information bits per block (LTE size)")
    parser.add_argument("--batch-size", type=int, default=1700,
                        help="blocks per decoder call (1700: one batch of the memdeepsc_rician scenario)")
    parser.add_argument("--num-iter", type=int, default=6, help="Turbo iterations")
    parser.add_argument("--snr-db", type=float, default=0.0, help="BPSK Es/N0 of the test LLRs (dB)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each decoder")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's choice)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def make_llrs(encoder: torch.nn.Module, args: argparse.Namespace) -> Tuple[torch.Tensor, torch.Tensor]:
    """``[batch, k]`` random information bits and the ``[batch, 3k + 12]`` channel LLRs of
    their codewords, BPSK over AWGN at ``--snr-db`` (Es/N0)."""
    gen = torch.Generator().manual_seed(args.seed)
    u = torch.randint(0, 2, (args.batch_size, args.k), generator=gen).float()
    x = 1.0 - 2.0 * encoder(u)  # bit 0 -> +1
    no = 10.0 ** (-args.snr_db / 10.0)
    y = x + (no / 2.0) ** 0.5 * torch.randn(x.shape, generator=gen)
    return u, (-4.0 * y / no).clamp(-30.0, 30.0).to(args.device)  # log P(1)/P(0)


def timed(decode: Callable[[torch.Tensor], torch.Tensor], llr: torch.Tensor) -> Tuple[float, torch.Tensor]:
    """Seconds one call of ``decode`` takes, and its output."""
    if llr.is_cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = decode(llr)
    if llr.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import sionna
    import sionna.phy
    from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

    from linksim.phy.turbo_decoder import TurboMapDecoder

    sionna.phy.config.device = args.device
    encoder = TurboEncoder(constraint_length=4, rate=1 / 3, terminate=True, interleaver_type="3GPP")
    decoders = {
        "sionna": TurboDecoder(encoder, num_iter=args.num_iter, hard_out=True, algorithm="map"),
        "linksim": TurboMapDecoder(encoder, args.k, args.num_iter),
    }
    u, llr = make_llrs(encoder, args)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, sionna {sionna.__version__}, "
          f"device {args.device}, threads {torch.get_num_threads()}, load avg {load:.2f}")
    print(f"k={args.k}, blocks={args.batch_size}, num_iter={args.num_iter}, snr {args.snr_db} dB")

    reference = None
    for name, decode in decoders.items():  # warm-up, and the identity check
        _, out = timed(decode, llr)
        reference = out if reference is None else reference
        if not torch.equal(out, reference):
            raise SystemExit("FAIL: linksim's and Sionna's decisions differ")
    raw = float(((llr.cpu()[:, : 3 * args.k: 3] > 0).float() != u).float().mean())
    print(f"identical decisions: yes; BER {float((reference.cpu() != u).float().mean()):.2e} "
          f"(uncoded systematic bits: {raw:.2e})")

    seconds = {name: [] for name in decoders}
    pairs = []
    for rep in range(args.repeats):
        order = list(decoders) if rep % 2 == 0 else list(reversed(decoders))
        for name in order:
            dt, out = timed(decoders[name], llr)
            if not torch.equal(out, reference):
                raise SystemExit(f"FAIL: {name} changed its decisions between calls")
            seconds[name].append(dt)
        pairs.append(seconds["sionna"][-1] / seconds["linksim"][-1])
        print(f"repeat {rep + 1}: sionna {seconds['sionna'][-1]:.3f} s, linksim {seconds['linksim'][-1]:.3f} s, "
              f"ratio {pairs[-1]:.2f}")
    bits = args.batch_size * args.k
    for name, values in seconds.items():
        med = statistics.median(values)
        print(f"{name:8s} median {med:.3f} s  ({bits / med:,.0f} info bits/s)")
    ratio = statistics.median(seconds["sionna"]) / statistics.median(seconds["linksim"])
    print(f"paired ratios: {', '.join(f'{p:.2f}' for p in pairs)}")
    print(f"ratio linksim/sionna: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
