#!/usr/bin/env python3
"""Benchmark `provision up` / `provision down --purge-efs --delete-data` against
the local AWS emulator with its full latency profile, time-scaled.

Not a test: it reports figures, it asserts nothing about time (`make test`
never runs it). Standard library only; run it with emulator/.venv/bin/python
(or `make bench`).

First one untimed up+down (`--warmup cycle`, the default): a fresh emulator
process pays for importing moto's service modules on its first requests (up
to ~0.8 s here), which is emulator time, not AWS time.

For each run, in a fresh temporary directory (so a fresh state file), against a
freshly reset emulator:
  - wall time and peak RSS (ru_maxrss from os.wait4) of `up` and of `down`;
  - the emulator's call log around each command: calls by operation, throttled
    answers (HTTP 503, RequestLimitExceeded) and other error answers;
and once: the bound from ../shared/tools/critical_path.py at the same scale
(minimal schedule and the seed's nested-stack order), for `up` and for
`down --purge-efs`.

Ratios: wall / bound (1.00 = as fast as AWS allows; the goal is <= 1.05),
seed / bound (how much slower the original order would be), wall / seed.
"""
import argparse
import atexit
import collections
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import shutil
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CRITICAL_PATH = os.path.join(REPO, "..", "shared", "tools", "critical_path.py")


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/provision-target")
    return os.path.join(target, "debug", "provision")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark provision up/down against the time-scaled emulator.",
    )
    ap.add_argument("--scale", type=float, default=0.02,
                    help="emulator --scale and PROVISION_TIME_SCALE (default 0.02)")
    ap.add_argument("--runs", type=int, default=3, help="up+down cycles (default 3)")
    ap.add_argument("--throttle", dest="throttle", action="store_true", default=True,
                    help="emulator EC2 token buckets on (default)")
    ap.add_argument("--no-throttle", dest="throttle", action="store_false",
                    help="turn the emulator's EC2 throttling off")
    ap.add_argument("--bin", default=default_bin(),
                    help="provision binary (default $CARGO_TARGET_DIR/debug/provision, "
                         "CARGO_TARGET_DIR defaulting to ~/.cache/provision-target)")
    ap.add_argument("--extra-arg", action="append", default=[], metavar="ARG",
                    help="passed through to `provision up` (repeatable), e.g. a config file")
    ap.add_argument("--down-arg", action="append", default=[], metavar="ARG",
                    help="passed through to `provision down` (repeatable), e.g. --parallelism 4")
    ap.add_argument("--realistic", action="store_true",
                    help="emulator --realistic (eventual consistency, IAM propagation, rare 5xx; implies throttling)")
    ap.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    ap.add_argument("--top", type=int, default=8, help="operations listed per command (default 8)")
    ap.add_argument("--json", metavar="FILE", help="also write every figure (and the call logs) here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directories")
    ap.add_argument("--warmup", choices=["cycle", "none"], default="cycle",
                    help="before the timed runs, one untimed up+down against the fresh emulator "
                         "(default `cycle`): the emulator's first request to each service and "
                         "operation imports moto's modules and builds its app, which costs up to "
                         "~0.8 s on this machine and is not AWS time. `none` measures it too.")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be >= 1")
    if a.scale <= 0:
        ap.error("--scale must be > 0 (0 = instant: there is no bound to compare with)")
    return a


# ---------------------------------------------------------------- emulator

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, port, scale, throttle, logdir, realistic=False):
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(logdir, "emulator.log")
        cmd = [os.path.join(REPO, "emulator", "run"), "--port", str(port), "--scale", str(scale)]
        if throttle:
            cmd.append("--throttle")
        if realistic:
            cmd.append("--realistic")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout=600):
        """Waits for the `ready` line (the first start may create the venv)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                sys.exit(f"emulator exited with {self.proc.returncode}:\n{self.tail()}")
            with open(self.log_path, errors="replace") as f:
                if any("emulator ready on" in line for line in f):
                    return
            time.sleep(0.1)
        sys.exit(f"emulator not ready after {timeout} s:\n{self.tail()}")

    def tail(self, n=30):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def request(self, method, path):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def calls(self):
        return self.request("GET", "/_emulator/calls")["calls"]

    def clear_calls(self):
        self.request("DELETE", "/_emulator/calls")

    def reset(self):
        self.request("POST", "/_emulator/reset")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # `run` execs python: this pid is the server
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- bounds

def bound(direction, scale, schedule="minimal", purge_efs=False):
    cmd = [sys.executable, CRITICAL_PATH, "--direction", direction, "--schedule", schedule,
           "--scale", repr(scale), "--json"]
    if purge_efs:
        cmd.append("--purge-efs")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


# ---------------------------------------------------------------- one command

# The call that makes (or removes) a step's resource, by step id prefix
# (`step_op`); which of a command's successful calls of that operation is a
# step's own: `own_calls`.
CREATE_OPS = [
    ("vpc", "ec2:CreateVpc", "ec2:DeleteVpc"),
    ("subnet.", "ec2:CreateSubnet", "ec2:DeleteSubnet"),
    ("rtb.", "ec2:CreateRouteTable", "ec2:DeleteRouteTable"),
    ("route.", "ec2:CreateRoute", "ec2:DeleteRoute"),
    ("nat", "ec2:CreateNatGateway", "ec2:DeleteNatGateway"),
    ("eip", "ec2:AllocateAddress", "ec2:ReleaseAddress"),
    ("igw.attach", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway"),
    ("igw", "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway"),
    ("vpce.", "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"),
    ("sg.", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup"),
    ("nfw.firewall", "network-firewall:CreateFirewall", "network-firewall:DeleteFirewall"),
    ("nfw.policy", "network-firewall:CreateFirewallPolicy", "network-firewall:DeleteFirewallPolicy"),
    ("nfw.rule_group", "network-firewall:CreateRuleGroup", "network-firewall:DeleteRuleGroup"),
    ("sm.domain", "sagemaker:CreateDomain", "sagemaker:DeleteDomain"),
    ("sm.user", "sagemaker:CreateUserProfile", "sagemaker:DeleteUserProfile"),
    ("sm.space", "sagemaker:CreateSpace", "sagemaker:DeleteSpace"),
    ("sm.app", "sagemaker:CreateApp", "sagemaker:DeleteApp"),
    ("efs.mount_target", "elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget"),
    ("efs.file_system", "elasticfilesystem:CreateFileSystem", "elasticfilesystem:DeleteFileSystem"),
]


def step_op(step, up):
    """The create (delete) call of a step id: a prefix of CREATE_OPS ending in "." matches any id it
    starts, another the id itself and its zone / user copies (`nat.us-east-1b`, `sm.app.user001`;
    not `vpce.s3` for `vpc`); a route table's association step (`rtb.nat.assoc`) is its
    AssociateRouteTable (DisassociateRouteTable)."""
    if step.endswith(".assoc") or ".assoc." in step:
        return "ec2:AssociateRouteTable" if up else "ec2:DisassociateRouteTable"
    for prefix, create, delete in CREATE_OPS:
        if step == prefix or step.startswith(prefix if prefix.endswith(".") else prefix + "."):
            return create if up else delete
    return None


def step_service(step):
    """The AWS service of a step id's kind, by its first segment (`nfw.logging` -> network-firewall)."""
    head = step.split(".", 1)[0]
    for prefix, create, _ in CREATE_OPS:
        if prefix.split(".", 1)[0] == head:
            return create.split(":", 1)[0]
    return None


# The error codes of a throttled answer (EC2's RequestLimitExceeded, HTTP 503; the other services'
# request-rate errors). A logged call without a code (an emulator from before the call log had
# codes) counts as throttled when its status is 503; with a code, a 503 of another code (a
# transient ServiceUnavailable / Unavailable of --realistic) is not throttling.
THROTTLE_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"}


def throttled(call):
    """Whether an entry of the emulator's call log is a throttled answer."""
    code = call.get("code")
    return code in THROTTLE_CODES if code else call["status"] == 503


def own_calls(steps, calls, up):
    """Step id -> its own successful create (delete) call, from `calls` (one command's).

    A step's own call started at or after the step did, and at least the
    step's expected duration before it finished (the emulator makes the
    resource ready that long after the call created it; the step finishes
    once it sees it ready). Several steps of one kind (the VPC endpoints, the
    subnets...) start together and, throttled, get their calls through in
    any order: each call goes to one step only, earliest-deadline first (the
    step that had to have its call earliest takes the earliest call that
    fits). A step that no call fits takes the first unclaimed one between its
    start and finish (as when its expected duration is not the emulator's).
    """
    by_op = collections.defaultdict(list)
    for t in steps:
        op = step_op(t["step"], up)
        if op and t.get("started") is not None and t.get("done") is not None:
            by_op[op].append(t)
    own = {}
    for op, ts in by_op.items():
        ok = sorted((c for c in calls if c["operation"] == op and c["status"] < 400), key=lambda c: c["t"])
        claimed = set()
        for t in sorted(ts, key=lambda t: (t["done"] - t["expected_s"], t["started"])):
            window = [i for i, c in enumerate(ok)
                      if i not in claimed and t["started"] - 0.001 <= c["t"] <= t["done"]]
            fits = [i for i in window if ok[i]["t"] + t["expected_s"] <= t["done"] + 0.02]
            if fits or window:
                i = (fits or window)[0]
                claimed.add(i)
                own[t["step"]] = ok[i]
    return own


def busy_time(calls, start, end):
    """How long within [start, end] at least one of `calls` was inside the emulator."""
    spans = sorted((max(start, c["t"]), min(end, c["t"] + c.get("dur_s", 0.0))) for c in calls)
    total, reach = 0.0, start
    for a, b in spans:
        if b <= a:
            continue
        if a > reach:
            total += b - a
        elif b > reach:
            total += b - reach
        reach = max(reach, b)
    return total


def attribute(trace, calls, t0_epoch, wall, bound_s, up):
    """Splits wall - bound along the chain of steps that finished last.

    The chain: from the step that finished last, back through the need that
    finished last, to a step with none (the run's actual critical chain; its
    expected durations add up to at most the bound). Per step of the chain:
      scheduling lag  = started - ready (a slot was not free, or the engine was late),
                        plus ready - the need's finish (the engine's bookkeeping);
      emulator service = dur_s of the step's create (delete) call in the call log
                        (`own_calls`);
      poll lag        = finished - when the emulator made the resource ready
                        (its lifecycle: that call's end + the step's expected
                        duration, as the emulator's latency profile sets it);
      throttle wait   = the start of that successful call - the start of the
                        step's first attempt of the same call that was throttled
                        (`throttled`: 503 RequestLimitExceeded), at or after the
                        step started: the time the step spent being refused and
                        backing off before its resource was asked for (0 when
                        its create call was never throttled);
    and two more parts of emulator service, so that a busy emulator is not
    counted as the tool's lag:
      start           = the time before the chain's first step was ready during
                        which at least one of the command's calls (STS, the
                        pre-flight's reads) was inside the emulator (the union
                        of their [t, t + dur_s]);
      polls           = of a step's poll lag, the time from the emulator's ready
                        time to the step's finish during which the command's
                        calls of that service were inside the emulator: a poll
                        sent before the resource was ready and answered late,
                        the poll that saw it, and the step's own calls after
                        its create (the VPC's two ModifyVpcAttribute); what
                        remains is the tool's own poll lag (its sleep between
                        polls, its own work). With other steps of the same
                        service in flight at the same time this can count
                        their calls too, so it is an upper bound on the
                        emulator's part;
      steps without a create (delete) call of their own (`nfw.logging`) =
                        the time their service's calls were inside the
                        emulator while they ran;
    rest = wall - bound - those: the start outside the emulator (process
    start, state, the client's own work), the end after the last step, the
    calls a step makes before its create call (and their throttled attempts),
    and bound - the chain's expected sum (a chain other than the bound's
    finished last).

    `calls` must be this command's own calls only (with several clients of one
    emulator, the log filtered by the command's access key).
    """
    by_step = {t["step"]: t for t in trace if t.get("done") is not None}
    if not by_step:
        return None
    last = max(by_step.values(), key=lambda t: t["done"])
    chain = [last]
    while True:
        needs = [by_step[n] for n in chain[-1]["needs"] if n in by_step]
        if not needs:
            break
        chain.append(max(needs, key=lambda t: t["done"]))
    chain.reverse()
    sched = poll = service = throttle = poll_service = unmatched_service = 0.0
    unknown = []
    throttled_steps = {}
    own = own_calls(by_step.values(), calls, up)
    for i, t in enumerate(chain):
        sched += max(0.0, t["started"] - t["ready"])
        if i:
            sched += max(0.0, t["ready"] - chain[i - 1]["done"])
        op = step_op(t["step"], up)
        c = own.get(t["step"])
        if c is None:
            unknown.append(t["step"])
            # No create (delete) call of its own (`nfw.logging`: DescribeLoggingConfiguration and one
            # UpdateLoggingConfiguration per destination): the time its service's calls were inside
            # the emulator while it ran.
            svc = step_service(t["step"])
            if svc:
                unmatched_service += busy_time([x for x in calls if x["operation"].startswith(svc + ":")],
                                               t["started"], t["done"])
            continue
        service += c.get("dur_s", 0.0)
        emulator_ready = c["t"] + c.get("dur_s", 0.0) + t["expected_s"]
        lag = max(0.0, t["done"] - emulator_ready)
        if lag:
            service_name = c["operation"].split(":", 1)[0]
            same_service = [x for x in calls if x["operation"].startswith(service_name + ":")]
            inside = min(lag, busy_time(same_service, emulator_ready, t["done"]))
            poll_service += inside
            lag -= inside
        poll += lag
        refused = [x for x in calls if x["operation"] == op and t["started"] - 0.001 <= x["t"] < c["t"]
                   and throttled(x)]
        if refused:
            wait = c["t"] - min(x["t"] for x in refused)
            throttle += wait
            throttled_steps[t["step"]] = {"wait_s": wait, "refused_in_window": len(refused)}
    excess = wall - bound_s
    start_service = busy_time(calls, t0_epoch, chain[0]["ready"])
    return {
        "chain": [t["step"] for t in chain],
        "chain_expected_s": sum(t["expected_s"] for t in chain),
        "excess_s": excess,
        "scheduling_lag_s": sched,
        "poll_lag_s": poll,
        "emulator_service_s": service + poll_service + start_service + unmatched_service,
        "emulator_service_create_s": service,
        "emulator_service_unmatched_steps_s": unmatched_service,
        "emulator_service_poll_s": poll_service,
        "emulator_service_start_s": start_service,
        "throttle_wait_s": throttle,
        "rest_s": excess - sched - poll - service - poll_service - start_service - unmatched_service - throttle,
        "start_s": chain[0]["ready"] - t0_epoch,
        "end_s": t0_epoch + wall - chain[-1]["done"],
        "steps_without_a_known_call": unknown,
        # chain step -> its throttle wait and the throttled attempts of its create (delete) operation between
        # its start and its own call (the command's, of any step of that kind: the log does not say which)
        "throttled_steps": throttled_steps,
        "emulator_service_all_calls_s": sum(c.get("dur_s", 0.0) for c in calls),
        "throttled_calls": sum(throttled(c) for c in calls),
    }


def run_command(binary, args, env, cwd, emu, name, bound_s=None):
    """Runs `binary args` with the call log cleared first; returns its figures."""
    emu.clear_calls()
    trace_path = os.path.join(cwd, f"{name}.trace.jsonl")
    env = dict(env, PROVISION_TRACE=trace_path)
    out_path = os.path.join(cwd, f"{name}.out")
    with open(out_path, "w") as out:
        t0_epoch = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen([binary, *args], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    calls = emu.calls()
    by_op = collections.Counter(c["operation"] for c in calls)
    throttled = [c for c in calls if c["status"] == 503]
    errors = [c for c in calls if c["status"] >= 400 and c["status"] != 503]
    t_first = min((c["t"] for c in calls), default=t0_epoch) - t0_epoch
    t_last = max((c["t"] for c in calls), default=t0_epoch) - t0_epoch
    trace = []
    if os.path.exists(trace_path):
        with open(trace_path) as f:
            trace = [json.loads(line) for line in f if line.strip()]
    attribution = attribute(trace, calls, t0_epoch, wall, bound_s, args[0] == "up") if bound_s else None
    return {
        "attribution": attribution,
        "command": args,
        "exit": proc.returncode,
        "wall_s": wall,
        "peak_rss_mb": rusage.ru_maxrss / 1024.0,  # Linux: KiB
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "calls": len(calls),
        "by_operation": dict(by_op.most_common()),
        "throttled_503": len(throttled),
        "throttled_by_operation": dict(collections.Counter(c["operation"] for c in throttled)),
        "error_answers": len(errors),
        "errors_by_operation": dict(collections.Counter(
            f'{c["operation"]} {c["status"]}' for c in errors).most_common()),
        "first_call_s": t_first,
        "last_call_s": t_last,
        "output_path": out_path,
        # the raw log, times relative to the command's start (for --json readers)
        "call_log": [{"t": round(c["t"] - t0_epoch, 3), "op": c["operation"], "status": c["status"],
                      "code": c.get("code"), "dur_s": c.get("dur_s")} for c in calls],
        "trace": trace,
    }


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_describe():
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               check=True, capture_output=True, text=True).stdout.strip()
        return f"git {head}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "git: unknown"


def output_tail(path, n=15):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


# ---------------------------------------------------------------- report

def fmt_top(by_op, n):
    items = list(by_op.items())
    shown = ", ".join(f"{op} {k}" for op, k in items[:n])
    if len(items) > n:
        shown += f", ... ({len(items) - n} more operations)"
    return shown


def main(argv=None):
    a = parse_args(argv)
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no provision binary at {binary} (run `cargo build`, or pass --bin)")

    b_up = bound("up", a.scale)
    b_up_seed = bound("up", a.scale, "seed")
    b_down = bound("down", a.scale, purge_efs=True)
    b_down_seed = bound("down", a.scale, "seed", purge_efs=True)
    up_bound, up_seed = b_up["bound_s"], b_up_seed["bound_s"]
    down_bound, down_seed = b_down["bound_s"], b_down_seed["bound_s"]

    workdir = tempfile.mkdtemp(prefix="provision-bench-")
    if not a.keep:
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    # Run a copy: a `cargo build` elsewhere during the benchmark must not swap
    # the binary between runs.
    snapshot = os.path.join(workdir, "provision")
    shutil.copy2(binary, snapshot)
    source, binary = binary, snapshot
    port = a.port or free_port()
    emu = Emulator(port, a.scale, a.throttle, workdir, a.realistic)
    runs = []
    try:
        emu.wait_ready()
        print(f"# provision benchmark: scale {a.scale}, throttle {'on' if a.throttle else 'off'}, "
              f"realistic {'on' if a.realistic else 'off'}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
              f"{a.runs} runs, {os.cpu_count()} CPUs, {platform.platform()}")
        print(f"# binary {source} (copied; sha256 {sha256(binary)[:12]}); repository now at {git_describe()}")
        print(f"# emulator {emu.url}; work dir {workdir}; warm-up {a.warmup}")
        if a.extra_arg:
            print(f"# extra arguments to `up`: {' '.join(a.extra_arg)}")
        print(f"# bound up = {up_bound:.2f} s via {' -> '.join(b_up['path'])}")
        print(f"#   seed order {up_seed:.2f} s (seed/bound {up_seed / up_bound:.2f})")
        print(f"# bound down --purge-efs = {down_bound:.2f} s via {' -> '.join(b_down['path'])}")
        print(f"#   seed order {down_seed:.2f} s (seed/bound {down_seed / down_bound:.2f})")
        print(flush=True)

        base_env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
            base_env.pop(k, None)
        base_env.update({
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": emu.url,
            "AWS_REGION": "us-east-1",
            "PROVISION_TIME_SCALE": repr(a.scale),
            "AWS_EC2_METADATA_DISABLED": "true",
        })

        if a.warmup == "cycle":
            wdir = os.path.join(workdir, "warmup")
            os.makedirs(wdir)
            emu.reset()
            w_up = run_command(binary, ["up", *a.extra_arg], base_env, wdir, emu, "up")
            w_down = run_command(binary, ["down", "--purge-efs", "--delete-data", "--yes"], base_env, wdir,
                                 emu, "down")
            print(f"warm-up (untimed): up {w_up['wall_s']:.2f} s exit {w_up['exit']}, "
                  f"down {w_down['wall_s']:.2f} s exit {w_down['exit']}", flush=True)

        for i in range(1, a.runs + 1):
            emu.reset()
            rundir = os.path.join(workdir, f"run{i}")
            os.makedirs(rundir)
            up = run_command(binary, ["up", *a.extra_arg], base_env, rundir, emu, "up", up_bound)
            if up["exit"] != 0:
                print(f"run {i}: `provision up` exited {up['exit']}:\n{output_tail(up['output_path'])}",
                      file=sys.stderr)
            down = run_command(binary, ["down", "--purge-efs", "--delete-data", "--yes", *a.down_arg], base_env,
                               rundir, emu, "down", down_bound)
            if down["exit"] != 0:
                print(f"run {i}: `provision down` exited {down['exit']}:\n"
                      f"{output_tail(down['output_path'])}", file=sys.stderr)
            r = {"run": i, "up": up, "down": down,
                 "up_ratio": up["wall_s"] / up_bound, "up_wall_over_seed": up["wall_s"] / up_seed,
                 "down_ratio": down["wall_s"] / down_bound,
                 "down_wall_over_seed": down["wall_s"] / down_seed}
            runs.append(r)
            print(f"run {i}: up {up['wall_s']:.2f} s (ratio {r['up_ratio']:.3f}, exit {up['exit']}), "
                  f"down {down['wall_s']:.2f} s (ratio {r['down_ratio']:.3f}, exit {down['exit']})",
                  flush=True)
    finally:
        emu.stop()

    # ---- the table
    print()
    print("| run | up wall s | up bound s | up ratio | up seed/bound | up wall/seed "
          "| down wall s | down bound s | down ratio | down seed/bound | down wall/seed "
          "| API calls up / down | 503 up / down | other errors up / down | exit up / down "
          "| peak RSS MB up / down |")
    print("|" + "---|" * 16)
    for r in runs:
        up, down = r["up"], r["down"]
        print(f"| {r['run']} | {up['wall_s']:.2f} | {up_bound:.2f} | {r['up_ratio']:.3f} "
              f"| {up_seed / up_bound:.2f} | {r['up_wall_over_seed']:.3f} "
              f"| {down['wall_s']:.2f} | {down_bound:.2f} | {r['down_ratio']:.3f} "
              f"| {down_seed / down_bound:.2f} | {r['down_wall_over_seed']:.3f} "
              f"| {up['calls']} / {down['calls']} | {up['throttled_503']} / {down['throttled_503']} "
              f"| {up['error_answers']} / {down['error_answers']} | {up['exit']} / {down['exit']} "
              f"| {up['peak_rss_mb']:.1f} / {down['peak_rss_mb']:.1f} |")
    med = lambda xs: statistics.median(xs)  # noqa: E731
    m = {
        "up_wall_s": med([r["up"]["wall_s"] for r in runs]),
        "up_ratio": med([r["up_ratio"] for r in runs]),
        "up_wall_over_seed": med([r["up_wall_over_seed"] for r in runs]),
        "down_wall_s": med([r["down"]["wall_s"] for r in runs]),
        "down_ratio": med([r["down_ratio"] for r in runs]),
        "down_wall_over_seed": med([r["down_wall_over_seed"] for r in runs]),
        "calls_up": med([r["up"]["calls"] for r in runs]),
        "calls_down": med([r["down"]["calls"] for r in runs]),
        "throttled_total": sum(r["up"]["throttled_503"] + r["down"]["throttled_503"] for r in runs),
        "failed_commands": sum((r["up"]["exit"] != 0) + (r["down"]["exit"] != 0) for r in runs),
        "peak_rss_mb": max(max(r["up"]["peak_rss_mb"], r["down"]["peak_rss_mb"]) for r in runs),
    }
    print(f"| median | {m['up_wall_s']:.2f} | {up_bound:.2f} | **{m['up_ratio']:.3f}** "
          f"| {up_seed / up_bound:.2f} | {m['up_wall_over_seed']:.3f} "
          f"| {m['down_wall_s']:.2f} | {down_bound:.2f} | **{m['down_ratio']:.3f}** "
          f"| {down_seed / down_bound:.2f} | {m['down_wall_over_seed']:.3f} "
          f"| {m['calls_up']:g} / {m['calls_down']:g} | {m['throttled_total']} (all runs) "
          f"| | {m['failed_commands']} failed | max {m['peak_rss_mb']:.1f} |")
    print()
    for r in runs:
        for name in ("up", "down"):
            c = r[name]
            print(f"run {r['run']} {name}: {c['calls']} calls; top: {fmt_top(c['by_operation'], a.top)}")
            if c["throttled_503"]:
                print(f"  503 by operation: {fmt_top(c['throttled_by_operation'], a.top)}")
            if c["error_answers"]:
                print(f"  other error answers: {fmt_top(c['errors_by_operation'], a.top)}")
            print(f"  first call at +{c['first_call_s']:.2f} s, last call at +{c['last_call_s']:.2f} s, "
                  f"exit at +{c['wall_s']:.2f} s; provision CPU {c['cpu_s']:.2f} s")
    print()
    print("Attribution of wall - bound, per run (seconds; see bench/run.py `attribute`):")
    print()
    print("| run | command | excess | scheduling lag | poll lag | emulator service | throttle wait | rest "
          "| (start, end) | chain | 503 |")
    print("|" + "---|" * 11)
    for r in runs:
        for name in ("up", "down"):
            at = r[name]["attribution"]
            if not at:
                continue
            print(f"| {r['run']} | {name} | {at['excess_s']:.2f} | {at['scheduling_lag_s']:.3f} "
                  f"| {at['poll_lag_s']:.3f} | {at['emulator_service_s']:.3f} | {at['throttle_wait_s']:.3f} "
                  f"| {at['rest_s']:.2f} "
                  f"| ({at['start_s']:.2f}, {at['end_s']:.2f}) | {' > '.join(at['chain'])} "
                  f"| {r[name]['throttled_503']} |")
    print()
    verdict = "within" if m["up_ratio"] <= 1.05 and m["down_ratio"] <= 1.05 else "NOT within"
    print(f"median up ratio {m['up_ratio']:.3f}, median down ratio {m['down_ratio']:.3f}: "
          f"{verdict} the 1.05 goal; {m['throttled_total']} throttled answers (503), "
          f"{m['failed_commands']} failed commands over {len(runs)} runs")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({
                "scale": a.scale, "throttle": a.throttle, "runs_requested": a.runs,
                "warmup": a.warmup, "source": git_describe(), "binary_sha256": sha256(binary),
                "binary": source, "extra_args": a.extra_arg, "cpus": os.cpu_count(),
                "platform": platform.platform(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "bounds": {"up": b_up, "up_seed": b_up_seed, "down": b_down, "down_seed": b_down_seed},
                "runs": runs, "median": m,
            }, f, indent=1)
        print(f"figures written to {a.json}")
    if a.keep:
        print(f"run directories kept in {workdir}")
    return 1 if m["failed_commands"] else 0


if __name__ == "__main__":
    sys.exit(main())
