#!/usr/bin/env python3
"""Calls and time of the read-only commands (issue 18): `status`, `plan` and
`verify` on the default stack, built, against the emulator at scale 0 (no
latency profile: what is measured is the tool's calls and its own time).

Not a test: it prints figures. Standard library only; run it with
emulator/.venv/bin/python (`make bench-readonly`). For each command, `--runs`
times: the emulator's call log cleared before and read after, the wall time,
the calls by operation, and the operations called more than once. Also
`plan` against a fresh account (no stack yet) first.

The goal (issue 18): at most one describe call per kind and service where the
API has a batch form, and under one second each.
"""
import argparse
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402


def timed(binary, args, env, cwd, emu):
    emu.clear_calls()
    t0 = time.monotonic()
    p = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    calls = emu.calls()
    return wall, p.returncode, collections.Counter(c["operation"] for c in calls), p.stdout + p.stderr


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=bench.default_bin())
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="provision-readonly-")
    binary = os.path.join(workdir, "provision")
    shutil.copy2(a.bin, binary)
    emu = bench.Emulator(bench.free_port(), 0.0, False, workdir)
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        env.pop(k, None)
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": emu.url, "PROVISION_TIME_SCALE": "0", "AWS_EC2_METADATA_DISABLED": "true"})
    rows = []
    try:
        emu.wait_ready()
        print(f"# read-only commands: {a.bin} (sha256 {bench.sha256(binary)[:12]}), {bench.git_describe()}; "
              f"emulator scale 0; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        # A first pass warms the emulator's service modules (see BENCHMARKS.md, Warm-up).
        timed(binary, ["plan"], env, workdir, emu)
        commands = [("plan (fresh account)", ["plan"])]
        results = {name: [timed(binary, args, env, workdir, emu) for _ in range(a.runs)] for name, args in commands}
        wall, code, _, out = timed(binary, ["up"], env, workdir, emu)
        if code != 0:
            sys.exit(f"up failed ({code}):\n{out[-3000:]}")
        for name, args in [("status", ["status"]), ("plan", ["plan"]), ("verify", ["verify"])]:
            results[name] = [timed(binary, args, env, workdir, emu) for _ in range(a.runs)]
        print()
        print("| command | wall s (runs) | exit | calls | services | operations called more than once |")
        print("|---|---|---|---|---|---|")
        for name, rs in results.items():
            ops = rs[-1][2]
            services = sorted({op.split(":")[0] for op in ops})
            repeated = ", ".join(f"{op} {n}" for op, n in ops.most_common() if n > 1) or "none"
            print(f"| `{name}` | {statistics.median(r[0] for r in rs):.2f} ({' / '.join(f'{r[0]:.2f}' for r in rs)}) "
                  f"| {'/'.join(str(r[1]) for r in rs)} | {sum(ops.values())} | {len(services)} | {repeated} |")
            rows.append((name, rs))
        print()
        for name, rs in rows:
            ops = rs[-1][2]
            print(f"{name}: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))
    finally:
        emu.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
