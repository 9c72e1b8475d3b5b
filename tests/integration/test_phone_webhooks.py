"""The phone_webhook and twilio_voice connectors end to end: requests signed here (hmac, hashlib,
base64) are POSTed to the daemon, agents connected by WebSocket get the screen-pops, the timeline
holds one call, and every refusal (replay, expired, wrong signature, bad JSON, out-of-order
Twilio callback) is answered as documented without storing anything or leaking a secret."""
import base64
import hashlib
import hmac
import json
import time
import unittest
import urllib.parse

from harness import Daemon, call, wait_until
from wsclient import WebSocket

TOKENS = {"alice": "alice-token-for-hook-tests-0123456789", "bob": "bob-token-for-hook-tests-0123456789"}
PBX_SECRET = "pbx-webhook-secret-never-logged-42"
TWILIO_TOKEN = "twilio-auth-token-never-logged-4242"
ACCOUNT = "AC" + "0123456789abcdef" * 2
PUBLIC = "https://omnitrail.test"
TWILIO_URL = PUBLIC + "/webhooks/twilio"
SAY = "Thank you for calling Omnitrail & co."


def config(public_url=PUBLIC):
    server_url = "  public_url: %s\n" % public_url if public_url else ""
    return """
server:
  listen: ["127.0.0.1:0"]
%s  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 3s}
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - {id: alice, name: Alice, extensions: ["6001"], queues: [support], token_file: secrets/alice.token}
  - {id: bob, name: Bob, extensions: ["6002"], queues: [support], token_file: secrets/bob.token}
connectors:
  - name: pbx
    type: phone_webhook
    secret_file: secrets/pbx.secret
    replay_window: 5m
    region: GB
    queue: support
  - name: twilio
    type: twilio_voice
    auth_token_file: secrets/twilio.token
    account_sid: %s
    region: GB
    queue: support
    twiml:
      say: "%s"
      dial: "client:reception"
""" % (server_url, ACCOUNT, SAY)


def files():
    out = {"secrets/%s.token" % a: t + "\n" for a, t in TOKENS.items()}
    out["secrets/admin.token"] = "admin-token-for-tests-0123456789\n"
    out["secrets/pbx.secret"] = PBX_SECRET + "\n"
    out["secrets/twilio.token"] = TWILIO_TOKEN + "\n"
    return out


def cti_signature(body, secret=PBX_SECRET, t=None):
    t = str(int(time.time()) if t is None else t)
    v1 = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "t=%s,v1=%s" % (t, v1)


def twilio_signature(url, params, token=TWILIO_TOKEN):
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class PhoneWebhooksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(config(), files=files()).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def agent(self, name):
        d = self.daemon
        ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS[name]})
        self.assertEqual(ws.recv()["type"], "hello")
        self.addCleanup(ws.close)
        return ws

    # ---- phone_webhook ----------------------------------------------------------------------
    def cti(self, event, headers=None, raw=None, **fields):
        body = raw if raw is not None else json.dumps(dict(event=event, **fields)).encode()
        hdrs = {"Content-Type": "application/json", "X-Omnitrail-Signature": cti_signature(body)}
        hdrs.update(headers or {})
        status, _, data = self.daemon.request("POST", "/webhooks/pbx", body=body, headers=hdrs)
        return status, json.loads(data.decode()) if data else None, body, hdrs

    def timeline(self, customer_id):
        status, body = call(self.daemon, "GET", "/api/v1/customers/%s/timeline?channel=phone" % customer_id)
        self.assertEqual(status, 200, body)
        return body["items"]

    def test_cti_call_pops_answers_ends_and_refusals(self):
        alice = self.agent("alice")
        call_fields = {"call_id": "pbx-call-1", "from": "+442079460001", "to": "6001", "direction": "inbound",
                       "caller_name": "Ada Lovelace"}
        status, out, ring_body, ring_headers = self.cti("newCall", extension="6001", **call_fields)
        self.assertEqual(status, 200, out)
        self.assertFalse(out["duplicate"])
        self.assertTrue(out["interaction_id"])
        ringing = alice.recv_until(lambda m: m["type"] == "pop.ringing", 10)
        view = ringing["pop"]["customer_view"]
        self.assertIn("+442079460001", [i["key"] for i in view["identities"]])
        self.assertEqual(ringing["pop"]["trigger"]["channel"], "phone")

        status, out, _, _ = self.cti("answer", user="alice", extension="6001", **call_fields)
        self.assertEqual(status, 200, out)
        update = alice.recv_until(lambda m: m["type"] == "pop.updated" and m["pop"]["state"] == "answered", 10)
        self.assertEqual(update["pop"]["id"], ringing["pop"]["id"])
        self.assertEqual(update["pop"]["answered_by"], "alice")

        status, out, _, _ = self.cti("hangup", user="alice", duration=42, **call_fields)
        self.assertEqual(status, 200, out)
        ended = alice.recv_until(lambda m: m["type"] == "pop.ended", 10)
        self.assertEqual(ended["pop"]["id"], ringing["pop"]["id"])

        items = self.timeline(view["customer"]["id"])
        self.assertEqual(sorted(i["kind"] for i in items), ["call.answered", "call.ended", "call.ringing"])
        self.assertEqual(len({i["conversation_id"] for i in items}), 1, items)

        # The same request again (same signature): refused as a replay, nothing stored.
        status, _, data = self.daemon.request("POST", "/webhooks/pbx", body=ring_body, headers=ring_headers)
        self.assertEqual(status, 403)
        self.assertIn("replayed", data.decode())
        # Expired (an hour old) and a wrong secret: 403, nothing stored.
        status, out, _, _ = self.cti("newCall", extension="6001", headers={
            "X-Omnitrail-Signature": cti_signature(ring_body, t=int(time.time()) - 3600)}, raw=ring_body)
        self.assertEqual(status, 403)
        self.assertIn("expired", json.dumps(out))
        wrong = cti_signature(ring_body, secret="not-the-secret")
        status, out, _, _ = self.cti("newCall", headers={"X-Omnitrail-Signature": wrong}, raw=ring_body)
        self.assertEqual(status, 403)
        self.assertIn("mismatch", json.dumps(out))
        status, out, _, _ = self.cti("newCall", headers={"X-Omnitrail-Signature": ""}, raw=ring_body)
        self.assertEqual(status, 403)
        status, out, _, _ = self.cti("newCall", headers={"X-Omnitrail-Signature": "t=1,v1=zz"}, raw=ring_body)
        self.assertEqual(status, 403)
        self.assertIn("malformed", json.dumps(out))
        # A correctly signed body that is not JSON, or misses a field: 400.
        status, out, _, _ = self.cti(None, raw=b'{"event": "newCall",')
        self.assertEqual(status, 400, out)
        status, out, _, _ = self.cti("ringing", call_id="x", **{"from": "1", "to": "2"})
        self.assertEqual(status, 400, out)
        self.assertIn("event", out["error"]["message"])
        self.assertEqual(len(self.timeline(view["customer"]["id"])), 3)
        self.assertIsNone(alice.expect_silence(0.3))

        log = self.daemon.log()
        self.assertNotIn(PBX_SECRET, log)
        self.assertNotIn(wrong.split("v1=")[1], log)
        self.assertIn("X-Omnitrail-Signature mismatch", log)
        metrics = self.daemon.request("GET", "/metrics")[2].decode()
        self.assertIn('omnitrail_webhook_requests_total{connector="pbx",result="replayed"} 1', metrics)
        self.assertIn('omnitrail_webhook_requests_total{connector="pbx",result="ok"} 3', metrics)
        status, ready = self.daemon.get_json("/readyz")
        states = {c["name"]: c for c in ready["connectors"]}
        self.assertEqual(states["pbx"]["state"], "up")
        self.assertEqual(states["twilio"]["state"], "up")
        self.assertNotIn(PBX_SECRET, json.dumps(ready))

    # ---- twilio_voice -----------------------------------------------------------------------
    def twilio(self, params, url=TWILIO_URL, signature=None, query=""):
        body = urllib.parse.urlencode(params).encode()
        signed = url + ("?" + query if query else "")
        hdrs = {"Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature or twilio_signature(signed, params)}
        path = "/webhooks/twilio" + ("?" + query if query else "")
        status, headers, data = self.daemon.request("POST", path, body=body, headers=hdrs)
        return status, headers, data.decode()

    def params(self, call_sid, status, sequence=None, caller="+442079460077"):
        p = [("AccountSid", ACCOUNT), ("CallSid", call_sid), ("CallStatus", status), ("Direction", "inbound"),
             ("From", caller), ("To", "+442079460100"), ("ApiVersion", "2010-04-01")]
        if sequence is not None:
            p.append(("SequenceNumber", str(sequence)))
        return p

    def test_twilio_call_twiml_pops_and_out_of_order_callbacks(self):
        alice, bob = self.agent("alice"), self.agent("bob")
        sid = "CA" + "1" * 32
        status, headers, body = self.twilio(self.params(sid, "ringing"))
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/xml"), headers)
        self.assertIn("<Say>Thank you for calling Omnitrail &amp; co.</Say>", body)
        self.assertIn("<Client>reception</Client>", body)
        pops = {}
        for name, ws in (("alice", alice), ("bob", bob)):
            pops[name] = ws.recv_until(lambda m: m["type"] == "pop.ringing" and m["pop"]["trigger"]["channel"] == "phone"
                                       and "+442079460077" in json.dumps(m), 10)
            self.assertIn("+442079460077", [i["key"] for i in pops[name]["pop"]["customer_view"]["identities"]])
        customer = pops["alice"]["pop"]["customer_view"]["customer"]["id"]

        status, _, body = self.twilio(self.params(sid, "in-progress", 1))
        self.assertEqual(status, 200, body)
        self.assertIn("<Response/>", body)
        status, _, body = self.twilio(self.params(sid, "completed", 3) + [("CallDuration", "31")])
        self.assertEqual(status, 200, body)
        ended = alice.recv_until(lambda m: m["type"] == "pop.ended" and m["pop"]["id"] == pops["alice"]["pop"]["id"], 10)
        self.assertEqual(ended["pop"]["state"], "ended")
        bob.recv_until(lambda m: m["type"] == "pop.ended" and m["pop"]["id"] == pops["bob"]["pop"]["id"], 10)
        before = self.timeline(customer)
        self.assertEqual(sorted(i["kind"] for i in before), ["call.answered", "call.ended", "call.ringing"])
        # A late ringing (SequenceNumber 2, after the end): answered with an empty document,
        # not stored, no new pop.
        status, _, body = self.twilio(self.params(sid, "ringing", 2))
        self.assertEqual(status, 200, body)
        self.assertIn("<Response/>", body)
        self.assertNotIn("<Say>", body)
        self.assertIsNone(alice.expect_silence(0.5))
        self.assertEqual(len(self.timeline(customer)), len(before))

        # A wrong signature (or none): 403, the token never logged.
        p = self.params("CA" + "2" * 32, "ringing")
        status, _, _ = self.twilio(p, signature=twilio_signature(TWILIO_URL, p, token="wrong-token"))
        self.assertEqual(status, 403)
        status, _, _ = self.twilio(p, url=TWILIO_URL + "/other")
        self.assertEqual(status, 403)
        # Another account, correctly signed: 403.
        other = [(k, "AC" + "f" * 32 if k == "AccountSid" else v) for k, v in p]
        status, _, _ = self.twilio(other)
        self.assertEqual(status, 403)
        self.assertIsNone(alice.expect_silence(0.3))
        self.assertNotIn(TWILIO_TOKEN, self.daemon.log())

    def test_twilio_accepts_the_default_port_form_and_a_query(self):
        bob = self.agent("bob")
        p = self.params("CA" + "3" * 32, "ringing", caller="+442079460088")
        status, _, body = self.twilio(p, url="https://omnitrail.test:443/webhooks/twilio", query="tenant=a%20b")
        self.assertEqual(status, 200, body)
        self.assertIn("<Say>", body)
        ringing = bob.recv_until(lambda m: m["type"] == "pop.ringing" and "+442079460088" in json.dumps(m), 10)
        self.assertIn("+442079460088", [i["key"] for i in ringing["pop"]["customer_view"]["identities"]])
        # Signed without the query, sent with one: refused.
        status, _, _ = self.twilio(p, signature=twilio_signature(TWILIO_URL, p), query="tenant=x")
        self.assertEqual(status, 403)
        # Not a form body.
        status, _, _ = self.daemon.request("POST", "/webhooks/twilio", body=b"{}",
                                           headers={"Content-Type": "application/json"})
        self.assertEqual(status, 415)


class TwilioConfigTest(unittest.TestCase):
    def test_no_public_url_is_a_config_error(self):
        d = Daemon(config(public_url=None), files=files())
        try:
            d.start(wait_ready=False)
            self.assertEqual(d.wait_exit(20), 78)
            self.assertRegex(d.log(), r"omnitrail\.yaml:\d+:\d+: connectors\[\d\]\.public_url: the URL Twilio signs is unknown")
        finally:
            d.__exit__(None, None, None)

    def test_bad_path_is_a_config_error(self):
        text = config().replace("    replay_window: 5m\n", "    replay_window: 5m\n    path: /api/v1/hook\n")
        d = Daemon(text, files=files())
        try:
            d.start(wait_ready=False)
            self.assertNotEqual(d.wait_exit(20), 0)
            self.assertIn("must start with /webhooks/", d.log())
        finally:
            d.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
