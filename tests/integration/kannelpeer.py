"""A real Kannel for the tests: bearerbox with a `fake` SMSC, smsbox (sendsms + one sms-service
whose get-url is the daemon's MO endpoint) and fakesmsc, the fake SMS centre's client, all from
Debian's kannel / kannel-extras packages, on 127.0.0.1 and ephemeral ports, with their config,
logs and message store in a temporary folder.

fakesmsc plays the handsets: it injects MO messages ("<sender> <receiver> text <message>" on its
stdin, or as its argument for lines longer than its 255-byte stdin buffer) and logs every MT
message the SMSC hands it ("Got message N: <sender receiver text|data|udh ...>"), which
`received()` decodes (URL-encoded data, UTF-16BE for UCS-2, concatenated parts by their UDH)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SENDSMS_USER = "omnitrail"
SENDSMS_PASSWORD = "sendsms-pw-for-tests-9c41"

CONFIG = """
group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = admin-{admin_port}
admin-allow-ip = 127.0.0.1
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 0
store-type = file
store-location = "{dir}/kannel.store"
dlr-storage = internal
sms-resend-freq = 1
sms-resend-retry = -1

group = smsc
smsc = fake
smsc-id = fake
port = {fake_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 0
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {user}
password = {password}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
omit-empty = true
get-url = "{mo_url}"
{post_service}"""

# A second service: messages whose first word is "viapost" go to the post-url (text as the body).
POST_SERVICE = """
group = sms-service
keyword = viapost
catch-all = true
max-messages = 0
omit-empty = true
post-url = "{post_url}"
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, log, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited (%s); log:\n%s" % (what, proc.returncode, log()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not listen on %d; log:\n%s" % (what, port, log()))


def mo_url(daemon_port, connector, secret):
    """The sms-service get-url for the daemon's MO endpoint (connectors/kannel/README.md)."""
    return ("http://127.0.0.1:%d/webhooks/%s/mo?secret=%s&id=%%I&from=%%p&to=%%P&text=%%b&coding=%%c"
            "&charset=%%C&time=%%T&smsc=%%i" % (daemon_port, connector, urllib.parse.quote(secret, safe="")))


def mo_post_url(daemon_port, connector, secret):
    """The same as a post-url: everything but the text in the URL."""
    return ("http://127.0.0.1:%d/webhooks/%s/mo?secret=%s&id=%%I&from=%%p&to=%%P&coding=%%c&time=%%T&smsc=%%i"
            % (daemon_port, connector, urllib.parse.quote(secret, safe="")))


class Kannel:
    def __init__(self, mo_url, post_url=None):
        for binary in ("bearerbox", "smsbox"):
            if not shutil.which(binary, path="/usr/sbin:/usr/bin"):
                raise RuntimeError("%s is not installed (scripts/setup.sh --test installs kannel)" % binary)
        if not os.access(FAKESMSC, os.X_OK):
            raise RuntimeError("fakesmsc is not installed (scripts/setup.sh --test installs kannel-extras)")
        self.tmp = tempfile.TemporaryDirectory(prefix="omnitrail-kannel-")
        self.dir = self.tmp.name
        self.admin_port, self.smsbox_port, self.fake_port, self.sendsms_port = (free_port() for _ in range(4))
        self.config = os.path.join(self.dir, "kannel.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, admin_port=self.admin_port, smsbox_port=self.smsbox_port,
                                  fake_port=self.fake_port, sendsms_port=self.sendsms_port, user=SENDSMS_USER,
                                  password=SENDSMS_PASSWORD, mo_url=mo_url,
                                  post_service=POST_SERVICE.format(post_url=post_url) if post_url else ""))
        self.bearerbox = self.smsbox = self.fakesmsc = None
        self.interactive = False
        self.lines = []  # every MT line fakesmsc logged, in order (across fakesmsc restarts)
        self.lock = threading.Lock()
        self.fakesmsc_log = []
        self.readers = {}  # fakesmsc pid -> the thread reading its output
        self.mo_sent = 0  # MO lines fakesmsc reported sent (all its runs)

    @property
    def sendsms_url(self):
        return "http://127.0.0.1:%d/cgi-bin/sendsms" % self.sendsms_port

    # ---- processes -------------------------------------------------------------------------
    def _spawn(self, argv, name):
        with open(os.path.join(self.dir, name + ".out"), "ab") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.dir, start_new_session=True)

    def start(self):
        """bearerbox, then smsbox, then an interactive fakesmsc; returns when all are connected."""
        self.start_bearerbox()
        self.start_smsbox()
        self.start_fakesmsc()
        return self

    def start_bearerbox(self):
        self.bearerbox = self._spawn(["/usr/sbin/bearerbox", self.config], "bearerbox")
        wait_port(self.smsbox_port, self.bearerbox, "bearerbox", self.log)
        wait_port(self.fake_port, self.bearerbox, "bearerbox (fake SMSC)", self.log)

    def start_smsbox(self):
        self.smsbox = self._spawn(["/usr/sbin/smsbox", self.config], "smsbox")
        wait_port(self.sendsms_port, self.smsbox, "smsbox", self.log)

    def start_fakesmsc(self, message=None):
        """Connects a fakesmsc: interactive (MO lines on stdin) or, with `message`, one that sends
        that one line and then only receives."""
        argv = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.fake_port), "-i", "0.1"]
        if message is not None:
            argv += ["-m", "1", message]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                cwd=self.dir, start_new_session=True)
        self.fakesmsc = proc
        self.interactive = message is None
        reader = threading.Thread(target=self._read_fakesmsc, args=(proc,), daemon=True)
        reader.start()
        self.readers[proc.pid] = reader
        # Connected once bearerbox logs the client (the fake SMSC accepts one client at a time).
        deadline = time.monotonic() + 20
        mark = "Fakesmsc client connected"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("fakesmsc exited (%s); output:\n%s" % (proc.returncode, self.fakesmsc_output()))
            if self.bearerbox_log().count(mark) > self._connects:
                self._connects += 1
                return
            time.sleep(0.05)
        raise AssertionError("fakesmsc did not connect; bearerbox log:\n%s" % self.bearerbox_log()[-4000:])

    _connects = 0

    def _read_fakesmsc(self, proc):
        pattern = re.compile(rb"Got message \d+: <(.*)>\s*$")
        sent = re.compile(rb"fakesmsc: sent message \d+")
        with proc.stdout:
            for raw in proc.stdout:
                with self.lock:
                    self.fakesmsc_log.append(raw.decode("utf-8", "replace"))
                    m = pattern.search(raw)
                    if m:
                        self.lines.append(m.group(1))
                    elif sent.search(raw):
                        self.mo_sent += 1

    def stop_fakesmsc(self):
        proc, self.fakesmsc = self.fakesmsc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fakesmsc's own exit (it may abort on its way out)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        proc.stdin.close()
        reader = self.readers.pop(proc.pid, None)
        if reader:
            reader.join(10)  # it closes stdout at EOF

    def _stop(self, proc, timeout=20):
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def pause_smsbox(self):
        """SIGSTOP: smsbox's port still accepts connections (the kernel's backlog) but nothing
        answers until resume_smsbox()."""
        self.smsbox.send_signal(signal.SIGSTOP)

    def resume_smsbox(self):
        if self.smsbox is not None and self.smsbox.poll() is None:
            self.smsbox.send_signal(signal.SIGCONT)

    def stop_bearerbox(self):
        """Stops the whole gateway: fakesmsc, smsbox and bearerbox (whose shutdown ends smsbox)."""
        self.stop_fakesmsc()
        self.resume_smsbox()
        self._stop(self.smsbox)
        self._stop(self.bearerbox)
        self.smsbox = self.bearerbox = None

    def close(self):
        self.stop_bearerbox()
        self.tmp.cleanup()

    # ---- traffic ---------------------------------------------------------------------------
    def send_mo(self, sender, receiver, text=None, data=None):
        """Injects an MO message: `text` (UTF-8, sent as is) or `data` (bytes, URL-encoded)."""
        if data is not None:
            line = "%s %s data %s" % (sender, receiver, urllib.parse.quote_plus(data))
        else:
            line = "%s %s text %s" % (sender, receiver, text)
        encoded = line.encode("utf-8")
        with self.lock:
            before = self.mo_sent
        if self.interactive and len(encoded) < 250 and b"\n" not in encoded:
            self.fakesmsc.stdin.write(encoded + b"\n")
            self.fakesmsc.stdin.flush()
        else:
            # Too long for fakesmsc's stdin buffer: a fakesmsc that sends it as its argument.
            self.stop_fakesmsc()
            self.start_fakesmsc(message=line)
        # One line at a time: fakesmsc select()s on stdin but reads it through stdio, so a second
        # line already in stdio's buffer would wait for more input.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.lock:
                if self.mo_sent > before:
                    return
            time.sleep(0.02)
        raise AssertionError("fakesmsc did not send the MO line; output:\n" + self.fakesmsc_output()[-3000:])

    def received(self):
        """The MT messages fakesmsc got, oldest first, as dicts {"from", "to", "body", "ucs2",
        "text"}: body is the message's bytes as the fake SMSC passes them (UTF-8 for 7-bit texts,
        UTF-16BE when fakesmsc shows the coding as ucs-2), text their decoding; concatenated parts
        are joined by their UDH and listed at their last part."""
        with self.lock:
            lines = list(self.lines)
        out, parts = [], {}
        for line in lines:
            fields = line.split(b" ", 3)
            if len(fields) < 4:
                continue
            sender, receiver, kind, rest = fields
            udh = b""
            if kind == b"udh":
                # udh <udh, URL-encoded> <text|data|ucs-2> <content>
                udh_text, _, rest = rest.partition(b" ")
                udh = urllib.parse.unquote_to_bytes(udh_text.replace(b"+", b" "))
                kind, _, rest = rest.partition(b" ")
            if kind == b"text":
                body = rest
            elif kind in (b"data", b"ucs-2"):
                body = urllib.parse.unquote_to_bytes(rest.replace(b"+", b" "))
            else:
                continue
            # 8-bit reference concatenation IE: 05 00 03 ref total seq
            if len(udh) >= 6 and udh[1] == 0 and udh[2] == 3:
                ref, total, seq = udh[3], udh[4], udh[5]
                key = (sender, receiver, ref)
                parts.setdefault(key, {})[seq] = body
                if len(parts[key]) < total:
                    continue
                got = parts.pop(key)
                body = b"".join(got.get(i, b"") for i in range(1, total + 1))
            ucs2 = kind == b"ucs-2"
            out.append({"from": sender.decode(), "to": receiver.decode(), "body": body, "ucs2": ucs2,
                        "text": body.decode("utf-16-be" if ucs2 else "utf-8", "replace")})
        return out

    # ---- logs ------------------------------------------------------------------------------
    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def bearerbox_log(self):
        return self._read("bearerbox.log")

    def smsbox_log(self):
        return self._read("smsbox.log")

    def fakesmsc_output(self):
        with self.lock:
            return "".join(self.fakesmsc_log)

    def log(self):
        return "--- bearerbox\n%s\n--- smsbox\n%s\n--- fakesmsc\n%s" % (
            self.bearerbox_log()[-6000:], self.smsbox_log()[-6000:], self.fakesmsc_output()[-3000:])
