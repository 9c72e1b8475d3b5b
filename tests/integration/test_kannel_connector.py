"""The kannel connector against a real Kannel (bearerbox + smsbox + fakesmsc, kannelpeer.py) on
127.0.0.1: an MO message lands on its sender's timeline and pops the queue's agent, Unicode and
emoji intact; a long MO arrives whole; an agent's reply reaches fakesmsc (GSM 7-bit, UCS-2 with
emoji, a long one in concatenated parts) in the MO's conversation, and Kannel's delivery reports
make it `delivered`; with the gateway stopped a reply waits in the outbox and is delivered once
when it is back. Bad MO and DLR requests get 4xx and store nothing; the secrets stay out of the
log; the config block is validated."""
import hashlib
import hmac
import os
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import OMNITRAILD, Daemon, call, require_binary, wait_until
from kannelpeer import SENDSMS_PASSWORD, SENDSMS_USER, Kannel, free_port, mo_post_url, mo_url
from wsclient import WebSocket

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
ALICE_TOKEN = "alice-token-for-kannel-tests-0123456789"
ALICE = {"Authorization": "Bearer " + ALICE_TOKEN}
SECRET = "kannel-mo-secret-for-tests-5d2e"
OURS = "+447700900999"
CUSTOMER = "+447911123456"

FILES = {"secrets/admin.token": ADMIN_TOKEN + "\n", "secrets/alice.token": ALICE_TOKEN + "\n",
         "secrets/kannel.password": SENDSMS_PASSWORD + "\n", "secrets/kannel.secret": SECRET + "\n"}


def config(port, sendsms_url, extra=""):
    return """
server:
  listen: ["127.0.0.1:%d"]
  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 3s}
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - {id: alice, name: Alice, queues: [support], token_file: secrets/alice.token}
connectors:
  - name: sms
    type: kannel
    queue: support
    number: "%s"
    sendsms_url: %s
    username: %s
    password_file: secrets/kannel.password
    secret_file: secrets/kannel.secret
    callback_url: http://127.0.0.1:%d
    timeout: 5s
    connect_timeout: 1s
%slogging:
  level: debug
""" % (port, OURS, sendsms_url, SENDSMS_USER, port, extra)


class KannelFixture:
    """A daemon on a port chosen beforehand (Kannel's get-url must name it) and a Kannel whose
    sms-service calls it."""

    def setUp(self):
        self.port = free_port()
        self.kannel = Kannel(mo_url(self.port, "sms", SECRET), post_url=mo_post_url(self.port, "sms", SECRET))
        self.addCleanup(self.kannel.close)
        self.kannel.start()
        self.daemon = Daemon(config(self.port, self.kannel.sendsms_url), files=FILES)
        self.daemon.__enter__()
        self.addCleanup(self.daemon.__exit__, None, None, None)

    def on_failure_logs(self):
        return "\n--- omnitraild\n%s\n%s" % (self.daemon.log()[-6000:], self.kannel.log())

    def customer(self, number):
        status, found = call(self.daemon, "GET", "/api/v1/customers/lookup?kind=phone&value=" + urllib.parse.quote(number))
        if status == 404:
            return None
        self.assertEqual(status, 200, found)
        return found["customer"]["id"]

    def sms(self, number, kind=None):
        """The SMS interactions on `number`'s timeline, oldest first ([] without a customer)."""
        customer = self.customer(number)
        if not customer:
            return []
        status, timeline = call(self.daemon, "GET", "/api/v1/customers/%s/timeline?channel=sms&limit=200" % customer)
        self.assertEqual(status, 200, timeline)
        items = [i for i in reversed(timeline["items"]) if kind is None or i["kind"] == kind]
        return items

    def message(self, message_id):
        status, body = call(self.daemon, "GET", "/api/v1/messages/" + message_id, token=ALICE)
        self.assertEqual(status, 200, body)
        return body

    def reply(self, customer_id, text, in_reply_to=None, expect=202):
        body = {"customer_id": customer_id, "channel": "sms", "text": text}
        if in_reply_to:
            body["in_reply_to"] = in_reply_to
        status, answer = call(self.daemon, "POST", "/api/v1/messages", body, token=ALICE)
        self.assertEqual(status, expect, answer)
        return answer

    def mt_to(self, number):
        return [m for m in self.kannel.received() if m["to"] == number]


class KannelConnectorTest(KannelFixture, unittest.TestCase):
    def test_mo_lands_on_the_customer_and_pops_the_queue(self):
        ws = WebSocket(self.daemon.host, self.daemon.port, "/api/v1/agents/ws", ALICE)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv()["type"], "hello")
        text = "Hello, my order 42 is late 😟 — où est-il? Привет"
        self.kannel.send_mo(CUSTOMER, OURS, text=text)
        pop = ws.recv_until(lambda m: m["type"] == "pop.ringing", 20)
        self.assertEqual(pop["pop"]["trigger"]["channel"], "sms")
        self.assertEqual(pop["pop"]["trigger"]["kind"], "sms.received")
        self.assertEqual(pop["pop"]["trigger"]["from"], CUSTOMER)
        items = wait_until(lambda: self.sms(CUSTOMER, "sms.received"), 20, "the MO on the timeline")
        self.assertEqual(len(items), 1, items)
        mo = items[0]
        self.assertEqual(mo["text"], text)
        self.assertEqual(mo["direction"], "inbound")
        self.assertEqual(mo["source"], "sms")
        self.assertEqual(mo["from"]["key"], CUSTOMER)
        self.assertEqual(mo["to"]["raw"], OURS)
        self.assertEqual(mo["metadata"]["queue"], "support")
        self.assertEqual(mo["metadata"]["kannel"]["smsc"], "fake")
        self.assertEqual(len(mo["external_id"]), 36)  # Kannel's message id (a UUID)
        self.assertEqual(pop["pop"]["customer_view"]["customer"]["id"], self.customer(CUSTOMER))

        # A second message from the same number: the same customer and conversation. One longer
        # than an SMS (fakesmsc sends it as one message; a real SMSC's parts are joined by bearerbox).
        long_text = "Part of a long message with spaces  and\ttabs. " * 9
        self.kannel.send_mo(CUSTOMER, OURS, text=long_text.strip())
        items = wait_until(lambda: len(self.sms(CUSTOMER, "sms.received")) == 2 and self.sms(CUSTOMER, "sms.received"),
                           20, "the second MO")
        self.assertEqual(items[1]["text"], long_text.strip())
        self.assertEqual(items[1]["conversation_id"], mo["conversation_id"])
        self.assertNotIn(SECRET, self.daemon.log())
        self.assertNotIn(SENDSMS_PASSWORD, self.daemon.log())

    def test_post_url_mo_and_two_senders_in_their_own_conversations(self):
        # Kannel's post-url: the text is the body (charset in Content-Type, coding in X-Kannel-Coding).
        text = "viapost Hello  from the post-url 🚀\u00e9"
        self.kannel.send_mo(CUSTOMER, OURS, text=text)
        other = "+447911123457"
        self.kannel.send_mo(other, OURS, text="And me, by get-url")
        mine = wait_until(lambda: self.sms(CUSTOMER, "sms.received"), 20, "the post-url MO")
        self.assertEqual([i["text"] for i in mine], [text])
        theirs = wait_until(lambda: self.sms(other, "sms.received"), 20, "the other sender's MO")
        self.assertEqual([i["text"] for i in theirs], ["And me, by get-url"])
        self.assertNotEqual(mine[0]["conversation_id"], theirs[0]["conversation_id"])
        self.assertNotEqual(self.customer(CUSTOMER), self.customer(other))

    def test_reply_reaches_fakesmsc_and_its_delivery_report_updates_the_status(self):
        self.kannel.send_mo(CUSTOMER, OURS, text="Where is my parcel?")
        mo = wait_until(lambda: self.sms(CUSTOMER, "sms.received"), 20, "the MO")[0]
        customer = self.customer(CUSTOMER)

        # UCS-2 (emoji, Cyrillic), in reply to the MO: from our number, in its conversation.
        text = "It left today 👍 Спасибо!"
        queued = self.reply(customer, text, in_reply_to=mo["id"])
        got = wait_until(lambda: self.mt_to(CUSTOMER), 20, "the reply at fakesmsc")
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["from"], OURS)
        self.assertTrue(got[0]["ucs2"], got[0])
        self.assertEqual(got[0]["body"], text.encode("utf-16-be"))
        final = wait_until(lambda: self.message(queued["id"])["status"] == "delivered" and self.message(queued["id"]),
                           20, "status delivered")
        self.assertEqual(final["attempts"], 1)
        self.assertEqual(final["conversation_id"], mo["conversation_id"])
        sent = [i for i in self.sms(CUSTOMER, "sms.sent")]
        self.assertEqual(len(sent), 1, sent)
        self.assertEqual(sent[0]["text"], text)
        self.assertEqual(sent[0]["conversation_id"], mo["conversation_id"])
        self.assertEqual(sent[0]["metadata"]["delivery"]["status"], "delivered")
        self.assertEqual(sent[0]["metadata"]["kannel"]["coding"], 2)

        # GSM 7-bit (with characters of the extension table), no in_reply_to: still the pair's
        # conversation.
        gsm = "Your order #42 ships today, 12€ {paid}. Grüße!"
        queued = self.reply(customer, gsm)
        got = wait_until(lambda: len(self.mt_to(CUSTOMER)) == 2 and self.mt_to(CUSTOMER), 20, "the 7-bit reply")
        self.assertFalse(got[1]["ucs2"], got[1])
        self.assertEqual(got[1]["text"], gsm)
        wait_until(lambda: self.message(queued["id"])["status"] == "delivered", 20, "7-bit reply delivered")
        self.assertEqual(self.message(queued["id"])["conversation_id"], mo["conversation_id"])

        # A long reply leaves as concatenated parts that join to the text.
        long_text = ("Here are the details of your delivery window and what to do if you are out. " * 5).strip()
        queued = self.reply(customer, long_text)
        got = wait_until(lambda: len(self.mt_to(CUSTOMER)) == 3 and self.mt_to(CUSTOMER), 20, "the long reply")
        self.assertEqual(got[2]["text"], long_text)
        wait_until(lambda: self.message(queued["id"])["status"] == "delivered", 20, "long reply delivered")

        # Too long for max_segments (10): refused at once, nothing sent.
        status, body = call(self.daemon, "POST", "/api/v1/messages",
                            {"customer_id": customer, "channel": "sms", "text": "x" * 1600}, token=ALICE)
        self.assertEqual(status, 400, body)
        self.assertIn("max_segments", body["error"]["message"])
        self.assertNotIn(SENDSMS_PASSWORD, self.daemon.log())

    def test_with_the_gateway_stopped_a_reply_waits_and_is_delivered_once(self):
        self.kannel.send_mo(CUSTOMER, OURS, text="Hi")
        wait_until(lambda: self.sms(CUSTOMER, "sms.received"), 20, "the MO")
        customer = self.customer(CUSTOMER)
        self.kannel.stop_bearerbox()  # smsbox and fakesmsc go with it
        text = "Sorry for the wait, it's on its way"
        queued = self.reply(customer, text)
        # Attempted (connection refused) and waiting for the next try.
        waiting = wait_until(lambda: (lambda m: m["attempts"] >= 2 and m["status"] == "queued" and m)(
            self.message(queued["id"])), 30, "two failed attempts, waiting for the next")
        self.assertTrue(waiting["last_error"], waiting)
        # The connector stays up (its MO endpoint works without smsbox); last_error says why.
        status, ready = self.daemon.get_json("/readyz")
        self.assertEqual((status, ready["connectors"][0]["state"]), (200, "up"), ready)
        self.assertIn("sendsms", ready["connectors"][0]["last_error"])
        self.assertEqual(self.mt_to(CUSTOMER), [])

        self.kannel.start()
        wait_until(lambda: self.message(queued["id"])["status"] == "delivered", 60, "delivered after the restart")
        # Once: a later message of the same conversation leaves only after it, so by the time the
        # second one is at fakesmsc a duplicate of the first would be there too.
        after = self.reply(customer, "And a second message")
        got = wait_until(lambda: [m for m in self.mt_to(CUSTOMER) if m["text"] == "And a second message"], 30,
                         "the later message")
        self.assertEqual(len(got), 1)
        self.assertEqual([m["text"] for m in self.mt_to(CUSTOMER)].count(text), 1, self.mt_to(CUSTOMER))
        wait_until(lambda: self.message(after["id"])["status"] == "delivered", 20, "second delivered")
        self.assertEqual(self.message(queued["id"])["status"], "delivered")


    def test_a_crash_during_a_send_never_sends_it_twice(self):
        self.kannel.send_mo(CUSTOMER, OURS, text="Hi")
        wait_until(lambda: self.sms(CUSTOMER, "sms.received"), 20, "the MO")
        customer = self.customer(CUSTOMER)
        # smsbox frozen: the sendsms request is written but never answered, so the attempt stays
        # `sending`; the daemon dies right then.
        self.kannel.pause_smsbox()
        text = "This one was in flight when the daemon died"
        queued = self.reply(customer, text)
        wait_until(lambda: self.message(queued["id"])["status"] == "sending", 10, "the attempt in progress")
        self.daemon.kill()
        self.kannel.resume_smsbox()  # Kannel may still act on the request it had been sent
        self.daemon.last_status()  # reads the killed run's notifications, then forget them
        self.daemon.messages.clear()
        self.daemon.start()
        after = self.message(queued["id"])
        self.assertEqual(after["status"], "failed", after)
        self.assertIn("interrupted", after["last_error"])
        self.assertEqual(after["attempts"], 1)
        # A later message of the conversation is sent normally; by the time it is at fakesmsc,
        # the first has had every chance to arrive twice.
        later = self.reply(customer, "A later message")
        wait_until(lambda: [m for m in self.mt_to(CUSTOMER) if m["text"] == "A later message"], 30, "the later one")
        self.assertLessEqual([m["text"] for m in self.mt_to(CUSTOMER)].count(text), 1, self.mt_to(CUSTOMER))
        wait_until(lambda: self.message(later["id"])["status"] == "delivered", 20, "the later one delivered")
        self.assertEqual(self.message(queued["id"])["attempts"], 1)


class KannelRequestsTest(unittest.TestCase):
    """Requests Kannel would not make (or a stranger would): refused with 4xx, nothing stored.
    No gateway needed: the sendsms URL points at a closed port."""

    def setUp(self):
        self.port = free_port()
        extra = """  - name: locked
    type: kannel
    number: "60123"
    sendsms_url: http://127.0.0.1:9/cgi-bin/sendsms
    username: u
    password_file: secrets/kannel.password
    secret_file: secrets/kannel.secret
    dlr_mask: 0
    allow_from: [10.0.0.0/8, "fd00::/8"]
"""
        self.daemon = Daemon(config(self.port, "http://127.0.0.1:9/cgi-bin/sendsms", extra), files=FILES)
        self.daemon.__enter__()
        self.addCleanup(self.daemon.__exit__, None, None, None)

    def get(self, path):
        status, _, body = self.daemon.request("GET", path)
        return status, body

    def mo(self, connector="sms", **params):
        # Values as Kannel sends them: already URL-encoded.
        fields = {"secret": urllib.parse.quote(SECRET), "id": "k-1", "from": "%2B447911000001",
                  "to": urllib.parse.quote(OURS), "text": "hi", "coding": "0", "charset": "UTF-8"}
        fields.update(params)
        query = "&".join("%s=%s" % (k, v) for k, v in fields.items() if v is not None)
        return self.get("/webhooks/%s/mo?%s" % (connector, query))

    def metric(self, name):
        status, _, text = self.daemon.request("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual(status, 200)
        for line in text.decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        return 0

    def customer_exists(self, number):
        status, _ = call(self.daemon, "GET", "/api/v1/customers/lookup?kind=phone&value=" + urllib.parse.quote(number))
        return status == 200

    def test_bad_mo_requests_get_4xx_and_store_nothing(self):
        cases = [
            ({"secret": None}, 403),
            ({"secret": "wrong-secret-of-the-same-len"}, 403),
            ({"secret": SECRET + "x"}, 403),
            ({"id": None}, 400),
            ({"from": None}, 400),
            ({"to": None}, 400),
            ({"text": None}, 400),
            ({"text": "%FF%FEabc"}, 400),                 # not UTF-8
            ({"text": "%C0%AF"}, 400),                    # overlong UTF-8
            ({"text": "a%00b"}, 400),                     # NUL
            ({"text": "%00A%00", "coding": "2", "charset": "UTF-16BE"}, 400),  # odd UTF-16
            ({"text": "%D8%3D%00A", "coding": "2", "charset": "UTF-16BE"}, 400),  # unpaired surrogate
            ({"text": "%01%02", "coding": "1", "charset": "8-BIT"}, 400),  # binary
            ({"charset": "EBCDIC"}, 400),
            ({"text": "%zz"}, 400),                       # bad escape
            ({"from": "%2B447911000001&from=%2B447911000002"}, 400),  # repeated
        ]
        for params, expected in cases:
            with self.subTest(params=params):
                status, body = self.mo(**params)
                self.assertEqual(status, expected, body)
        for number in ("+447911000001", "+447911000002"):
            self.assertFalse(self.customer_exists(number), number)
        self.assertEqual(self.metric('omnitrail_kannel_mo_total{connector="sms",result="forbidden"}'), 3)
        self.assertEqual(self.metric('omnitrail_kannel_mo_total{connector="sms",result="bad_request"}'), 13)
        # The allow list: 127.0.0.1 is not in it, even with the right secret.
        self.assertEqual(self.mo(connector="locked")[0], 403)
        self.assertFalse(self.customer_exists("+447911000001"))
        # POST with a body in a charset it does not match.
        status, _, _ = self.daemon.request(
            "POST", "/webhooks/sms/mo?secret=%s&id=k-2&from=%%2B447911000001&to=1" % SECRET, body=b"\xd8\x3d",
            headers={"Content-Type": "text/plain; charset=UTF-16BE"})
        self.assertEqual(status, 400)
        self.assertFalse(self.customer_exists("+447911000001"))
        log = self.daemon.log()
        self.assertNotIn(SECRET, log)
        self.assertIn("wrong secret", log)

    def test_a_ucs2_mo_as_kannel_sends_it_without_mo_recode(self):
        text = "Thanks 👍 Спасибо"
        encoded = urllib.parse.quote_from_bytes(text.encode("utf-16-be"))
        status, _ = self.mo(id="k-ucs2", text=encoded, coding="2", charset="UTF-16BE")
        self.assertEqual(status, 200)
        # Kannel's retry of the same message (same %I) is stored once.
        self.assertEqual(self.mo(id="k-ucs2", text=encoded, coding="2", charset="UTF-16BE")[0], 200)
        found = call(self.daemon, "GET", "/api/v1/customers/lookup?kind=phone&value=%2B447911000001")[1]
        status, timeline = call(self.daemon, "GET", "/api/v1/customers/%s/timeline?channel=sms" % found["customer"]["id"])
        self.assertEqual([i["text"] for i in timeline["items"]], [text])
        self.assertEqual(timeline["items"][0]["metadata"]["kannel"]["charset"], "UTF-16BE")

    def test_bad_delivery_reports_are_refused(self):
        good_sig = hmac.new(SECRET.encode(), b"kannel-dlr:sms:m_00000000000000aa", hashlib.sha256).hexdigest()
        base = "/webhooks/sms/dlr?message_id=m_00000000000000aa&type=1&smsc_id=x&report=&time=1795525100&sig="
        self.assertEqual(self.get(base + "0" * 64)[0], 403)            # wrong signature
        other = hmac.new(SECRET.encode(), b"kannel-dlr:locked:m_00000000000000aa", hashlib.sha256).hexdigest()
        self.assertEqual(self.get(base + other)[0], 403)               # another connector's
        self.assertEqual(self.get(base + good_sig)[0], 404)            # right, but no such message
        self.assertEqual(self.get(base.replace("type=1", "type=64") + good_sig)[0], 400)
        self.assertEqual(self.get("/webhooks/sms/dlr?type=1&sig=" + good_sig)[0], 400)
        self.assertEqual(self.metric('omnitrail_kannel_dlr_total{connector="sms",result="forbidden"}'), 2)
        self.assertEqual(self.metric('omnitrail_kannel_dlr_total{connector="sms",result="unknown"}'), 1)


class KannelConfigTest(unittest.TestCase):
    """The block is validated like every connector's: file:line:col, the key's path, no secret."""

    def check(self, block, server=""):
        require_binary()
        with tempfile.TemporaryDirectory() as tmp:
            for name, value in (("kannel.password", SENDSMS_PASSWORD), ("kannel.secret", SECRET)):
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(value + "\n")
                os.chmod(os.path.join(tmp, name), 0o600)
            path = os.path.join(tmp, "omnitrail.yaml")
            with open(path, "w") as f:
                f.write(server + "connectors:\n  - name: sms\n    type: kannel\n" + block)
            r = subprocess.run([OMNITRAILD, "--check-config", "--config", path], capture_output=True, text=True,
                               timeout=30)
            self.assertNotIn(SENDSMS_PASSWORD, r.stdout + r.stderr)
            self.assertNotIn(SECRET, r.stdout + r.stderr)
            return r.returncode, [l[len(path):] for l in r.stderr.splitlines() if l.startswith(path + ":")]

    def test_valid_block(self):
        code, errors = self.check('    number: "+447700900999"\n    username: u\n    password_file: kannel.password\n'
                                  "    secret_file: kannel.secret\n    callback_url: http://10.0.0.5:8080\n"
                                  "    allow_from: [10.0.0.7, \"fd00::/8\"]\n    max_segments: 4\n")
        self.assertEqual((code, errors), (0, []))
        # No callback_url: server.public_url serves.
        code, errors = self.check('    number: "60123"\n    username: u\n    password_file: kannel.password\n'
                                  "    secret_file: kannel.secret\n",
                                  server="server:\n  public_url: https://cc.example.com\n")
        self.assertEqual((code, errors), (0, []))

    def test_errors_name_the_key_and_the_place(self):
        code, errors = self.check('    number: "12"\n    sendsms_url: ftp://kannel/sendsms\n    username: u\n'
                                  "    password_file: kannel.password\n    secret_file: kannel.secret\n"
                                  "    callback_url: http://10.0.0.5:8080/x%20y\n    allow_from: [10.0.0.0/33]\n"
                                  "    dlr_mask: 64\n    max_segments: 0\n    timeout: 0s\n")
        self.assertEqual(code, 78)
        text = "\n".join(errors)
        for expected in (":4:", "connectors[0].number", "connectors[0].sendsms_url", "connectors[0].callback_url",
                         "connectors[0].allow_from[0]", "connectors[0].dlr_mask", "connectors[0].max_segments",
                         "connectors[0].timeout"):
            self.assertIn(expected, text)
        # Missing required keys; an inline secret; no URL for delivery reports.
        code, errors = self.check('    number: "+447700900999"\n    password: inline-secret\n')
        self.assertEqual(code, 78)
        text = "\n".join(errors)
        for expected in ('missing required key "username"', 'missing required key "secret_file"',
                         "connectors[0].password: inline secrets are not allowed", "connectors[0].callback_url"):
            self.assertIn(expected, text)
        self.assertNotIn("inline-secret", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
