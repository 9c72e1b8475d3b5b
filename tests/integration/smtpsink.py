"""A real SMTP server (python3-aiosmtpd) as the mail relay of the email tests, in its own process
so that a test can stop it and start it again on the same port. Each accepted message is written
to <dir>/<n>.eml with its envelope in <n>.json; recipients listed in `refuse` get a 550, those in
`defer` a 451 (temporary).

    sink = SmtpSink(port).start(); ...; sink.messages(); sink.stop()
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from dovecotpeer import free_port  # noqa: F401  (the tests take it from here too)

SERVER = r'''
import asyncio, json, os, sys
from aiosmtpd.controller import Controller
folder, port, refuse, defer = sys.argv[1], int(sys.argv[2]), set(sys.argv[3].split(",")) - {""}, set(sys.argv[4].split(",")) - {""}
delay = float(sys.argv[5])

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in refuse:
            return "550 5.1.1 no such user here"
        if address.lower() in defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if delay:
            open(os.path.join(folder, "data-started"), "w").close()
            await asyncio.sleep(delay)
        n = len([f for f in os.listdir(folder) if f.endswith(".eml")]) + 1
        with open(os.path.join(folder, "%04d.json" % n), "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(os.path.join(folder, "%04d.eml.tmp" % n), "wb") as f:
            f.write(envelope.original_content)
        os.rename(os.path.join(folder, "%04d.eml.tmp" % n), os.path.join(folder, "%04d.eml" % n))
        return "250 Message accepted for delivery"

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
'''


class SmtpSink:
    def __init__(self, port=None, refuse=(), defer=(), delay=0.0):
        self.port = port or free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="omnitrail-smtp-")
        self.dir = self.tmp.name
        self.refuse = ",".join(a.lower() for a in refuse)
        self.defer = ",".join(a.lower() for a in defer)
        self.delay = delay
        self.proc = None

    def start(self, timeout=15):
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", SERVER, self.dir, str(self.port), self.refuse,
                                      self.defer, str(self.delay)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise AssertionError("aiosmtpd did not start: %r %r" % (line, self.proc.stderr.read()))
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("aiosmtpd is not listening on %d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()
        self.proc = None

    def close(self):
        self.stop()
        self.tmp.cleanup()

    def data_started(self):
        return os.path.exists(os.path.join(self.dir, "data-started"))

    def messages(self):
        """[(envelope dict, raw bytes)] in arrival order."""
        out = []
        for name in sorted(f for f in os.listdir(self.dir) if f.endswith(".eml")):
            with open(os.path.join(self.dir, name[:-4] + ".json")) as f:
                envelope = json.load(f)
            with open(os.path.join(self.dir, name), "rb") as f:
                out.append((envelope, f.read()))
        return out
