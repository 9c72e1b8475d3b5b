"""Test harness: starts the real omnitraild binary with a temporary config on loopback, an
ephemeral port and a NOTIFY_SOCKET owned by the test, and talks to it over HTTP.
Standard library only, so the suite needs nothing but python3."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

OMNITRAILD = os.environ.get("OMNITRAILD", "")
SOURCE_DIR = os.environ.get("OMNITRAIL_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def require_binary():
    if not OMNITRAILD or not os.path.exists(OMNITRAILD):
        raise RuntimeError("OMNITRAILD must point at the built omnitraild (run through ctest)")


class Daemon:
    """One omnitraild process. Use as a context manager; it is killed on exit if still running."""

    def __init__(self, config_text, extra_env=None, files=None):
        require_binary()
        self.dir = tempfile.TemporaryDirectory(prefix="omnitrail-it-")
        self.path = self.dir.name
        for name, content in (files or {}).items():
            full = os.path.join(self.path, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(content)
            os.chmod(full, 0o600)
        self.config_path = os.path.join(self.path, "omnitrail.yaml")
        self.write_config(config_text)
        self.notify_path = os.path.join(self.path, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setblocking(False)
        self.messages = []  # every sd_notify datagram, split into lines
        self.stderr_path = os.path.join(self.path, "stderr.log")
        self.extra_env = extra_env or {}
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self, wait_ready=True, timeout=30):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env["NOTIFY_SOCKET"] = self.notify_path
        env.update(self.extra_env)
        if getattr(self, "stderr", None):
            self.stderr.close()
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([OMNITRAILD, "--config", self.config_path], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr, cwd=self.path)
        if wait_ready:
            status = self.wait_for("READY=1", timeout=timeout)
            m = re.search(r"listening on https?://([0-9.]+|\[[0-9a-f:]+\]):(\d+)", self.last_status())
            if not m:
                raise AssertionError("READY without a listening address in STATUS: %r; log:\n%s" % (status, self.log()))
            self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        if getattr(self, "stderr", None):
            self.stderr.close()
        self.notify.close()
        self.dir.cleanup()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _drain(self):
        while True:
            try:
                data = self.notify.recv(65536)
            except (socket.timeout, BlockingIOError):
                return
            self.messages.extend(data.decode("utf-8", "replace").split("\n"))

    def wait_for(self, line_prefix, timeout=20, start=0):
        """Waits until a notification line starting with line_prefix arrives (index >= start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain()
            for i in range(start, len(self.messages)):
                if self.messages[i].startswith(line_prefix):
                    return self.messages[i]
            if self.proc and self.proc.poll() is not None:
                time.sleep(0.05)
                self._drain()
                for i in range(start, len(self.messages)):
                    if self.messages[i].startswith(line_prefix):
                        return self.messages[i]
                raise AssertionError("omnitraild exited (%s) before %r; log:\n%s" % (self.proc.returncode, line_prefix, self.log()))
            time.sleep(0.02)
        raise AssertionError("no %r within %ss; got %r; log:\n%s" % (line_prefix, timeout, self.messages, self.log()))

    def last_status(self):
        self._drain()
        statuses = [m for m in self.messages if m.startswith("STATUS=")]
        return statuses[-1] if statuses else ""

    def signal(self, signo):
        self.proc.send_signal(signo)

    def wait_exit(self, timeout):
        return self.proc.wait(timeout)

    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
        finally:
            conn.close()

    def get_json(self, path, headers=None):
        status, hdrs, data = self.request("GET", path, headers=headers)
        return status, json.loads(data.decode("utf-8"))

    def raw(self, payload, read_timeout=5.0):
        """Sends raw bytes on a new connection and returns everything read until close/timeout."""
        s = socket.create_connection((self.host, self.port), timeout=read_timeout)
        try:
            s.sendall(payload)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            s.close()


def wait_until(predicate, timeout=10, what="condition"):
    """Polls `predicate` until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


MINIMAL_CONFIG = """
server:
  listen: ["127.0.0.1:0"]
  limits:
    read_timeout: 2s
    idle_timeout: 3s
    shutdown_timeout: 3s
storage:
  sqlite_path: state/omnitrail.db
logging:
  level: debug
"""


def main():
    unittest.main(verbosity=2)


API_CONFIG = """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits:
    read_timeout: 5s
    idle_timeout: 5s
    shutdown_timeout: 3s
    max_body_bytes: 256KiB
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - id: alice
    name: Alice Agent
    extensions: ["6001"]
    queues: [support]
    token_file: secrets/alice.token
logging:
  level: info
"""

API_FILES = {
    "secrets/admin.token": "admin-token-for-tests-0123456789\n",
    "secrets/alice.token": "alice-token-for-tests-0123456789\n",
}
ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
AGENT = {"Authorization": "Bearer alice-token-for-tests-0123456789"}


def api_daemon(extra_config=""):
    return Daemon(API_CONFIG + extra_config, files=API_FILES)


def call(daemon, method, path, body=None, headers=None, token=ADMIN):
    """JSON request; returns (status, parsed JSON or raw text)."""
    hdrs = dict(token or {})
    hdrs.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else body
        hdrs.setdefault("Content-Type", "application/json")
    status, _, raw = daemon.request(method, path, body=data, headers=hdrs)
    try:
        return status, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, raw


_counter = [0]


def interaction(daemon, identifiers, channel="phone", kind=None, token=ADMIN, **fields):
    """POSTs one interaction with a fresh external_id; returns (status, body)."""
    _counter[0] += 1
    body = {"external_id": "it-%d-%d" % (os.getpid(), _counter[0]), "channel": channel,
            "kind": kind or {"phone": "call.ringing", "sms": "sms.received", "email": "email.received",
                             "chat": "chat.started"}.get(channel, "api.event"),
            "identifiers": [{"kind": k, "value": v, "trust": t} for (k, v, t) in identifiers]}
    body.update(fields)
    return call(daemon, "POST", "/api/v1/interactions", body, token=token)
