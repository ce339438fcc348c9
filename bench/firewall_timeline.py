#!/usr/bin/env python3
"""Where the time of a benchmark run goes, from `bench/run.py --json FILE`.

The critical path of this stack (../shared/tools/critical_path.py) runs
through the firewall both ways, so each run splits into three parts:

  up:   start -> CreateFirewall | CreateFirewall -> first DescribeFirewall at
        or after the moment the emulator makes it READY (CreateFirewall +
        330 s x scale) | that poll -> exit
  down: start -> DeleteFirewall | DeleteFirewall -> first DescribeFirewall at
        or after it is gone (+ 450 s x scale) | that poll -> exit

and compares each with what the bound allows for it (up: vpc 2 s + subnet
1 s before, route 1 s after; down: one route 1 s before, policy 2 s + rule
group 2 s after; all x scale). Call-log times are when the emulator received
a request, relative to the command's start.

Usage: bench/firewall_timeline.py FILE.json
"""
import json
import sys


def first(log, op, after=None):
    return next((c["t"] for c in log if c["op"] == op and (after is None or c["t"] >= after)), None)


def main(path):
    d = json.load(open(path))
    s = d["scale"]
    print(f"scale {s}: bound allows up {3 * s:.3f} s before CreateFirewall, {1 * s:.3f} s after READY;"
          f" down {1 * s:.3f} s before DeleteFirewall, {4 * s:.3f} s after it is gone")
    print("run | up: before create | poll overshoot | after READY | down: before delete "
          "| poll overshoot | after gone")
    for r in d["runs"]:
        row = [str(r["run"])]
        for name, create, delay in (("up", "network-firewall:CreateFirewall", 330),
                                    ("down", "network-firewall:DeleteFirewall", 450)):
            log = sorted(r[name]["call_log"], key=lambda c: c["t"])
            t0 = first(log, create)
            if t0 is None:
                row += ["-", "-", "-"]
                continue
            done = t0 + delay * s
            seen = first(log, "network-firewall:DescribeFirewall", done)
            if seen is None:
                row += [f"{t0:.3f}", "-", "-"]
                continue
            row += [f"{t0:.3f}", f"{seen - done:.3f}", f"{r[name]['wall_s'] - seen:.3f}"]
        print(" | ".join(row))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1])
