"""The imap_smtp connector over TLS against a real Dovecot (dovecotpeer.Dovecot(tls=True): a
throwaway CA and server certificate for localhost / 127.0.0.1 made with the openssl CLI,
`ssl = required`, an imaps listener and a plain listener offering STARTTLS):
`tls: imaps` and `tls: starttls` with `tls_ca_file` ingest a message once, and every session the
daemon opens is a TLS one (Dovecot's login lines, per listener port); a certificate the daemon
must not trust (system CAs only, a CA that did not sign it, over imaps and STARTTLS, or a name
that does not match) reports the connector down with a certificate error, logs in never and
ingests nothing; `mark_seen: true` leaves the messages \\Seen (libcurl's BODY[] fetch sets it
too, so what this catches is something taking it away); `move_to: Processed` moves them out of
INBOX (still unseen), and each message body is fetched exactly once, across a daemon restart too
(Dovecot's per-session body_count); `move_to` a folder that does not exist is logged, the
messages stay in INBOX, are fetched once, and the connector stays up. The password never reaches
the daemon's log."""
import time
import unittest
import urllib.parse

from dovecotpeer import PASSWORD, USER, Dovecot, message
from harness import Daemon, call, wait_until

ADMIN_TOKEN = "admin-token-for-tests-0123456789"  # harness.call's default token

HEAD = """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 3s}
storage:
  sqlite_path: state/omnitrail.db
connectors:
"""

CONNECTOR = """  - name: %(name)s
    type: imap_smtp
    host: %(host)s
    port: %(port)d
    tls: %(tls)s
    username: %(user)s
    password_file: secrets/imap.password
    poll_interval: 1s
    batch_size: 4
    reconnect_max: 1s
    connect_timeout: 2s
    timeout: 10s
"""

FILES = {"secrets/admin.token": ADMIN_TOKEN + "\n", "secrets/imap.password": PASSWORD + "\n"}


def connector(name, port, tls, ca_file=None, host="127.0.0.1", extra=""):
    text = CONNECTOR % {"name": name, "host": host, "port": port, "tls": tls, "user": USER}
    if ca_file:
        text += "    tls_ca_file: %s\n" % ca_file
    return text + extra


class ImapTlsTest(unittest.TestCase):
    def setUp(self):
        self.dovecot = Dovecot(tls=True).start()
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

    def connectors(self, d):
        return {c["name"]: c for c in d.get_json("/readyz")[1]["connectors"]}

    def ingest_once(self, config, login_port):
        """A message delivered while the daemon polls lands once; a second one too; every login
        on `login_port` (the daemon's) is a TLS one."""
        with Daemon(HEAD + config, files=FILES) as d:
            wait_until(lambda: self.connectors(d)["mail"]["state"] == "up", 20, "connector up")
            self.dovecot.append([message("jo@example.org", "tls-first@example.org", "Order 1234")])
            items = wait_until(lambda: self.emails(d, "jo@example.org"), 20, "the email on the timeline")
            self.assertEqual(len(items), 1, items)
            self.assertEqual(items[0]["external_id"], "tls-first@example.org")
            self.assertEqual(items[0]["subject"], "Order 1234")
            self.assertEqual(items[0]["metadata"]["imap"]["folder"], "INBOX")
            self.dovecot.append([message("kim@example.org", "tls-second@example.org", "Hi")])
            wait_until(lambda: self.emails(d, "kim@example.org"), 20, "the second email")
            self.assertEqual(len(self.emails(d, "jo@example.org")), 1)
            self.assertEqual(self.connectors(d)["mail"]["last_error"], "")
            self.assertNotIn(PASSWORD, d.log())
        logins = self.dovecot.logins(login_port)
        self.assertTrue(logins, "the daemon never logged in on port %d:\n%s" % (login_port, self.dovecot.log()))
        for line in logins:
            self.assertIn(", TLS, ", line)
            self.assertNotIn("secured", line)

    def test_imaps_with_the_test_ca(self):
        self.ingest_once(connector("mail", self.dovecot.imaps_port, "imaps", self.dovecot.ca_file),
                         self.dovecot.imaps_port)

    def test_starttls_with_the_test_ca(self):
        # The harness's own client uses the imaps port: every login on the plain port is the daemon's.
        self.ingest_once(connector("mail", self.dovecot.port, "starttls", self.dovecot.ca_file), self.dovecot.port)

    def test_an_untrusted_certificate_is_refused(self):
        # A second Dovecot whose certificate, signed by its own test CA, names another host only.
        other = Dovecot(tls=True, cert_hosts=("mail.example.test",)).start()
        self.addCleanup(other.close)
        for server in (self.dovecot, other):
            server.append([message("eve@example.org", "untrusted@example.org", "Must not arrive")])
        before = {server: len(server.logins()) for server in (self.dovecot, other)}
        d_port, d_imaps = self.dovecot.port, self.dovecot.imaps_port
        config = (connector("system-cas", d_imaps, "imaps")
                  + connector("other-ca", d_imaps, "imaps", self.dovecot.other_ca_file)
                  + connector("starttls-other-ca", d_port, "starttls", self.dovecot.other_ca_file)
                  + connector("starttls-system-cas", d_port, "starttls")
                  + connector("wrong-name", other.imaps_port, "imaps", other.ca_file))
        with Daemon(HEAD + config, files=FILES) as d:
            names = ("system-cas", "other-ca", "starttls-other-ca", "starttls-system-cas", "wrong-name")
            wait_until(lambda: all(self.connectors(d)[n]["state"] == "down" for n in names), 20,
                       "every connector down")
            status, ready = d.get_json("/readyz")
            self.assertEqual(status, 503, ready)
            self.assertEqual(ready["status"], "not_ready")
            # A few retries (reconnect_max: 1s): still down, never up in between, nothing ingested.
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                states = self.connectors(d)
                for n in names:
                    self.assertEqual(states[n]["state"], "down", states[n])
                time.sleep(0.2)
            states = self.connectors(d)
            for n in ("system-cas", "other-ca", "starttls-other-ca", "starttls-system-cas"):
                error = states[n]["last_error"]
                self.assertIn("SSL certificate problem", error, n)
                self.assertIn("certificate", error.lower(), n)
            self.assertIn("certificate subject name", states["wrong-name"]["last_error"])
            self.assertIn("127.0.0.1", states["wrong-name"]["last_error"])
            self.assertEqual(self.emails(d, "eve@example.org"), [])
            status, _, metrics = d.request("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            self.assertEqual(status, 200)
            for n in names:
                self.assertIn('omnitrail_imap_messages_total{connector="%s"} 0' % n, metrics.decode())
            log = d.log()
            self.assertNotIn(PASSWORD, log)
            self.assertIn("SSL certificate problem", log)
        # The daemon never got as far as a login: the password was never sent.
        for server in (self.dovecot, other):
            self.assertEqual(len(server.logins()), before[server], server.log())

    def test_mark_seen_sets_the_seen_flag(self):
        self.dovecot.append([message("seen@example.org", "seen-1@example.org", "One"),
                             message("seen@example.org", "seen-2@example.org", "Two")])
        self.assertTrue(all("\\Seen" not in f for f in self.dovecot.flags().values()))
        config = connector("mail", self.dovecot.imaps_port, "imaps", self.dovecot.ca_file, extra="    mark_seen: true\n")
        with Daemon(HEAD + config, files=FILES) as d:
            wait_until(lambda: len(self.emails(d, "seen@example.org")) == 2, 20, "both emails")
            wait_until(lambda: all("\\Seen" in f for f in self.dovecot.flags().values()), 10, "\\Seen on both")
            # Later polls leave it set (nothing takes it away again), and one delivered later gets it too.
            self.dovecot.append([message("seen@example.org", "seen-3@example.org", "Three")])
            wait_until(lambda: len(self.emails(d, "seen@example.org")) == 3, 20, "the third email")
            wait_until(lambda: len(self.dovecot.flags()) == 3 and all("\\Seen" in f for f in self.dovecot.flags().values()),
                       10, "\\Seen on all three")
            time.sleep(1.5)  # at least one more poll
            flags = self.dovecot.flags()
            self.assertEqual(len(flags), 3, "mark_seen alone moves nothing")
            for uid, f in flags.items():
                self.assertIn("\\Seen", f, "UID %d" % uid)

    def test_move_to_moves_once_and_nothing_is_fetched_twice(self):
        sender = "move@example.org"
        self.dovecot.create("Processed")
        self.dovecot.append([message(sender, "move-%d@example.org" % i, "Move %d" % i) for i in (1, 2)])
        config = connector("mail", self.dovecot.imaps_port, "imaps", self.dovecot.ca_file,
                           extra="    move_to: Processed\n")
        expected = set()

        def ids(d):
            got = [i["external_id"] for i in self.emails(d, sender)]
            self.assertEqual(len(got), len(set(got)), "duplicates on the timeline: %r" % got)
            return set(got)

        def in_folder(message_id, folder):
            return self.dovecot.search('HEADER Message-ID "<%s>"' % message_id, folder)

        def moved(message_ids):
            return (all(in_folder(m, "Processed") for m in message_ids)
                    and not any(in_folder(m, "INBOX") for m in message_ids))

        with Daemon(HEAD + config, files=FILES) as d:
            expected |= {"move-1@example.org", "move-2@example.org"}
            wait_until(lambda: ids(d) == expected, 20, "the first two emails")
            wait_until(lambda: moved(expected), 10, "the first two moved to Processed")
            self.dovecot.append([message(sender, "move-3@example.org", "Move 3")])
            expected.add("move-3@example.org")
            wait_until(lambda: ids(d) == expected, 20, "the third email")
            wait_until(lambda: moved(expected), 10, "the third moved")
            time.sleep(1.5)  # at least one more poll of INBOX
            # Restarted on the same store: INBOX is read from its checkpoint, Processed never.
            d.kill()
            d.messages.clear()  # so that start() waits for the new READY=1 and port
            d.start()
            self.dovecot.append([message(sender, "move-4@example.org", "Move 4")])
            expected.add("move-4@example.org")
            wait_until(lambda: ids(d) == expected, 20, "the email delivered after the restart")
            wait_until(lambda: moved(expected), 10, "the fourth moved")
            time.sleep(1.5)
            self.assertEqual(ids(d), expected)
            for item in self.emails(d, sender):
                self.assertEqual(item["metadata"]["imap"]["folder"], "INBOX")
            status, _, metrics = d.request("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            self.assertEqual(status, 200)
            # Since the restart: one new message committed, no duplicate re-read.
            self.assertIn('omnitrail_imap_messages_total{connector="mail"} 1', metrics.decode())
            self.assertNotIn(PASSWORD, d.log())
        status = self.dovecot.status()
        self.assertEqual(status["MESSAGES"], 0, "INBOX is empty")
        self.assertEqual(self.dovecot.status("Processed")["MESSAGES"], 4)
        # mark_seen: false: the moved messages are still unseen.
        for uid, f in self.dovecot.flags("Processed").items():
            self.assertNotIn("\\Seen", f, "UID %d in Processed" % uid)
        # Every session ended (the daemon is gone): Dovecot logged each one's body fetches.
        wait_until(lambda: len(self.dovecot.logouts()) == len(self.dovecot.logins()), 10,
                   "Dovecot's logout lines")
        self.assertEqual(self.dovecot.body_fetches(), 4, "\n".join(self.dovecot.logouts()))

    def test_move_to_a_missing_folder_is_logged_and_the_poll_goes_on(self):
        # What the README promises: a failed move is logged, the message stays stored (and in
        # INBOX), it is not fetched again, and the connector stays up and keeps polling.
        sender = "nomove@example.org"
        config = connector("mail", self.dovecot.imaps_port, "imaps", self.dovecot.ca_file,
                           extra="    move_to: Missing\n")
        with Daemon(HEAD + config, files=FILES) as d:
            self.dovecot.append([message(sender, "nomove-1@example.org", "One")])
            wait_until(lambda: self.emails(d, sender), 20, "the email")
            wait_until(lambda: "cannot move messages to Missing" in d.log(), 10, "the move failure log line")
            self.dovecot.append([message(sender, "nomove-2@example.org", "Two")])
            wait_until(lambda: len(self.emails(d, sender)) == 2, 20, "the second email")
            wait_until(lambda: d.log().count("cannot move messages to Missing") >= 2, 10, "the second failure")
            time.sleep(1.5)  # at least one more poll
            self.assertEqual(self.connectors(d)["mail"]["state"], "up")
            self.assertEqual(sorted(i["external_id"] for i in self.emails(d, sender)),
                             ["nomove-1@example.org", "nomove-2@example.org"])
            self.assertEqual(d.log().count("cannot move messages to Missing"), 2, "a message moved twice")
        self.assertEqual(self.dovecot.status()["MESSAGES"], 2)
        wait_until(lambda: len(self.dovecot.logouts()) == len(self.dovecot.logins()), 10, "Dovecot's logout lines")
        self.assertEqual(self.dovecot.body_fetches(), 2, "\n".join(self.dovecot.logouts()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
