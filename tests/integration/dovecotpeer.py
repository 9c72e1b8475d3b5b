"""A real Dovecot IMAP server for the tests: its own config, passwd-file user, maildir, base_dir
and state_dir in a temporary folder, plain IMAP (`ssl = no`) on 127.0.0.1 and an ephemeral port.
Mail processes run as Debian's `dovecot` user (Dovecot refuses uid 0); the login process as
`dovenull`. Messages are delivered with APPEND over imaplib, or written into the maildir while it is down.

Dovecot(tls=True): `ssl = required` with a throwaway CA and server certificate made by the
`openssl` CLI in the temporary folder (`ca_file`; `other_ca_file` is a second CA that signed
nothing), an imaps listener on `imaps_port` and the plain listener on `port` offering STARTTLS;
`client()` then logs in over imaps, trusting the test CA only. `cert_hosts` are the
certificate's subjectAltNames. Dovecot counts a connection whose remote address equals its local
one (127.0.0.1 to 127.0.0.1) as `secured` and lets it log in without TLS even then, so tests tell
a TLS session by its login line, which names the listener's port: `lport=N ... TLS`, not
`secured` (`logins()`)."""
import imaplib
import os
import pwd
import shutil
import socket
import ssl
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
{ssl}
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
{imaps}
  }}
}}
service anvil {{
  chroot =
}}
"""


SSL_CONFIG = """ssl = required
ssl_cert = <{dir}/tls/server.pem
ssl_key = <{dir}/tls/server.key
ssl_min_protocol = TLSv1.2
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{{local_port}} mpid=%e %c session=<%{{session}}>"""

IMAPS_LISTENER = """    address = 127.0.0.1
    port = {port}
    ssl = yes"""


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_certificates(folder, hosts):
    """A CA (ca.pem), a server certificate it signed for `hosts` (server.pem, server.key), and a
    second CA that signed nothing (other-ca.pem), all EC P-256, valid for two days."""
    os.makedirs(folder)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    for name, cn in (("ca", "Omnitrail Test CA"), ("other-ca", "Omnitrail Untrusted Test CA")):
        openssl("req", "-x509", *key, "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
                "-subj", "/CN=" + cn, *ca_ext, cwd=folder)
    openssl("req", "-new", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=" + hosts[0],
            cwd=folder)
    sans = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)
    with open(os.path.join(folder, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % sans)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=folder)
    openssl("verify", "-CAfile", "ca.pem", "server.pem", cwd=folder)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    def __init__(self, tls=False, cert_hosts=("localhost", "127.0.0.1")):
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
        self.tls = tls
        self.cert_hosts = tuple(cert_hosts)
        self.imaps_port = None
        self.ca_file = self.other_ca_file = None
        ssl_config, imaps = "ssl = no", "    port = 0"
        if tls:
            make_certificates(os.path.join(self.dir, "tls"), self.cert_hosts)
            self.ca_file = os.path.join(self.dir, "tls", "ca.pem")
            self.other_ca_file = os.path.join(self.dir, "tls", "other-ca.pem")
            self.imaps_port = free_port()
            ssl_config = SSL_CONFIG.format(dir=self.dir)
            imaps = IMAPS_LISTENER.format(port=self.imaps_port)
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port, ssl=ssl_config, imaps=imaps))
        self.proc = None

    def start(self, timeout=20):
        """Starts Dovecot in the foreground (-F: the process is ours) and waits for the port."""
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        for port in (self.port, self.imaps_port):
            while port is not None:
                if self.proc.poll() is not None:
                    raise AssertionError("dovecot exited (%s); log:\n%s" % (self.proc.returncode, self.log()))
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("dovecot did not listen on %d; log:\n%s" % (port, self.log()))
                    time.sleep(0.05)
        return self

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

    def ssl_context(self):
        """Trusts the test CA only; checks the host name when the certificate is for 127.0.0.1."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.check_hostname = "127.0.0.1" in self.cert_hosts
        return context

    def client(self):
        if self.tls:
            m = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=self.ssl_context(), timeout=20)
        else:
            m = imaplib.IMAP4("127.0.0.1", self.port, timeout=20)
        m.login(USER, PASSWORD)
        return m

    def create(self, folder):
        m = self.client()
        try:
            status, data = m.create(folder)
            if status != "OK":
                raise AssertionError("CREATE %s failed: %r" % (folder, data))
        finally:
            m.logout()

    def search(self, criteria, folder="INBOX"):
        """UIDs in `folder` matching `criteria` (e.g. 'HEADER Message-ID "<x@y>"'); fetches nothing."""
        m = self.client()
        try:
            m.select(folder, readonly=True)
            status, data = m.uid("SEARCH", None, criteria)
            if status != "OK":
                raise AssertionError("SEARCH failed: %r" % data)
            return [int(u) for u in data[0].split()]
        finally:
            m.logout()

    def logins(self, port=None):
        """The imap-login lines of successful logins (`..., TLS, session=` when the session had
        TLS, `..., secured, session=` for clear text on loopback); with `port` (tls=True only),
        those on that listener."""
        lines = [l for l in self.log().splitlines() if "imap-login: Info: Login:" in l]
        return lines if port is None else [l for l in lines if " lport=%d," % port in l]

    def logouts(self):
        """The lines the imap processes write when a session ends (one per login)."""
        return [l for l in self.log().splitlines() if ": Info: Disconnected: " in l and " body_count=" in l]

    def body_fetches(self):
        """Sum of body_count over the sessions that ended (Dovecot logs it at logout/disconnect):
        how many message bodies were fetched."""
        total = 0
        for line in self.log().splitlines():
            if " body_count=" in line:
                total += int(line.split(" body_count=")[1].split()[0].rstrip(","))
        return total

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
