"""Benchmark c: peak RSS the producer adds while sketching a 1B-parameter fp32 model on the CPU.

    python -m benchmarks.producer.memory [--parameters 1e9]

Each measurement runs in a fresh child process: build the model (16 fp32 matrices), note VmRSS,
reset the peak (`/proc/self/clear_refs`), import the producer, watch with every=1, take three
snapshots through optimizer steps (no gradients, so the optimizer itself allocates nothing) and
close; the added peak is VmHWM minus the RSS before. Run once with the native kernel and once
with the pure numpy/torch path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, sys, time, torch
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
size, dim = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(2)
rows = size // 16 // 8192
params = [torch.nn.Parameter(torch.empty(rows, 8192).uniform_(-0.01, 0.01)) for _ in range(16)]
model = torch.nn.ParameterList(params)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
import producer
began = time.perf_counter()
watched = producer.watch(model, optimizer, every=1, dim=dim, endpoint="tcp://127.0.0.1:5898",
                         close_timeout=0.5, native=sys.argv[3] == "1", env={})
for _ in range(3):
    optimizer.step()
seconds = (time.perf_counter() - began) / 4
watched.close()
print(json.dumps({"parameters": sum(p.numel() for p in params), "before": before,
                  "added": status("VmHWM") - before, "seconds_per_snapshot": seconds}))
"""


def measure(size: int, dim: int, native: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", CHILD, str(size), str(dim), "1" if native else "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parameters", type=float, default=1e9)
    parser.add_argument("--dim", type=int, default=256)
    options = parser.parse_args()
    for native in (True, False):
        result = measure(int(options.parameters), options.dim, native)
        print(f"{'native kernel' if native else 'pure path':14s} P={result['parameters']:,}  "
              f"model RSS {result['before'] / 2**30:5.2f} GiB  producer peak "
              f"+{result['added'] / 2**20:6.1f} MiB  "
              f"{result['seconds_per_snapshot']:.2f} s/snapshot", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
