"""A real Dovecot IMAP server for the tests: its own config, passwd-file user, maildir, base_dir
and state_dir in a temporary folder, plain IMAP (`ssl = no`) on 127.0.0.1 and an ephemeral port.
Mail processes run as Debian's `dovecot` user (Dovecot refuses uid 0); the login process as
`dovenull`. Messages are delivered with APPEND over imaplib, or written into the maildir while it is down."""
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

USER = "agent@example.test"
PASSWORD = "imap-pw-for-tests-7f3a"

CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    def __init__(self):
        if not shutil.which("dovecot"):
            raise RuntimeError("dovecot is not installed (scripts/setup.sh --test installs dovecot-imapd)")
        self.tmp = tempfile.TemporaryDirectory(prefix="omnitrail-dovecot-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(self.dir, sub))
        user = pwd.getpwnam("dovecot")
        os.chown(os.path.join(self.dir, "home"), user.pw_uid, user.pw_gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s\n" % (USER, PASSWORD))
        self.port = free_port()
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port))
        self.proc = None

    def start(self, timeout=20):
        """Starts Dovecot in the foreground (-F: the process is ours) and waits for the port."""
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited (%s); log:\n%s" % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not listen on %d; log:\n%s" % (self.port, self.log()))

    def stop(self, timeout=20):
        """Stops the master and waits until it (and so the listener) is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def close(self):
        self.stop()
        self.tmp.cleanup()

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def client(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=20)
        m.login(USER, PASSWORD)
        return m

    def append(self, messages, folder="INBOX"):
        m = self.client()
        try:
            for raw in messages:
                status, data = m.append(folder, None, None, raw)
                if status != "OK":
                    raise AssertionError("APPEND failed: %r" % data)
        finally:
            m.logout()

    def deliver(self, messages):
        """Writes messages into INBOX's maildir `new/` (works while Dovecot is stopped)."""
        user = pwd.getpwnam("dovecot")
        new_dir = os.path.join(self.dir, "home", USER, "Maildir", "new")
        for i, raw in enumerate(messages):
            name = "%d.M%dP%d.omnitrail-test" % (time.time(), i, os.getpid())
            path = os.path.join(new_dir, name)
            with open(path, "wb") as f:
                f.write(raw)
            os.chown(path, user.pw_uid, user.pw_gid)

    def status(self, folder="INBOX"):
        m = self.client()
        try:
            _, data = m.status(folder, "(UIDVALIDITY UIDNEXT MESSAGES)")
            words = data[0].decode().split("(")[1].rstrip(")").split()
            return dict(zip(words[::2], map(int, words[1::2])))
        finally:
            m.logout()

    def flags(self, folder="INBOX"):
        """{uid: flags text} of every message in `folder`."""
        m = self.client()
        try:
            m.select(folder, readonly=True)
            _, data = m.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for line in data:
                if not line:
                    continue
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                out[uid] = text.split("FLAGS (")[1].split(")")[0]
            return out
        finally:
            m.logout()

    def renumber(self, folder_dir="Maildir"):
        """Stopped: forgets the folder's UIDs (dovecot-uidlist and indexes), so that Dovecot gives
        it a new UIDVALIDITY and renumbers every message at the next start."""
        root = os.path.join(self.dir, "home", USER, folder_dir)
        for name in os.listdir(root):
            if name == "dovecot-uidlist" or name.startswith("dovecot.index") or name == "dovecot.list.index.log":
                os.remove(os.path.join(root, name))


def message(sender, message_id, subject, body="Hello, I need help with my order.", size=None):
    text = body if size is None else ("x" * 76 + "\r\n") * (size // 78 + 1)
    return ("From: Customer <%s>\r\nTo: support@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Tue, 01 Dec 2026 08:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
            % (sender, subject, message_id, text)).encode()
