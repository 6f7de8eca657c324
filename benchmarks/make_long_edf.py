"""Write a long 8-channel 2-kHz EDF block by block (for peak-memory runs of detect/report).

Usage: python benchmarks/make_long_edf.py OUT.edf HOURS [--block-s 60]

One simulated minute (``fascidetect.simulate``, scenario ``rest``) is written again and
again, with fresh noise per block, as 1-s data records; memory stays at one block however
long the file is. A 24-h file takes 2.8 GB on disk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("hours", type=float)
    parser.add_argument("--block-s", type=int, default=60)
    args = parser.parse_args()
    import fascidetect

    fs, n_ch = 2000, 8
    rec, _ = fascidetect.simulate(scenario="rest", duration_s=args.block_s, sfreq=fs,
                                  n_channels=n_ch, seed=0)
    block = rec.data[rec.emg_picks][:n_ch]
    names = [rec.ch_names[i] for i in rec.emg_picks][:n_ch]
    n_records = int(round(args.hours * 3600))
    n_blocks = -(-n_records // args.block_s)
    pmin, pmax = -5000.0, 5000.0  # µV
    gain = 65535.0 / (pmax - pmin)

    def field(value, width):
        return str(value).encode("latin-1")[:width].ljust(width)

    header = b"".join([field(0, 8), field("X X X X", 80), field("Startdate X X X X", 80),
                       field("01.01.26", 8), field("00.00.00", 8), field(256 * (n_ch + 1), 8),
                       field("", 44), field(n_records, 8), field(1, 8), field(n_ch, 4)])
    for values, width in ((names, 16), (["AgAgCl"] * n_ch, 80), (["uV"] * n_ch, 8),
                          ([pmin] * n_ch, 8), ([pmax] * n_ch, 8), ([-32768] * n_ch, 8),
                          ([32767] * n_ch, 8), ([""] * n_ch, 80), ([fs] * n_ch, 8),
                          ([""] * n_ch, 32)):
        header += b"".join(field(v, width) for v in values)
    rng = np.random.default_rng(1)
    written = 0
    with open(args.out, "wb") as fh:
        fh.write(header)
        for _ in range(n_blocks):  # one block of data records at a time
            seconds = min(args.block_s, n_records - written)
            uv = block[:, : seconds * fs] * 1e6 + rng.normal(0, 1.0, (n_ch, seconds * fs))
            digital = np.clip(np.round((uv - pmin) * gain - 32768), -32768, 32767).astype("<i2")
            # record layout: per 1-s record, all samples of signal 1, then signal 2, ...
            fh.write(digital.reshape(n_ch, seconds, fs).transpose(1, 0, 2).tobytes())
            written += seconds
    print(f"{args.out}: {n_records} s, {args.out.stat().st_size / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
