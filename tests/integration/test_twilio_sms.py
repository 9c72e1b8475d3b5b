"""The twilio_sms connector end to end. Inbound: Twilio's webhooks are signed here (hmac,
hashlib, base64) and POSTed to the daemon: an SMS lands once on the sender's timeline, Unicode
intact, in the (customer, our number) conversation, and pops the connector's queue agents; every
bad request (signature, account, fields, encoding) gets a 4xx and stores nothing. Outbound: a
local stand-in for the Messages REST API records what the daemon sends and answers 201 / 500 /
400 / slowly on demand: the request is exactly Twilio's (path, Basic auth, form fields, status
callback URL), 5xx is retried, 4xx fails with Twilio's error, an unanswered attempt is looked up
before any resend, a SIGKILL mid-attempt never sends twice, and status callbacks move the message
to delivered / failed."""
import base64
import hashlib
import hmac
import http.server
import json
import signal
import threading
import time
import unittest
import urllib.parse
from email.utils import formatdate

from harness import Daemon, call, wait_until
from wsclient import WebSocket

TOKENS = {"alice": "alice-token-for-sms-tests-0123456789", "bob": "bob-token-for-sms-tests-0123456789"}
ADMIN_TOKEN = "admin-token-for-tests-0123456789"  # the harness's call() default
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}
ALICE = {"Authorization": "Bearer " + TOKENS["alice"]}
AUTH_TOKEN = "twilio-sms-auth-token-never-logged-77"
ACCOUNT = "AC" + "0123456789abcdef" * 2
OUR_NUMBER = "+441632960000"
PUBLIC = "https://omnitrail.test"
INBOUND_URL = PUBLIC + "/webhooks/sms"
STATUS_URL = INBOUND_URL + "/status"


class TwilioStandIn:
    """A local stand-in for Twilio's Messages API. Records every request (method, path, query,
    basic auth, form fields); POST .../Messages.json answers by `script` (one entry per POST, then
    "ok"): "ok" 201 with a new sid, "500", "400" (Twilio error 21211), "slow:<seconds>" (creates
    the message, then answers 201 after the delay: the caller's timeout turns it into an unknown
    outcome). GET .../Messages.json lists the created messages, newest first, in Twilio's shape."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.created = []
        self.script = []
        self.counter = 0
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def record(self, form):
                auth = self.headers.get("Authorization", "")
                user = password = None
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                path, _, query = self.path.partition("?")
                entry = {"method": self.command, "path": path, "query": urllib.parse.parse_qs(query),
                         "user": user, "password": password, "form": form,
                         "content_type": self.headers.get("Content-Type")}
                with stand_in.lock:
                    stand_in.requests.append(entry)
                return entry

            def do_GET(self):
                entry = self.record({})
                if not entry["path"].endswith("/Messages.json") or entry["password"] != AUTH_TOKEN:
                    return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                to = entry["query"].get("To", [None])[0]
                with stand_in.lock:
                    items = [m for m in reversed(stand_in.created) if to is None or m["to"] == to]
                self.answer(200, {"messages": items, "page_size": 50})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
                entry = self.record(form)
                if entry["user"] != ACCOUNT or entry["password"] != AUTH_TOKEN:
                    return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                with stand_in.lock:
                    mode = stand_in.script.pop(0) if stand_in.script else "ok"
                if mode == "500":
                    return self.answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                if mode == "400":
                    return self.answer(400, {"code": 21211, "message": "The 'To' number %s is not a valid phone number."
                                             % form.get("To"), "more_info": "https://www.twilio.com/docs/errors/21211",
                                             "status": 400})
                with stand_in.lock:
                    stand_in.counter += 1
                    sid = "SM%032x" % stand_in.counter
                    message = {"sid": sid, "to": form.get("To"), "from": form.get("From", "+441632960099"),
                               "messaging_service_sid": form.get("MessagingServiceSid"), "body": form.get("Body"),
                               "direction": "outbound-api", "status": "queued",
                               "date_created": formatdate(time.time(), usegmt=False).replace("-0000", "+0000")}
                    stand_in.created.append(message)
                if mode.startswith("slow:"):
                    time.sleep(float(mode[5:]))
                try:
                    self.answer(201, message)
                except OSError:
                    pass

        http.server.ThreadingHTTPServer.daemon_threads = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def posts(self):
        with self.lock:
            return [r for r in self.requests if r["method"] == "POST"]

    def gets(self):
        with self.lock:
            return [r for r in self.requests if r["method"] == "GET"]


def config(api_port, public_url=PUBLIC, extra=""):
    server_url = "  public_url: %s\n" % public_url if public_url else ""
    return """
server:
  listen: ["127.0.0.1:0"]
%s  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 5s}
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - {id: alice, name: Alice, extensions: ["6001"], queues: [support], token_file: secrets/alice.token}
  - {id: bob, name: Bob, extensions: ["6002"], queues: [sales], token_file: secrets/bob.token}
connectors:
  - name: sms
    type: twilio_sms
    account_sid: %s
    auth_token_file: secrets/twilio.token
    from: "%s"
    api_base_url: http://127.0.0.1:%d
    timeout: 2s
    connect_timeout: 1s
    region: GB
    queue: support
%s""" % (server_url, ACCOUNT, OUR_NUMBER, api_port, extra)


def files():
    out = {"secrets/%s.token" % a: t + "\n" for a, t in TOKENS.items()}
    out["secrets/admin.token"] = ADMIN_TOKEN + "\n"
    out["secrets/twilio.token"] = AUTH_TOKEN + "\n"
    return out


def twilio_signature(url, params, token=AUTH_TOKEN):
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


_sid = [0]


def message_sid(prefix="SM"):
    _sid[0] += 1
    return "%s%032x" % (prefix, 0xabc000 + _sid[0])


def inbound_params(body, sender="+447911123456", sid=None, **extra):
    p = [("ToCountry", "GB"), ("SmsMessageSid", sid or message_sid()), ("NumMedia", "0"), ("Body", body),
         ("AccountSid", ACCOUNT), ("From", sender), ("To", OUR_NUMBER), ("NumSegments", "1"),
         ("ApiVersion", "2010-04-01")]
    p.append(("MessageSid", p[1][1]))
    for k, v in extra.items():
        p = [(a, b) for a, b in p if a != k] + [(k, v)]
    return p


class Base(unittest.TestCase):
    extra_config = ""

    @classmethod
    def setUpClass(cls):
        cls.twilio = TwilioStandIn()
        cls.daemon = Daemon(config(cls.twilio.port, extra=cls.extra_config), files=files()).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)
        cls.twilio.stop()

    def agent(self, name):
        d = self.daemon
        ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS[name]})
        self.assertEqual(ws.recv()["type"], "hello")
        self.addCleanup(ws.close)
        return ws

    def post(self, path, params, url=None, signature=None, query="", content_type="application/x-www-form-urlencoded",
             raw=None):
        signed = (url or PUBLIC + path) + ("?" + query if query else "")
        body = raw if raw is not None else urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": content_type}
        if signature is not False:
            headers["X-Twilio-Signature"] = signature or twilio_signature(signed, params)
        status, hdrs, data = self.daemon.request("POST", path + ("?" + query if query else ""), body=body,
                                                 headers=headers)
        return status, hdrs, data.decode("utf-8", "replace")

    def inbound(self, params, **kw):
        return self.post("/webhooks/sms", params, **kw)

    def customer_of(self, phone):
        """The customer id behind `phone`, or None when nobody has it."""
        status, body = call(self.daemon, "GET", "/api/v1/customers/lookup?value=" + urllib.parse.quote(phone))
        if status == 404:
            return None
        self.assertEqual(status, 200, body)
        return body["customer"]["id"]

    def timeline(self, customer_id):
        status, body = call(self.daemon, "GET", "/api/v1/customers/%s/timeline?channel=sms" % customer_id)
        self.assertEqual(status, 200, body)
        return body["items"]


class InboundTest(Base):
    def test_sms_lands_once_with_unicode_and_pops_the_queue(self):
        alice, bob = self.agent("alice"), self.agent("bob")
        text = "Grüße 👋 from Zoë — can I change my delivery? 🚚📦 ¿Sí? 你好"
        params = inbound_params(text)
        status, headers, body = self.inbound(params)
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/xml"), headers)
        self.assertIn("<Response/>", body)
        pop = alice.recv_until(lambda m: m["type"] == "pop.ringing" and m["pop"]["trigger"]["channel"] == "sms", 10)
        self.assertEqual(pop["pop"]["trigger"]["kind"], "sms.received")
        view = pop["pop"]["customer_view"]
        self.assertIn("+447911123456", [i["key"] for i in view["identities"]])
        # bob serves another queue: no pop for him.
        self.assertIsNone(bob.expect_silence(0.5))
        items = self.timeline(view["customer"]["id"])
        self.assertEqual(len(items), 1, items)
        item = items[0]
        self.assertEqual(item["text"], text)
        self.assertEqual(item["kind"], "sms.received")
        self.assertEqual(item["source"], "sms")
        self.assertEqual(item["external_id"], dict(params)["MessageSid"])
        self.assertEqual(item["metadata"]["our_number"], OUR_NUMBER)
        self.assertEqual(item["metadata"]["queue"], "support")

        # Twilio's retry of the same message (same MessageSid): answered, stored once, no new pop.
        status, _, body = self.inbound(params)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.timeline(view["customer"]["id"])), 1)
        self.assertIsNone(alice.expect_silence(0.3))

        # A second text from the same number: the same conversation.
        status, _, _ = self.inbound(inbound_params("and another thing"))
        self.assertEqual(status, 200)
        items = self.timeline(view["customer"]["id"])
        self.assertEqual(len(items), 2)
        self.assertEqual(len({i["conversation_id"] for i in items}), 1, items)

    def test_mms_media_urls_and_a_long_text(self):
        media = [("NumMedia", "2"), ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/%s/Messages/MM1/Media/ME1"
                                     % ACCOUNT), ("MediaContentType0", "image/jpeg"),
                 ("MediaUrl1", "https://api.twilio.com/media/ME2"), ("MediaContentType1", "video/mp4")]
        sid = message_sid("MM")
        params = [(k, v) for k, v in inbound_params("", sender="+447911123457", sid=sid) if k != "NumMedia"] + media
        status, _, body = self.inbound(params)
        self.assertEqual(status, 200, body)
        customer = wait_until(lambda: self.customer_of("+447911123457"), what="the MMS sender")
        item = self.timeline(customer)[0]
        self.assertIn(item["text"], (None, ""))
        self.assertEqual([m["url"] for m in item["metadata"]["media"]], [media[1][1], media[3][1]])
        self.assertEqual(item["metadata"]["media"][1]["content_type"], "video/mp4")

        long_text = ("Long message 🧵 " * 100)[:1600]
        status, _, _ = self.inbound(inbound_params(long_text, sender="+447911123457"))
        self.assertEqual(status, 200)
        texts = [i["text"] for i in self.timeline(customer)]
        self.assertIn(long_text, texts)

    def test_default_port_form_and_query_are_signed_too(self):
        params = inbound_params("port 443", sender="+447911123458")
        status, _, body = self.inbound(params, url="https://omnitrail.test:443/webhooks/sms", query="tenant=a%20b")
        self.assertEqual(status, 200, body)
        self.assertTrue(wait_until(lambda: self.customer_of("+447911123458"), what="stored"))

    def test_bad_requests_get_4xx_and_store_nothing(self):
        alice = self.agent("alice")
        sender = "+447911123459"
        ok = inbound_params("never stored", sender=sender)
        cases = [
            ("wrong token", dict(signature=twilio_signature(INBOUND_URL, ok, token="not-the-token")), ok, 403),
            ("no signature", dict(signature=False), ok, 403),
            ("signed for another URL", dict(signature=twilio_signature(INBOUND_URL + "x", ok)), ok, 403),
            ("signed without the query", dict(signature=twilio_signature(INBOUND_URL, ok), query="x=1"), ok, 403),
            ("another account", {}, inbound_params("x", sender=sender, AccountSid="AC" + "f" * 32), 403),
            ("no From", {}, [(k, v) for k, v in ok if k != "From"], 400),
            ("no MessageSid", {}, [(k, v) for k, v in ok if k not in ("MessageSid", "SmsMessageSid")], 400),
            ("no Body", {}, [(k, v) for k, v in ok if k != "Body"], 400),
            ("NumMedia without media", {}, inbound_params("x", sender=sender, NumMedia="1"), 400),
            ("NumMedia not a number", {}, inbound_params("x", sender=sender, NumMedia="lots"), 400),
            ("media not a URL", {}, inbound_params("x", sender=sender, NumMedia="1", MediaUrl0="file:///etc/passwd"), 400),
            ("JSON body", dict(content_type="application/json", raw=b"{}"), ok, 415),
            ("invalid UTF-8", dict(raw=b"Body=%C3%28&From=%2B447911123459&To=%2B441632960000"), ok, 400),
            ("bad percent escape", dict(raw=b"Body=100%&From=%2B447911123459"), ok, 400),
            ("empty name", dict(raw=b"=x&From=1"), ok, 400),
        ]
        for name, kw, params, expected in cases:
            with self.subTest(name):
                status, _, body = self.inbound(params, **kw)
                self.assertEqual(status, expected, body)
                self.assertIn('"error"', body)
        self.assertIsNone(self.customer_of(sender))
        self.assertIsNone(alice.expect_silence(0.5))
        log = self.daemon.log()
        self.assertNotIn(AUTH_TOKEN, log)
        self.assertIn("X-Twilio-Signature mismatch", log)
        metrics = self.daemon.request("GET", "/metrics")[2].decode()
        self.assertRegex(metrics, r'omnitrail_webhook_requests_total\{connector="sms",result="forbidden"\} [5-9]')
        status, ready = self.daemon.get_json("/readyz")
        states = {c["name"]: c for c in ready["connectors"]}
        self.assertEqual(states["sms"]["state"], "up")
        self.assertNotIn(AUTH_TOKEN, json.dumps(ready))

    def test_status_callbacks_are_authenticated(self):
        params = [("MessageSid", message_sid()), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT)]
        status, _, _ = self.post("/webhooks/sms/status", params, signature=twilio_signature(STATUS_URL, params, "bad"))
        self.assertEqual(status, 403)
        status, _, body = self.post("/webhooks/sms/status", [(k, v) for k, v in params if k != "MessageStatus"])
        self.assertEqual(status, 400, body)
        self.assertIn("MessageStatus", body)
        # A status this connector does not report, and one for a message it does not know: 2xx.
        status, _, _ = self.post("/webhooks/sms/status", [params[0], ("MessageStatus", "receiving"), params[2]])
        self.assertIn(status, (200, 204))


class OutboundBase(Base):
    def texted_in(self, sender, text="hello"):
        """An inbound text from `sender`: (customer id, interaction id)."""
        status, _, body = self.inbound(inbound_params(text, sender=sender))
        self.assertEqual(status, 200, body)
        customer = wait_until(lambda: self.customer_of(sender), what="the sender's customer")
        items = [i for i in self.timeline(customer) if i["kind"] == "sms.received"]
        return customer, items[0]["id"]

    def reply(self, customer, text, parent=None, expect=202, **extra):
        body = dict(customer_id=customer, channel="sms", text=text, **extra)
        if parent:
            body["in_reply_to"] = parent
        status, out = call(self.daemon, "POST", "/api/v1/messages", body, token=ALICE)
        self.assertEqual(status, expect, out)
        return out

    def message(self, message_id):
        status, out = call(self.daemon, "GET", "/api/v1/messages/" + message_id, token=ALICE)
        self.assertEqual(status, 200, out)
        return out

    def wait_status(self, message_id, wanted, timeout=20):
        return wait_until(lambda: (lambda m: m if m["status"] == wanted else None)(self.message(message_id)),
                          timeout, "message %s %s (now %s)" % (message_id, wanted, self.message(message_id)))

    def posts_to(self, number):
        return [r for r in self.twilio.posts() if r["form"].get("To") == number]

    def callback(self, params, query=""):
        return self.post("/webhooks/sms/status", params, query=query)


class OutboundTest(OutboundBase):
    def test_reply_is_twilios_request_in_the_same_conversation_and_reports_apply(self):
        number = "+447911200001"
        customer, parent = self.texted_in(number, "Where is my parcel?")
        text = "Grüße 👋 — your parcel 📦 ships today. ¿Algo más? 你好"
        queued = self.reply(customer, text, parent)
        self.assertEqual(queued["status"], "queued")
        sent = self.wait_status(queued["id"], "sent")
        posts = self.posts_to(number)
        self.assertEqual(len(posts), 1, posts)
        request = posts[0]
        self.assertEqual(request["path"], "/2010-04-01/Accounts/%s/Messages.json" % ACCOUNT)
        self.assertEqual((request["user"], request["password"]), (ACCOUNT, AUTH_TOKEN))
        self.assertEqual(request["content_type"], "application/x-www-form-urlencoded")
        self.assertEqual(request["form"], {"To": number, "From": OUR_NUMBER, "Body": text,
                                           "StatusCallback": STATUS_URL + "?m=" + queued["id"]})
        sid = self.twilio.created[-1]["sid"]
        self.assertEqual(sent["provider_id"], sid)
        items = self.timeline(customer)
        self.assertEqual(sorted(i["kind"] for i in items), ["sms.received", "sms.sent"])
        self.assertEqual(len({i["conversation_id"] for i in items}), 1, items)
        outbound = [i for i in items if i["kind"] == "sms.sent"][0]
        self.assertEqual(outbound["text"], text)

        # Twilio's callbacks, signed for the URL the reply named: delivered, then a late "sent"
        # that must not move it back.
        status, _, body = self.callback([("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT)],
                                        query="m=" + queued["id"])
        self.assertEqual(status, 204, body)
        self.wait_status(queued["id"], "delivered")
        status, _, _ = self.callback([("MessageSid", sid), ("MessageStatus", "sent"), ("AccountSid", ACCOUNT)],
                                     query="m=" + queued["id"])
        self.assertEqual(status, 204)
        time.sleep(0.3)
        self.assertEqual(self.message(queued["id"])["status"], "delivered")
        outbound = [i for i in self.timeline(customer) if i["kind"] == "sms.sent"][0]
        self.assertEqual(outbound["metadata"]["delivery"]["status"], "delivered")
        # A callback signed for another message id is refused.
        status, _, _ = self.post("/webhooks/sms/status", [("MessageSid", sid), ("MessageStatus", "failed"),
                                                          ("AccountSid", ACCOUNT)],
                                 signature=twilio_signature(STATUS_URL + "?m=" + queued["id"],
                                                            [("MessageSid", sid), ("MessageStatus", "failed"),
                                                             ("AccountSid", ACCOUNT)]),
                                 query="m=m_0000000000000000")
        self.assertEqual(status, 403)

        # A second reply, undelivered; the callback names it by MessageSid only.
        second = self.reply(customer, "second", parent)
        self.wait_status(second["id"], "sent")
        sid2 = self.twilio.created[-1]["sid"]
        status, _, _ = self.callback([("MessageSid", sid2), ("MessageStatus", "undelivered"), ("ErrorCode", "30003"),
                                      ("AccountSid", ACCOUNT)])
        self.assertEqual(status, 204)
        failed = self.wait_status(second["id"], "failed")
        self.assertIn("30003", failed["last_error"])
        # A callback for a message nobody sent: answered, nothing changes.
        status, _, _ = self.callback([("MessageSid", "SM" + "9" * 32), ("MessageStatus", "delivered"),
                                      ("AccountSid", ACCOUNT)])
        self.assertEqual(status, 204)
        self.assertNotIn(AUTH_TOKEN, self.daemon.log())

    def test_5xx_is_retried_4xx_fails_with_twilios_error(self):
        number = "+447911200002"
        customer, parent = self.texted_in(number)
        self.twilio.script[:] = ["500", "500"]
        queued = self.reply(customer, "retried twice", parent)
        sent = self.wait_status(queued["id"], "sent", timeout=30)
        self.assertEqual(len(self.posts_to(number)), 3)
        self.assertEqual(sent["attempts"], 3)
        # Each retry after a 5xx looked for the message at Twilio first (none there): no duplicate.
        lookups = [g for g in self.twilio.gets() if g["query"].get("To") == [number]]
        self.assertEqual(len(lookups), 2, lookups)
        self.assertEqual(sent["provider_id"], self.twilio.created[-1]["sid"])

        self.twilio.script[:] = ["400"]
        refused = self.reply(customer, "refused by Twilio", parent)
        failed = self.wait_status(refused["id"], "failed")
        self.assertIn("21211", failed["last_error"])
        self.assertIn("is not a valid phone number", failed["last_error"])
        time.sleep(3)
        self.assertEqual(len(self.posts_to(number)), 4)
        self.assertEqual(self.message(refused["id"])["status"], "failed")
        self.assertEqual(self.message(refused["id"])["attempts"], 1)
        status, ready = self.daemon.get_json("/readyz")
        sms = {c["name"]: c for c in ready["connectors"]}["sms"]
        self.assertEqual(sms["state"], "up")  # API trouble does not make the daemon unready
        self.assertIn("21211", sms["last_error"])
        self.assertNotIn(AUTH_TOKEN, json.dumps(ready))
        metrics = self.daemon.request("GET", "/metrics")[2].decode()
        self.assertRegex(metrics, r'omnitrail_twilio_sms_send_attempts_total\{connector="sms",outcome="retry"\} [2-9]')

    def test_an_unanswered_attempt_is_looked_up_not_resent(self):
        number = "+447911200003"
        customer, parent = self.texted_in(number)
        self.twilio.script[:] = ["slow:3.5"]  # longer than the connector's 2s timeout
        queued = self.reply(customer, "exactly once ✅", parent)
        sent = self.wait_status(queued["id"], "sent", timeout=30)
        self.assertEqual(len(self.posts_to(number)), 1)
        self.assertEqual(sent["provider_id"], [m for m in self.twilio.created if m["to"] == number][0]["sid"])
        self.assertGreaterEqual(sent["attempts"], 2)
        self.assertIn("was accepted by an earlier attempt; not sent again", self.daemon.log())

    def test_prepare_refusals_name_the_field(self):
        customer, parent = self.texted_in("+447911200004")
        out = self.reply(customer, "x", parent, expect=400, to="12345")
        self.assertIn("to:", out["error"]["message"])
        out = self.reply(customer, "y" * 1601, parent, expect=400)
        self.assertIn("text:", out["error"]["message"])
        out = self.reply(customer, "x", parent, expect=400, to="not a number")
        self.assertIn("to:", out["error"]["message"])


class CrashTest(OutboundBase):
    def test_sigkill_mid_attempt_never_sends_twice(self):
        number = "+447911200005"
        customer, parent = self.texted_in(number)
        self.twilio.script[:] = ["slow:1.5"]
        queued = self.reply(customer, "sent once, even across a crash", parent)
        wait_until(lambda: self.posts_to(number), 10, "the attempt to reach the stand-in")
        d = self.daemon
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        d.messages.clear()
        d.start()
        failed = self.wait_status(queued["id"], "failed")
        self.assertIn("interrupted", failed["last_error"])
        time.sleep(3)
        self.assertEqual(len(self.posts_to(number)), 1)

    def test_graceful_stop_lets_the_attempt_in_flight_finish(self):
        number = "+447911200006"
        customer, parent = self.texted_in(number)
        self.twilio.script[:] = ["slow:1.5"]
        queued = self.reply(customer, "answered while stopping", parent)
        wait_until(lambda: self.posts_to(number), 10, "the attempt to reach the stand-in")
        d = self.daemon
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(20), 0, d.log())
        d.messages.clear()
        d.start()
        sent = self.wait_status(queued["id"], "sent")
        self.assertEqual(sent["provider_id"], [m for m in self.twilio.created if m["to"] == number][0]["sid"])
        self.assertEqual(sent["attempts"], 1)  # the attempt in flight recorded its own outcome
        time.sleep(2)
        self.assertEqual(len(self.posts_to(number)), 1)


class ConfigTest(unittest.TestCase):
    def run_config(self, text):
        d = Daemon(text, files=files())
        try:
            d.start(wait_ready=False)
            code = d.wait_exit(20)
            return code, d.log()
        finally:
            d.__exit__(None, None, None)

    def test_config_errors_name_the_key_and_never_the_token(self):
        cases = [
            (config(1, public_url=None), r"connectors\[0\]\.public_url: the URL Twilio signs is unknown"),
            (config(1).replace("api_base_url: http://127.0.0.1:1", "api_base_url: http://api.twilio.com"),
             r"connectors\[0\]\.api_base_url: http:// would send the auth token in clear text"),
            (config(1).replace("account_sid: " + ACCOUNT, "account_sid: AC123"), r"connectors\[0\]\.account_sid: must be AC"),
            (config(1).replace('    from: "%s"\n' % OUR_NUMBER, ""), r"connectors\[0\]\.from: replies need a sender"),
            (config(1).replace('from: "%s"' % OUR_NUMBER, 'from: "01632 960000"'), r"connectors\[0\]\.from: must be our"),
            (config(1).replace("auth_token_file: secrets/twilio.token", "auth_token: %s" % AUTH_TOKEN),
             r"connectors\[0\]\.auth_token"),
            (config(1, extra="    timeout: 5x\n").replace("    timeout: 2s\n", ""), r"connectors\[0\]\.timeout"),
        ]
        for text, pattern in cases:
            with self.subTest(pattern):
                code, log = self.run_config(text)
                self.assertEqual(code, 78, log)
                self.assertRegex(log, r"omnitrail\.yaml:\d+:\d+: " + pattern)
                self.assertNotIn(AUTH_TOKEN, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
