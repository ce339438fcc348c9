"""Shared fixtures: a real emulator process on a free port, boto3 clients against it."""
import collections
import os
import socket
import subprocess
import sys
import threading
import time

import boto3
import pytest

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One emulator server process (python -m provision_emulator)."""

    def __init__(self, scale=0.0, throttle=False, profile=None, realistic=False, seed=None, error_rate=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-u", "-m", "provision_emulator", "--port", str(self.port), "--scale", str(scale)]
        if throttle:
            cmd.append("--throttle")
        if profile:
            cmd += ["--profile", profile]
        if realistic:
            cmd.append("--realistic")
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if error_rate is not None:
            cmd += ["--error-rate", str(error_rate)]
        env = dict(os.environ, PYTHONPATH=EMULATOR_DIR)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if "ready" in line:
                self.ready_line = line.strip()
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {line}{self.proc.stdout.read()}")
        else:
            raise RuntimeError("emulator did not become ready")
        # Keep draining the server's output (one log line per request) so the pipe never fills up.
        self.log = collections.deque(maxlen=200)
        threading.Thread(target=lambda: self.log.extend(self.proc.stdout), daemon=True).start()

    def control(self, method, name, body=None):
        """A control-path call (/_emulator/NAME): (HTTP status, JSON answer)."""
        import json
        import urllib.error
        import urllib.request
        req = urllib.request.Request(f"{self.url}/_emulator/{name}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def get(self, name):
        return self.control("GET", name)[1]

    def post(self, name, body):
        return self.control("POST", name, body)[1]

    def client(self, service, region="us-east-1", **kw):
        from botocore.config import Config

        cfg = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
        return boto3.client(service, endpoint_url=self.url, region_name=region, config=cfg, **kw)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def emulator():
    """Instant emulator (scale 0) shared by the session. Its tests make far more VPCs, gateways and
    addresses than one account's default quotas allow (quotas.py): it runs as an account with
    raised quotas. test_quotas.py checks the defaults on emulators of its own."""
    emu = Emulator(scale=0.0)
    emu.post("quotas", {code: 100000 for code in emu.get("quotas")})
    yield emu
    emu.stop()


@pytest.fixture
def make_emulator():
    """Factory for a private emulator with its own scale/throttle/realistic; stopped after the test."""
    started = []

    def make(**kw):
        emu = Emulator(**kw)
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()
