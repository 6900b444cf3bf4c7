"""Helpers of the `seqroute serve` integration tests (tests/integration/test_serve_*.sh).

Trains a tiny policy, starts servers on 127.0.0.1 with a port the kernel picks
(--listen 127.0.0.1:0; the port is read from the serve_start log line), sends
JSON requests with the standard library only, and starts a private
redis-server on loopback when the Redis checks need one.  Nothing here talks
to any address but 127.0.0.1.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

BIN = os.environ.get("SEQROUTE_BIN")

# Seconds a server gets to print its serve_start line: loading a tiny policy
# and opening a ledger take milliseconds; sanitizer builds are slower.
START_TIMEOUT = 30


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def train_policy(work):
    """Generates sessions and trains a small CQL policy in a few seconds; returns its path."""
    sessions = os.path.join(work, "s.jsonl")
    policy = os.path.join(work, "p.policy")
    subprocess.run([BIN, "synth", "--sessions", "200", "--seed", "3", "--out", sessions],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run([BIN, "train", "--data", sessions, "--out", policy, "--steps", "200",
                    "--batch", "32", "--hidden", "16", "--eval-every", "1000", "--progress",
                    "lines", "--seed", "1"], check=True, stderr=subprocess.DEVNULL)
    return policy


class Server:
    """One `seqroute serve` process; its log goes to LOG (a file in the work folder)."""

    def __init__(self, work, policy, ledger, name="serve", extra=()):
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--policy", policy, "--listen", "127.0.0.1:0", "--ledger", ledger,
             "--threads", "2", *extra],
            cwd=work, stdout=self.log, stderr=self.log)
        self.port = None
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                fail("serve exited with %s at start:\n%s" % (self.proc.returncode, self.text()))
            match = re.findall(r"serve_start listen=127\.0\.0\.1:(\d+)", self.text())
            if match:
                self.port = int(match[-1])
            else:
                time.sleep(0.05)
        check(self.port is not None, "serve did not start:\n" + self.text())

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, raw=None, timeout=30):
        """Returns (status, parsed JSON or text).  `raw` sends bytes as they are."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read().decode("utf-8")
        conn.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(payload)
        return response.status, payload

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` and waits; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("serve did not stop within 60 s of signal %d" % sig)
        self.log.close()
        return code


def free_port():
    """A TCP port on 127.0.0.1 that is free now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """$SEQROUTE_REDIS_URL, or a private redis-server on loopback; None when neither exists."""

    def __init__(self, work):
        self.proc = None
        self.url = os.environ.get("SEQROUTE_REDIS_URL")
        if self.url:
            return
        exe = shutil.which("redis-server")
        if not exe:
            return
        port = free_port()
        folder = os.path.join(work, "redis")
        os.mkdir(folder)
        self.proc = subprocess.Popen(
            [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
             "no", "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        self.url = "redis://127.0.0.1:%d" % port
                        return
            except OSError:
                time.sleep(0.05)
        self.close()

    def ledger(self, prefix):
        """The ledger URL with a key prefix of its own, so runs never share keys."""
        return "%s?prefix=%s:" % (self.url, prefix)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
