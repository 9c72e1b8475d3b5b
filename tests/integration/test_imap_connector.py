"""The imap_smtp connector (IMAP intake) against a real Dovecot on 127.0.0.1: a delivered message
lands once on its sender's timeline and pops the queue's agent; Dovecot stopped and restarted in
the middle of a poll loses and duplicates nothing; a UIDVALIDITY change (the folder renumbered)
duplicates nothing; an oversized message is skipped with a log line and the poll goes on; the
password never reaches the log; \\Seen is left as it was (mark_seen: false)."""
import os
import subprocess
import tempfile
import unittest
import urllib.parse

from dovecotpeer import PASSWORD, USER, Dovecot, message
from harness import OMNITRAILD, Daemon, call, require_binary, wait_until
from wsclient import WebSocket

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
ALICE_TOKEN = "alice-token-for-imap-tests-0123456789"
LIMIT = 64 * 1024


def config(port, extra=""):
    return """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 3s}
storage:
  sqlite_path: state/omnitrail.db
agents:
  - {id: alice, name: Alice, queues: [support], token_file: secrets/alice.token}
connectors:
  - name: mail
    type: imap_smtp
    host: 127.0.0.1
    port: %d
    tls: none
    username: %s
    password_file: secrets/imap.password
    queue: support
    poll_interval: 1s
    batch_size: 4
    max_message_bytes: %d
    reconnect_max: 1s
    connect_timeout: 2s
    timeout: 10s
%s""" % (port, USER, LIMIT, extra)


FILES = {"secrets/admin.token": ADMIN_TOKEN + "\n", "secrets/alice.token": ALICE_TOKEN + "\n",
         "secrets/imap.password": PASSWORD + "\n"}


class ImapConnectorTest(unittest.TestCase):
    def setUp(self):
        self.dovecot = Dovecot().start()
        self.addCleanup(self.dovecot.close)

    def emails(self, d, sender):
        """The email.received items on `sender`'s timeline ([] while there is no customer)."""
        status, found = call(d, "GET", "/api/v1/customers/lookup?kind=email&value=" + urllib.parse.quote(sender))
        if status == 404:
            return []
        self.assertEqual(status, 200, found)
        status, timeline = call(d, "GET", "/api/v1/customers/%s/timeline?channel=email&limit=200" % found["customer"]["id"])
        self.assertEqual(status, 200, timeline)
        return [i for i in timeline["items"] if i["kind"] == "email.received"]

    def message_ids(self, d, sender):
        ids = [i["external_id"] for i in self.emails(d, sender)]
        self.assertEqual(len(ids), len(set(ids)), "duplicates on the timeline: %r" % ids)
        return set(ids)

    def state(self, d):
        return d.get_json("/readyz")[1]["connectors"][0]

    def test_once_on_the_timeline_with_a_pop_and_seen_untouched(self):
        with Daemon(config(self.dovecot.port), files=FILES) as d:
            wait_until(lambda: self.state(d)["state"] == "up", 20, "connector up")
            ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + ALICE_TOKEN})
            self.addCleanup(ws.close)
            self.assertEqual(ws.recv()["type"], "hello")
            self.dovecot.append([message("jo@example.org", "first@example.org", "Order 1234")])
            pop = ws.recv_until(lambda m: m["type"] == "pop.ringing", 20)
            self.assertEqual(pop["pop"]["trigger"]["channel"], "email")
            items = wait_until(lambda: self.emails(d, "jo@example.org"), 20, "the email on the timeline")
            self.assertEqual(len(items), 1, items)
            self.assertEqual(items[0]["external_id"], "first@example.org")
            self.assertEqual(items[0]["subject"], "Order 1234")
            self.assertEqual(items[0]["metadata"]["queue"], "support")
            self.assertEqual(items[0]["metadata"]["imap"]["folder"], "INBOX")
            # A few more polls: still once; the message is not marked \Seen (mark_seen: false).
            self.dovecot.append([message("kim@example.org", "second@example.org", "Hi")])
            wait_until(lambda: self.emails(d, "kim@example.org"), 20, "the second email")
            self.assertEqual(len(self.emails(d, "jo@example.org")), 1)
            for uid, flags in self.dovecot.flags().items():
                self.assertNotIn("\\Seen", flags, "UID %d" % uid)
            self.assertNotIn(PASSWORD, d.log())

    def test_dovecot_restart_mid_poll_and_uidvalidity_change_lose_and_duplicate_nothing(self):
        sender = "bulk@example.org"
        first = ["bulk-%d@example.org" % i for i in range(60)]
        while_down = ["down-%d@example.org" % i for i in range(5)]
        # Delivered before the daemon starts, so that its first poll has 15 batches of 40 KB
        # messages to work through. (Whether Dovecot stops in the middle of that poll depends on
        # the machine's speed; what is asserted holds either way.)
        self.dovecot.append([message(sender, mid, "Bulk %d" % i, size=40000) for i, mid in enumerate(first)])
        with Daemon(config(self.dovecot.port), files=FILES) as d:
            wait_until(lambda: self.message_ids(d, sender), 30, "the first commits")
            self.dovecot.stop()
            wait_until(lambda: self.state(d)["state"] == "down", 30, "connector down")
            self.assertTrue(self.state(d)["last_error"])
            # Mail delivered while the server is down (straight into the maildir, as an MDA does).
            self.dovecot.deliver([message(sender, mid, "Down %d" % i) for i, mid in enumerate(while_down)])
            self.dovecot.start()
            wait_until(lambda: self.message_ids(d, sender) == set(first) | set(while_down), 40,
                       "all messages after the restart")
            first = first + while_down

            # The folder is renumbered (new UIDVALIDITY): it is read again and nothing doubles.
            before = self.dovecot.status()["UIDVALIDITY"]
            self.dovecot.stop()
            self.dovecot.renumber()
            self.dovecot.start()
            self.assertNotEqual(self.dovecot.status()["UIDVALIDITY"], before)
            self.dovecot.append([message(sender, "after-renumber@example.org", "After")])
            wait_until(lambda: "after-renumber@example.org" in self.message_ids(d, sender), 40, "the new message")
            wait_until(lambda: "UIDVALIDITY changed" in d.log(), 10, "the resync log line")
            self.assertEqual(self.message_ids(d, sender), set(first) | {"after-renumber@example.org"})

    def test_an_oversized_message_is_skipped_with_a_log_line(self):
        with Daemon(config(self.dovecot.port), files=FILES) as d:
            self.dovecot.append([message("big@example.org", "big@example.org", "Big", size=2 * LIMIT),
                                 message("small@example.org", "small@example.org", "Small")])
            wait_until(lambda: self.emails(d, "small@example.org"), 30, "the message after the big one")
            wait_until(lambda: "larger than max_message_bytes" in d.log(), 10, "the skip log line")
            self.assertEqual(self.emails(d, "big@example.org"), [])
            self.assertIn("UID 1", next(l for l in d.log().splitlines() if "larger than max_message_bytes" in l))
            status, _, metrics = d.request("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            self.assertEqual(status, 200)
            self.assertIn('omnitrail_imap_refused_total{connector="mail"} 1', metrics.decode())


class ImapConfigTest(unittest.TestCase):
    """The block is validated like every connector's: file:line:col, the key's path, no secret."""

    def check(self, block):
        require_binary()
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "imap.password"), "w") as f:
                f.write(PASSWORD + "\n")
            os.chmod(os.path.join(tmp, "imap.password"), 0o600)
            path = os.path.join(tmp, "omnitrail.yaml")
            with open(path, "w") as f:
                f.write("connectors:\n  - name: mail\n    type: imap_smtp\n" + block)
            r = subprocess.run([OMNITRAILD, "--check-config", "--config", path], capture_output=True, text=True,
                               timeout=30)
            self.assertNotIn(PASSWORD, r.stdout + r.stderr)
            return r.returncode, [l[len(path):] for l in r.stderr.splitlines() if l.startswith(path + ":")]

    def test_valid_block(self):
        code, errors = self.check("    host: imap.example.com\n    username: u\n    password_file: imap.password\n"
                                  "    folders: [INBOX, Support/Tier 2]\n    move_to: Done\n    mark_seen: true\n")
        self.assertEqual((code, errors), (0, []))

    def test_errors_name_the_key_and_the_place(self):
        code, errors = self.check("    host: mail.example.com\n    tls: none\n    username: u\n"
                                  "    password_file: imap.password\n    folders: [INBOX, INBOX, \"a*b\"]\n"
                                  "    poll_interval: 500ms\n    batch_size: 0\n    move_to: INBOX\n    mark_seen: yes\n")
        self.assertEqual(code, 78)
        text = "\n".join(errors)
        for expected in (":5:", "connectors[0].tls", "only for host 127.0.0.1", "connectors[0].folders[1]",
                         "listed twice", "connectors[0].folders[2]", "connectors[0].poll_interval",
                         "connectors[0].batch_size", "connectors[0].move_to", "connectors[0].mark_seen"):
            self.assertIn(expected, text)
        code, errors = self.check("    host: 127.0.0.1\n    tls: none\n    username: u\n    password: plain-text\n")
        self.assertEqual(code, 78)
        self.assertTrue(any("connectors[0].password" in e for e in errors), errors)


if __name__ == "__main__":
    unittest.main(verbosity=2)
