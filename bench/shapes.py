#!/usr/bin/env python3
"""The shapes benchmark (issue 18): `up` and `down --purge-efs --delete-data`
for the stack shapes users grow into, each against its own critical-path bound.

Not a test: it prints figures and asserts nothing about time. Standard library
only; run it with emulator/.venv/bin/python (`make bench-shapes`).

Shapes (`--shapes`, comma-separated; default all):
  default   1 zone, 1 user
  zones3    3 zones (us-east-1a..c)            zones6   6 zones (us-east-1a..f)
  users10   10 users                           users100 100 users
  stacks5   5 stacks of different projects at the same time, one account and
            region (one emulator: its throttling buckets are shared, as AWS's
            are per account and region), each with its own VPC CIDR and domain

Modes (`--modes`): `plain` (the emulator's latency profile only) and
`realistic` (`--realistic --throttle`: eventual consistency, IAM propagation,
rare 5xx, EC2 token buckets). One emulator per mode, reset before every run;
its account quotas are raised first (`POST /_emulator/quotas`), as a user with
six zones or five stacks would have asked AWS to (6 EIPs, 6 VPCs with the
default one), otherwise pre-flight refuses.

The bound of each command is the tool's own (`critical_path_s` of the `start`
event of `--json`, graph::estimate over that shape's step graph and the
latency profile, scaled); for the default shape it equals
../shared/tools/critical_path.py's (printed side by side). Each figure is the
median of `--runs` runs after one untimed warm-up cycle per mode. Per run:
wall time, peak RSS (os.wait4), the emulator's calls and throttled answers,
the attribution of each command's excess over its bound (run.attribute:
scheduling lag, poll lag, emulator service time and throttle wait along the
chain that finished last; the rest is what none of those explains) plus the
emulator's busy share (the sum of its calls' service times over the wall
time: above ~1 the single-process emulator is a queue).

Each command of a run signs with its own access key id (`stack_key`: stack k
of the shape, `AKIASTACK...k`, secret `test`). moto maps every key that its
IAM did not create to the one default account 123456789012
(moto.iam.models.get_account_id_from), so the stacks of stacks5 still share
one account and its EC2 token buckets, while the emulator's call log
(`key` of each call) tells whose call each was: each stack is attributed
with its own calls, as a one-stack shape is, and its row lists the stacks
one by one (`up_stacks` / `down_stacks` in --json; a table per stack).
"""
import argparse
import collections
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"]
QUOTAS = {"L-F678F1CE": 20, "L-A4707A72": 20, "L-FE5A380F": 20, "L-0263D0A3": 40, "NFW-FIREWALLS": 20}


def stack_key(k):
    """The access key id of the k-th stack of a shape (20 characters, as AWS's are): the call log's `key`."""
    return f"AKIASTACK{k:011d}"


def users(n):
    return ["--users", ",".join(f"user{i:03d}" for i in range(n))] if n > 1 else []


def stack_args(i):
    """The arguments of the i-th of several stacks: its own project, domain and CIDRs."""
    net = 20 + i
    return ["--project", f"bench{i}", "--domain-name", f"bench{i}-domain",
            "--vpc-cidr", f"10.{net}.0.0/16", "--firewall-subnet-cidr", f"10.{net}.1.0/24",
            "--nat-subnet-cidr", f"10.{net}.2.0/24", "--sagemaker-subnet-cidr", f"10.{net}.3.0/24"]


SHAPES = {
    "default": [[]],
    "zones3": [["--availability-zones", ",".join(ZONES[:3])]],
    "zones6": [["--availability-zones", ",".join(ZONES)]],
    "users10": [users(10)],
    "users100": [users(100)],
    "stacks5": [stack_args(i) for i in range(1, 6)],
}


def post_json(emu, path, body):
    req = urllib.request.Request(emu.url + path, method="POST", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def critical_path_s(out_path):
    """The tool's own bound: `critical_path_s` of the `--json` start event."""
    with open(out_path, errors="replace") as f:
        for line in f:
            if line.startswith("{") and '"critical_path_s"' in line:
                return json.loads(line)["critical_path_s"]
    return None


def launch_all(binary, arg_lists, env, dirs, names):
    """Starts every command at once, the k-th signing with `stack_key(k)`; returns per command exit,
    wall, peak RSS, output path and access key id."""
    results = [None] * len(arg_lists)
    t0 = time.monotonic()

    def one(k):
        out_path = os.path.join(dirs[k], f"{names[k]}.out")
        trace = os.path.join(dirs[k], f"{names[k]}.trace.jsonl")
        with open(out_path, "w") as out:
            proc = subprocess.Popen([binary, *arg_lists[k]], cwd=dirs[k],
                                    env=dict(env, PROVISION_TRACE=trace, AWS_ACCESS_KEY_ID=stack_key(k)),
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            _, status, rusage = os.wait4(proc.pid, 0)
        results[k] = {"exit": os.waitstatus_to_exitcode(status), "wall_s": time.monotonic() - t0,
                      "peak_rss_mb": rusage.ru_maxrss / 1024.0, "cpu_s": rusage.ru_utime + rusage.ru_stime,
                      "output_path": out_path, "trace_path": trace, "command": arg_lists[k],
                      "key": stack_key(k)}

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(arg_lists))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_phase(binary, env, emu, dirs, shape_args, up, extra=()):
    """All the shape's `up` (or `down`) commands at once against the emulator, its call log cleared
    first. Each command is attributed with its own calls: the whole log with one stack, the calls
    signed with its access key with several (`calls_other_keys`: those signed by none of them, 0
    unless something else used the emulator meanwhile)."""
    verb = ["up", "--json", *extra] if up else ["down", "--purge-efs", "--delete-data", "--yes", "--json", *extra]
    name = "up" if up else "down"
    emu.clear_calls()
    t0_epoch = time.time()
    res = launch_all(binary, [[*verb, *a] for a in shape_args], env, dirs, [name] * len(dirs))
    calls = emu.calls()
    busy = sum(c.get("dur_s", 0.0) for c in calls)
    for r in res:
        r["bound_s"] = critical_path_s(r["output_path"])
        r["ratio"] = r["wall_s"] / r["bound_s"] if r["bound_s"] else None
        trace = []
        if os.path.exists(r["trace_path"]):
            with open(r["trace_path"]) as f:
                trace = [json.loads(line) for line in f if line.strip()]
        r["trace"] = trace
        # The call log mixes concurrent stacks: each is attributed with the calls signed with its own key.
        own = calls if len(res) == 1 else [c for c in calls if c.get("key") == r["key"]]
        r["calls"] = len(own)
        r["throttled_503"] = sum(c["status"] == 503 for c in own)
        r["emulator_busy_s"] = sum(c.get("dur_s", 0.0) for c in own)
        r["attribution"] = (bench.attribute(trace, own, t0_epoch, r["wall_s"], r["bound_s"], up)
                            if r["bound_s"] else None)
        if r["exit"] != 0:
            print(f"  `provision {' '.join(r['command'][:1])}` exited {r['exit']}:\n"
                  f"{bench.output_tail(r['output_path'])}", file=sys.stderr)
    wall = max(r["wall_s"] for r in res)
    by_op = collections.Counter(c["operation"] for c in calls)
    keys = {r["key"] for r in res}
    return {"commands": res, "calls": len(calls), "by_operation": dict(by_op.most_common()),
            "calls_other_keys": 0 if len(res) == 1 else sum(c.get("key") not in keys for c in calls),
            "throttled_503": sum(c["status"] == 503 for c in calls),
            "errors": sum(c["status"] >= 400 and c["status"] != 503 for c in calls),
            "emulator_busy_s": busy, "emulator_busy_share": busy / wall if wall else 0.0}


def cycle(binary, env, emu, workdir, tag, shape_args, extra=()):
    emu.reset()
    post_json(emu, "/_emulator/quotas", QUOTAS)
    dirs = []
    for k in range(len(shape_args)):
        d = os.path.join(workdir, f"{tag}-stack{k}")
        os.makedirs(d)
        dirs.append(d)
    up = run_phase(binary, env, emu, dirs, shape_args, True, extra)
    down = run_phase(binary, env, emu, dirs, shape_args, False, extra)
    return {"up": up, "down": down}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


ATTRIBUTION_PARTS = ("excess_s", "scheduling_lag_s", "poll_lag_s", "emulator_service_s", "throttle_wait_s",
                     "rest_s")


def own_lag_pct(sched, poll, bound):
    """The tool's own lags (scheduling + poll) as a percentage of the bound (the issue's goal: under 1)."""
    if sched is None or poll is None or not bound:
        return None
    return 100.0 * (sched + poll) / bound


def stack_figures(run, k, c):
    """One command of a multi-stack run: its figures and its attribution's parts (seconds)."""
    at = c["attribution"] or {}
    args = c["command"]
    project = args[args.index("--project") + 1] if "--project" in args[:-1] else None
    out = {"run": run, "stack": k, "project": project, "key": c["key"], "exit": c["exit"], "wall_s": c["wall_s"],
           "bound_s": c["bound_s"], "ratio": c["ratio"], "calls": c["calls"], "throttled_503": c["throttled_503"]}
    out.update({key: at.get(key) for key in ATTRIBUTION_PARTS})
    out["chain"] = at.get("chain")
    out["chain_expected_s"] = at.get("chain_expected_s")
    return out


def summarize(shape, mode, runs):
    """One row: medians over runs of each command's figures (every stack of a run counted). With several
    stacks, also `{phase}_stacks`: every stack of every run (`stack_figures`), and `{phase}_stack_medians`:
    per stack, the medians over runs."""
    row = {"shape": shape, "mode": mode, "runs": len(runs)}
    for phase in ("up", "down"):
        cmds = [c for r in runs for c in r[phase]["commands"]]
        row[f"{phase}_walls"] = [round(c["wall_s"], 2) for c in cmds]
        row[f"{phase}_wall_s"] = med([c["wall_s"] for c in cmds])
        row[f"{phase}_bound_s"] = med([c["bound_s"] for c in cmds])
        row[f"{phase}_ratio"] = med([c["ratio"] for c in cmds])
        row[f"{phase}_worst_ratio"] = max((c["ratio"] or 0) for c in cmds)
        row[f"{phase}_calls"] = med([r[phase]["calls"] for r in runs])
        row[f"{phase}_503"] = sum(r[phase]["throttled_503"] for r in runs)
        row[f"{phase}_failed"] = sum(c["exit"] != 0 for c in cmds)
        row[f"{phase}_rss_mb"] = max(c["peak_rss_mb"] for c in cmds)
        row[f"{phase}_busy_share"] = med([r[phase]["emulator_busy_share"] for r in runs])
        ats = [c["attribution"] for c in cmds if c["attribution"]]
        for key in ATTRIBUTION_PARTS:
            row[f"{phase}_{key}"] = med([a[key] for a in ats]) if ats else None
        if len(cmds) > 1:
            row[f"{phase}_stack_ratios"] = [round(c["ratio"], 3) for c in cmds if c["ratio"]]
        if max(len(r[phase]["commands"]) for r in runs) > 1:
            stacks = [stack_figures(i, k, c) for i, r in enumerate(runs, 1) for k, c in enumerate(r[phase]["commands"])]
            row[f"{phase}_stacks"] = stacks
            row[f"{phase}_stack_medians"] = []
            for k in sorted({s["stack"] for s in stacks}):
                mine = [s for s in stacks if s["stack"] == k]
                m = {"stack": k, "project": mine[0]["project"], "key": mine[0]["key"], "runs": len(mine)}
                for key in ("wall_s", "bound_s", "ratio", "calls", "throttled_503", "chain_expected_s",
                            *ATTRIBUTION_PARTS):
                    m[key] = med([s[key] for s in mine])
                row[f"{phase}_stack_medians"].append(m)
    return row


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def print_tables(rows, build):
    print()
    print(f"### {build} build")
    print()
    print("| shape | mode | up wall s (runs) | up bound s | up ratio | down wall s (runs) | down bound s | down ratio "
          "| calls up / down | 503 up / down | failed | peak RSS MB | emulator busy up / down |")
    print("|" + "---|" * 13)
    for r in rows:
        print(f"| {r['shape']} | {r['mode']} | {fmt(r['up_wall_s'], '.2f')} ({' / '.join(map(str, r['up_walls']))}) "
              f"| {fmt(r['up_bound_s'], '.2f')} | **{fmt(r['up_ratio'])}** "
              f"| {fmt(r['down_wall_s'], '.2f')} ({' / '.join(map(str, r['down_walls']))}) "
              f"| {fmt(r['down_bound_s'], '.2f')} | **{fmt(r['down_ratio'])}** "
              f"| {fmt(r['up_calls'], 'g')} / {fmt(r['down_calls'], 'g')} | {r['up_503']} / {r['down_503']} "
              f"| {r['up_failed'] + r['down_failed']} | {max(r['up_rss_mb'], r['down_rss_mb']):.1f} "
              f"| {fmt(r['up_busy_share'], '.2f')} / {fmt(r['down_busy_share'], '.2f')} |")
    print()
    print("Attribution of the excess over the bound (medians, seconds; with several stacks, over every "
          "stack, each attributed with its own calls):")
    print()
    print("| shape | mode | command | excess | scheduling lag | poll lag | tool's lags, % of bound "
          "| emulator service (start, chain, polls) | throttle wait (chain) | rest |")
    print("|" + "---|" * 10)
    for r in rows:
        for phase in ("up", "down"):
            if r[f"{phase}_excess_s"] is None:
                continue
            own = own_lag_pct(r[f"{phase}_scheduling_lag_s"], r[f"{phase}_poll_lag_s"], r[f"{phase}_bound_s"])
            print(f"| {r['shape']} | {r['mode']} | {phase} | {fmt(r[f'{phase}_excess_s'], '.2f')} "
                  f"| {fmt(r[f'{phase}_scheduling_lag_s'])} | {fmt(r[f'{phase}_poll_lag_s'])} | {fmt(own, '.2f')} "
                  f"| {fmt(r[f'{phase}_emulator_service_s'])} | {fmt(r[f'{phase}_throttle_wait_s'])} "
                  f"| {fmt(r[f'{phase}_rest_s'], '.2f')} |")
    multi = [r for r in rows if r.get("up_stack_medians") or r.get("down_stack_medians")]
    if multi:
        print()
        print("Each stack of the multi-stack shapes (medians over runs, seconds; calls: the stack's own, by its "
              "access key; chain expected: the expected durations of the chain that finished last, whose "
              "difference to the bound is in the rest):")
        print()
        print("| shape | mode | command | stack (access key) | wall s | bound s | ratio | calls | 503 | excess "
              "| scheduling lag | poll lag | emulator service | throttle wait | rest | chain expected |")
        print("|" + "---|" * 16)
        for r in multi:
            for phase in ("up", "down"):
                for s in r.get(f"{phase}_stack_medians") or []:
                    print(f"| {r['shape']} | {r['mode']} | {phase} | {s['project'] or s['stack']} ({s['key']}) "
                          f"| {fmt(s['wall_s'], '.2f')} "
                          f"| {fmt(s['bound_s'], '.2f')} | {fmt(s['ratio'])} | {fmt(s['calls'], 'g')} "
                          f"| {fmt(s['throttled_503'], 'g')} | {fmt(s['excess_s'], '.2f')} "
                          f"| {fmt(s['scheduling_lag_s'])} | {fmt(s['poll_lag_s'])} "
                          f"| {fmt(s['emulator_service_s'])} | {fmt(s['throttle_wait_s'])} "
                          f"| {fmt(s['rest_s'], '.2f')} | {fmt(s['chain_expected_s'], '.2f')} |")
    for r in rows:
        if r.get("up_stack_ratios"):
            print(f"\n{r['shape']} ({r['mode']}): each stack's ratio, up {r['up_stack_ratios']}, "
                  f"down {r['down_stack_ratios']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=bench.default_bin(), help="provision binary (default: the debug build)")
    ap.add_argument("--build", default=None, help="label of the binary in the report (default: from its path)")
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--modes", default="plain,realistic")
    ap.add_argument("--json", metavar="FILE", help="also write every figure here")
    ap.add_argument("--extra-arg", action="append", default=[], metavar="ARG",
                    help="passed to every `up` and `down` (repeatable), e.g. --extra-arg=--parallelism=32")
    a = ap.parse_args(argv)
    shapes = [s for s in a.shapes.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            sys.exit(f"--shapes: unknown shape {s!r} (known: {', '.join(SHAPES)})")
    build = a.build or ("release" if "/release/" in a.bin else "debug")
    workdir = tempfile.mkdtemp(prefix="provision-shapes-")
    binary = os.path.join(workdir, "provision")
    shutil.copy2(a.bin, binary)
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        env.pop(k, None)
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                "PROVISION_TIME_SCALE": repr(a.scale), "AWS_EC2_METADATA_DISABLED": "true"})
    spec_up = bench.bound("up", a.scale)["bound_s"]
    spec_down = bench.bound("down", a.scale, purge_efs=True)["bound_s"]
    print(f"# shapes benchmark: {build} build {a.bin} (sha256 {bench.sha256(binary)[:12]}), {bench.git_describe()}; "
          f"scale {a.scale}; {a.runs} runs per shape; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"# ../shared/tools/critical_path.py at this scale: up {spec_up:.2f} s, down --purge-efs {spec_down:.2f} s",
          flush=True)
    rows, everything = [], []
    try:
        for mode in a.modes.split(","):
            realistic = mode == "realistic"
            port = bench.free_port()
            logdir = os.path.join(workdir, f"emu-{mode}")
            os.makedirs(logdir)
            # plain: the latency profile only; realistic: --realistic --throttle.
            emu = bench.Emulator(port, a.scale, realistic, logdir, realistic)
            env["AWS_ENDPOINT_URL"] = emu.url
            try:
                emu.wait_ready()
                w = cycle(binary, env, emu, workdir, f"{mode}-warmup", SHAPES["default"])
                print(f"{mode}: warm-up (untimed) up {w['up']['commands'][0]['wall_s']:.2f} s, "
                      f"down {w['down']['commands'][0]['wall_s']:.2f} s", flush=True)
                for shape in shapes:
                    runs = []
                    for i in range(1, a.runs + 1):
                        r = cycle(binary, env, emu, workdir, f"{mode}-{shape}-run{i}", SHAPES[shape], a.extra_arg)
                        runs.append(r)
                        print(f"{mode} {shape} run {i}: up "
                              + ", ".join(f"{c['wall_s']:.2f} s ({fmt(c['ratio'])}, exit {c['exit']})"
                                          for c in r["up"]["commands"])
                              + "; down "
                              + ", ".join(f"{c['wall_s']:.2f} s ({fmt(c['ratio'])}, exit {c['exit']})"
                                          for c in r["down"]["commands"])
                              + f"; 503 {r['up']['throttled_503']} / {r['down']['throttled_503']}", flush=True)
                    rows.append(summarize(shape, mode, runs))
                    everything.append({"shape": shape, "mode": mode, "runs": runs})
            finally:
                emu.stop()
    finally:
        print_tables(rows, build)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"build": build, "bin": a.bin, "scale": a.scale, "source": bench.git_describe(),
                           "spec_bound": {"up": spec_up, "down": spec_down}, "rows": rows, "runs": everything},
                          f, indent=1, default=str)
            print(f"\nfigures written to {a.json}")
        shutil.rmtree(workdir, ignore_errors=True)
    failed = sum(r["up_failed"] + r["down_failed"] for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
