"""Web chat connector (issue #8) against the real binary: visitors over the visitor WebSocket, agents
over the agent WebSocket, replies through POST /api/v1/messages. Covers the path visitor -> pop
(one least-busy agent) -> agent reply -> visitor; acknowledgements only after commit; resume with
every message once (also after a daemon restart); typing, delivery receipts, transfer, the three
ways a chat ends; no agent available; the refusals (origin, rate limits, oversized and malformed
frames, forged identity HMAC) each closing only the offending connection."""
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, call, wait_until  # noqa: E402
from wsclient import Closed, WebSocket  # noqa: E402

ORIGIN = "http://shop.test:8000"
IDENTITY_SECRET = "identity-secret-for-tests-0123456789"

FILES = {
    "secrets/admin.token": "admin-token-for-tests-0123456789\n",
    "secrets/alice.token": "alice-token-for-tests-0123456789\n",
    "secrets/bob.token": "bob-token-for-tests-0123456789\n",
    "secrets/webchat-token.key": "webchat-token-secret-0123456789abcdef\n",
    "secrets/webchat-identity.key": IDENTITY_SECRET + "\n",
}
ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
ALICE = {"Authorization": "Bearer alice-token-for-tests-0123456789"}
BOB = {"Authorization": "Bearer bob-token-for-tests-0123456789"}


def config(connector_extra="", idle="10m"):
    return """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits:
    read_timeout: 5s
    idle_timeout: 5s
    shutdown_timeout: 3s
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - {id: alice, name: Alice Agent, queues: [support], token_file: secrets/alice.token}
  - {id: bob, name: Bob Agent, queues: [support], token_file: secrets/bob.token}
connectors:
  - name: site
    type: webchat
    queue: support
    allowed_origins: ["%s", "https://*.example.org"]
    token_secret_file: secrets/webchat-token.key
    identity_secret_file: secrets/webchat-identity.key
    idle_timeout: %s
    max_frame_bytes: 4KiB
    max_text_bytes: 2000
    pre_chat_form: {fields: [name, email, phone], required: [name]}
%s
logging:
  level: info
""" % (ORIGIN, idle, connector_extra)


GENEROUS = """    rate_limits: {max_connections_per_address: 200, connections_per_minute: 6000, connection_burst: 500,
                  messages_per_minute: 6000, message_burst: 500}"""

_ids = [0]


def msg_id():
    _ids[0] += 1
    return "t%d-%s" % (_ids[0], os.urandom(6).hex())


class Visitor:
    """One visitor browser tab: a WebSocket on /webchat/site/ws with an Origin."""

    def __init__(self, d, token=None, identity=None, origin=ORIGIN, form=None):
        self.ws = WebSocket(d.host, d.port, "/webchat/site/ws", {"Origin": origin})
        assert self.ws.status == 101, self.ws.handshake
        hello = {"type": "hello", "page": "https://shop.test/cart"}
        if token:
            hello["token"] = token
        if identity:
            hello["identity"] = identity
        self.ws.send(hello)
        self.welcome = self.ws.recv_until(lambda m: m["type"] == "welcome")
        self.token = self.welcome["token"]
        if form:
            self.ws.send(dict({"type": "form"}, **form))
            self.ws.recv_until(lambda m: m["type"] == "ack" and m["id"] == "form")

    def say(self, text, mid=None):
        mid = mid or msg_id()
        self.ws.send({"type": "message", "id": mid, "text": text})
        return mid

    def expect(self, predicate, timeout=10):
        msg = self.ws.recv_until(predicate, timeout)
        if msg.get("type") == "token":
            self.token = msg["token"]
        return msg

    def expect_ack(self, mid, timeout=10):
        seen = []

        def pred(m):
            seen.append(m)
            if m["type"] == "token":
                self.token = m["token"]
            return m["type"] == "ack" and m["id"] == mid

        msg = self.ws.recv_until(pred, timeout)
        return msg, seen

    def close(self):
        self.ws.close()


class Agent:
    def __init__(self, d, headers):
        self.ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", headers)
        assert self.ws.status == 101
        self.hello = self.ws.recv_until(lambda m: m["type"] == "hello")
        self.history = {}
        self.seen = []

    def expect(self, predicate, timeout=10):
        def pred(m):
            self.seen.append(m)
            if m["type"] == "chat.history":
                self.history[m["chat_id"]] = m
            return predicate(m)
        return self.ws.recv_until(pred, timeout)

    def expect_all(self, predicates, timeout=10):
        """Waits until each predicate matched one message, in any order; returns them in order."""
        found = [None] * len(predicates)

        def pred(m):
            for i, p in enumerate(predicates):
                if found[i] is None and p(m):
                    found[i] = m
                    break
            return all(f is not None for f in found)
        self.expect(pred, timeout)
        return found

    def send(self, msg):
        self.ws.send(msg)

    def close(self):
        self.ws.close()


def is_pop(kind, chat_id=None):
    def pred(m):
        return (m["type"] == kind and (chat_id is None or m["pop"]["conversation_id"] == chat_id))
    return pred


def reply(d, headers, customer_id, chat_id, text, key=None):
    hdrs = dict(headers)
    if key:
        hdrs["Idempotency-Key"] = key
    return call(d, "POST", "/api/v1/messages", {"customer_id": customer_id, "channel": "chat", "to": chat_id, "text": text},
                token=hdrs)


def chat_interactions(d, customer_id):
    status, body = call(d, "GET", "/api/v1/customers/%s/timeline?channel=chat&limit=200" % customer_id)
    assert status == 200, body
    return list(reversed(body["items"]))


def start_chat(d, agent, text="Hello, I need help", **visitor_args):
    """A visitor starts a chat; returns (visitor, pop, chat_id, customer_id, message id)."""
    visitor = Visitor(d, **visitor_args)
    if visitor.welcome.get("form") and "form" not in visitor_args:
        visitor.ws.send({"type": "form", "name": "Ada Visitor"})
        visitor.expect(lambda m: m["type"] == "ack" and m["id"] == "form")
    mid = visitor.say(text)
    visitor.expect_ack(mid)
    pop = agent.expect(is_pop("pop.ringing"))["pop"] if agent else None
    chat_id = pop["conversation_id"] if pop else None
    customer_id = pop["customer_view"]["customer"]["id"] if pop else None
    return visitor, pop, chat_id, customer_id, mid


class WebchatFlowTest(unittest.TestCase):
    """One daemon with generous limits for the chat flows."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(config(GENEROUS), files=FILES).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def setUp(self):
        # Every agent available with no chats left over from another test.
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            a.close()

    def agent(self, headers):
        a = Agent(self.d, headers)
        self.agents.append(a)
        return a

    def test_widget_is_served(self):
        status, headers, body = self.d.request("GET", "/webchat/site/widget.js")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/javascript"))
        self.assertIn(b"OmnitrailChat", body)
        self.assertEqual(self.d.request("GET", "/webchat/nope/widget.js")[0], 404)

    def test_visitor_to_agent_and_back(self):
        alice = self.agent(ALICE)
        visitor = Visitor(self.d)
        self.assertIsNone(visitor.welcome["chat"])
        self.assertEqual(visitor.welcome["messages"], [])
        self.assertTrue(visitor.welcome["agents_available"])
        self.assertEqual(visitor.welcome["form"], {"fields": ["name", "email", "phone"], "required": ["name"]})
        # The required form field is enforced by the server too.
        early = visitor.say("no form yet")
        err = visitor.expect(lambda m: m["type"] == "error")
        self.assertEqual((err["code"], err["id"]), ("form_required", early))
        visitor.ws.send({"type": "form", "name": "Grace Hopper", "email": "Grace@Example.COM"})
        visitor.expect(lambda m: m["type"] == "ack" and m["id"] == "form")

        mid = visitor.say("Hello, my order is late")
        ack, before = visitor.expect_ack(mid)
        self.assertFalse(ack["duplicate"])
        status = [m for m in before if m["type"] == "status"]
        self.assertEqual(status[-1]["chat"]["state"], "assigned")
        self.assertEqual(status[-1]["chat"]["agent"], {"name": "Alice Agent"})
        self.assertTrue(any(m["type"] == "token" for m in before))

        pop = alice.expect(is_pop("pop.ringing"))["pop"]
        self.assertEqual(pop["trigger"]["channel"], "chat")
        self.assertEqual(pop["trigger"]["kind"], "chat.started")
        chat_id = pop["conversation_id"]
        customer = pop["customer_view"]["customer"]
        self.assertEqual(customer["display_name"], "Grace Hopper")
        kinds = {(i["kind"], i["value"], i["trust"]) for i in pop["customer_view"]["identities"]}
        self.assertIn(("email", "Grace@Example.COM", "claimed"), kinds)
        message = alice.expect(lambda m: m["type"] == "chat.message")
        self.assertEqual(message["chat_id"], chat_id)
        self.assertEqual(message["message"]["from"], "visitor")
        self.assertEqual(message["message"]["text"], "Hello, my order is late")
        self.assertEqual(message["message"]["id"], mid)

        # Typing both ways.
        visitor.ws.send({"type": "typing"})
        typing = alice.expect(lambda m: m["type"] == "chat.typing")
        self.assertEqual((typing["chat_id"], typing["from"]), (chat_id, "visitor"))
        alice.send({"type": "chat.typing", "chat_id": chat_id, "id": "t1"})
        alice.expect(lambda m: m["type"] == "ack" and m["ref"] == "t1")
        self.assertEqual(visitor.expect(lambda m: m["type"] == "typing")["name"], "Alice Agent")

        # The agent replies through the messages API; the visitor sees it, then confirms it.
        status, body = reply(self.d, ALICE, customer["id"], chat_id, "Sorry! It ships today.", key="r-1")
        self.assertEqual(status, 202, body)
        agent_line = visitor.expect(lambda m: m["type"] == "message" and m["message"]["from"] == "agent")["message"]
        self.assertEqual(agent_line["text"], "Sorry! It ships today.")
        self.assertEqual(agent_line["agent"], "Alice Agent")
        self.assertNotIn("alice", json.dumps(agent_line))  # the visitor sees a name, not an agent id
        echo, answered = alice.expect_all([
            lambda m: m["type"] == "chat.message" and m["message"]["from"] == "alice",
            lambda m: m["type"] == "pop.updated" and m["pop"]["state"] == "answered"])
        self.assertEqual(echo["message"]["id"], body["id"])
        self.assertEqual(answered["pop"]["answered_by"], "alice")  # writing in the chat takes it
        visitor.ws.send({"type": "received", "ids": [agent_line["id"]]})
        delivered = alice.expect(lambda m: m["type"] == "chat.delivered")
        self.assertEqual(delivered["message_ids"], [agent_line["id"]])
        wait_until(lambda: call(self.d, "GET", "/api/v1/messages/" + body["id"])[1].get("status") == "delivered",
                   what="message marked delivered")

        # A second tab of the same visitor resumes: every message once, in order.
        tab = Visitor(self.d, token=visitor.token)
        self.assertEqual(tab.welcome["chat"]["state"], "assigned")
        self.assertEqual(tab.welcome["visitor_id"], visitor.welcome["visitor_id"])
        self.assertEqual([(m["from"], m["text"]) for m in tab.welcome["messages"]],
                         [("visitor", "Hello, my order is late"), ("agent", "Sorry! It ships today.")])
        # A resend of an acknowledged message (lost ack) is acknowledged as a duplicate; nothing new.
        tab.say("Hello, my order is late", mid)
        dup, _ = tab.expect_ack(mid)
        self.assertTrue(dup["duplicate"])
        again = visitor.say("Thanks!")
        visitor.expect_ack(again)
        self.assertEqual(tab.expect(lambda m: m["type"] == "message")["message"]["id"], again)
        got = alice.expect(lambda m: m["type"] == "chat.message" and m["message"]["from"] == "visitor")
        self.assertEqual(got["message"]["id"], again)  # the duplicate never reached the agent

        items = chat_interactions(self.d, customer["id"])
        messages = [i for i in items if i["kind"] == "chat.message"]
        self.assertEqual([(i["direction"], i["text"]) for i in messages],
                         [("inbound", "Hello, my order is late"), ("outbound", "Sorry! It ships today."),
                          ("inbound", "Thanks!")])
        self.assertEqual(items[0]["kind"], "chat.started")
        self.assertTrue(all(i["conversation_id"] == chat_id for i in items))

        # The agent ends it: the visitor is told, the pop ends, chat.ended is on the timeline.
        alice.send({"type": "chat.end", "chat_id": chat_id, "id": "e1"})
        alice.expect(lambda m: m["type"] == "ack" and m["ref"] == "e1")
        self.assertEqual(visitor.expect(lambda m: m["type"] == "ended")["reason"], "agent")
        self.assertEqual(tab.expect(lambda m: m["type"] == "ended")["reason"], "agent")
        ended, _ = alice.expect_all([lambda m: m["type"] == "chat.ended", is_pop("pop.ended", chat_id)])
        self.assertEqual(ended["reason"], "agent")
        wait_until(lambda: chat_interactions(self.d, customer["id"])[-1]["kind"] == "chat.ended", what="chat.ended")
        # A reply to an ended chat is refused; the next visitor message starts a new chat.
        status, body = reply(self.d, ALICE, customer["id"], chat_id, "too late")
        self.assertEqual(status, 400, body)
        visitor.close()
        tab.close()

    def test_least_busy_agent_gets_the_chat_and_transfer(self):
        alice = self.agent(ALICE)
        bob = self.agent(BOB)
        v1, pop1, chat1, _, _ = start_chat(self.d, None)
        first = wait_until(lambda: [a for a in (alice, bob) if self._pops(a)], what="first pop")[0]
        second_agent = bob if first is alice else alice
        first_pop = self._pops(first)[0]
        v2, _, _, _, _ = start_chat(self.d, None, text="second chat")
        second_pop = wait_until(lambda: self._pops(second_agent), what="second agent's pop")[0]
        self.assertEqual(len(self._pops(first)), 1, "the busier agent got no second chat")
        # Transfer the first chat to the other agent.
        chat_id = first_pop["conversation_id"]
        first.send({"type": "chat.transfer", "chat_id": chat_id, "to_agent": self._id(second_agent), "id": "x1"})
        first.expect(lambda m: m["type"] == "ack" and m["ref"] == "x1")
        ended = first.expect(is_pop("pop.ended", chat_id))["pop"]
        self.assertEqual(ended["end_reason"], "transferred")
        moved = second_agent.expect(lambda m: m["type"] == "pop.ringing" and m["pop"]["conversation_id"] == chat_id)
        self.assertEqual(moved["pop"]["trigger"]["kind"], "chat.transferred")
        history = wait_until(lambda: second_agent.history.get(chat_id), what="chat.history for the new agent")
        self.assertEqual([m["text"] for m in history["messages"]], ["Hello, I need help"])
        status = v1.expect(lambda m: m["type"] == "status" and m["chat"]["state"] == "assigned")
        self.assertEqual(status["chat"]["agent"]["name"], "Bob Agent" if second_agent is bob else "Alice Agent")
        # The previous agent may no longer act on it; the new one may.
        first.send({"type": "chat.typing", "chat_id": chat_id, "id": "x2"})
        self.assertEqual(first.expect(lambda m: m["type"] == "error" and m.get("ref") == "x2")["code"], "not_assigned")
        # An agent's reconnect replays the history of its chats.
        fresh = self.agent(BOB if second_agent is bob else ALICE)
        wait_until(lambda: fresh.expect(lambda m: m["type"] == "chat.history" and m["chat_id"] == chat_id, 5),
                   what="history on reconnect")
        for v in (v1, v2):
            v.ws.send({"type": "end"})
            self.assertEqual(v.expect(lambda m: m["type"] == "ended")["reason"], "visitor")
            v.close()

    def test_chat_commands_refused_sensibly(self):
        alice = self.agent(ALICE)
        alice.send({"type": "chat.typing", "chat_id": "v_0000000000000000", "id": "n1"})
        self.assertEqual(alice.expect(lambda m: m["type"] == "error")["code"], "not_found")
        visitor, pop, chat_id, _, _ = start_chat(self.d, alice)
        alice.send({"type": "chat.send", "chat_id": chat_id, "text": "hi", "id": "s1"})
        err = alice.expect(lambda m: m["type"] == "error" and m.get("ref") == "s1")
        self.assertEqual(err["code"], "use_messages_api")
        alice.send({"type": "chat.transfer", "chat_id": chat_id, "to_agent": "nobody", "id": "s2"})
        self.assertEqual(alice.expect(lambda m: m["type"] == "error" and m.get("ref") == "s2")["code"], "agent_unavailable")
        visitor.ws.send({"type": "end"})
        visitor.expect(lambda m: m["type"] == "ended")
        visitor.close()

    def test_no_agent_available_leaves_a_message_then_an_agent_picks_it_up(self):
        alice = self.agent(ALICE)
        bob = self.agent(BOB)
        for a in (alice, bob):
            a.send({"type": "presence", "status": "away", "id": "p"})
            a.expect(lambda m: m["type"] == "ack")
        visitor = Visitor(self.d)
        self.assertFalse(visitor.welcome["agents_available"])
        visitor.ws.send({"type": "form", "name": "Offline Olga"})
        visitor.expect(lambda m: m["type"] == "ack" and m["id"] == "form")
        mid = visitor.say("Please call me back tomorrow")
        _, before = visitor.expect_ack(mid)
        status = [m for m in before if m["type"] == "status"][-1]["chat"]
        self.assertEqual(status["state"], "waiting")
        self.assertFalse(status["agents_available"])
        # The message is on the timeline.
        status_code, found = call(self.d, "GET", "/api/v1/customers?q=Offline%20Olga")
        self.assertEqual(status_code, 200)
        customer_id = found["items"][0]["id"]
        texts = [i["text"] for i in chat_interactions(self.d, customer_id) if i["kind"] == "chat.message"]
        self.assertEqual(texts, ["Please call me back tomorrow"])
        # Bob comes back: the waiting chat is assigned to him (a pop), the visitor is told.
        bob.send({"type": "presence", "status": "available", "id": "p2"})
        pop = bob.expect(lambda m: m["type"] == "pop.ringing", timeout=10)["pop"]
        self.assertEqual(pop["trigger"]["kind"], "chat.assigned")
        self.assertEqual(visitor.expect(lambda m: m["type"] == "status" and m["chat"]["state"] == "assigned")["chat"]["agent"]["name"],
                         "Bob Agent")
        alice.send({"type": "presence", "status": "available", "id": "p3"})
        visitor.ws.send({"type": "end"})
        visitor.expect(lambda m: m["type"] == "ended")
        visitor.close()

    def test_verified_identity_and_forged_hmac(self):
        alice = self.agent(ALICE)
        identity = {"user_id": "crm-77", "email": "linus@example.com", "name": "Linus"}
        payload = "%s\n%s\n%s" % (identity["user_id"], identity["email"], "")
        good = dict(identity, user_hash=hmac.new(IDENTITY_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest())
        visitor = Visitor(self.d, identity=good)
        self.assertEqual(visitor.welcome["identity"], "verified")
        self.assertIsNone(visitor.welcome["form"])  # verified visitors skip the form
        mid = visitor.say("I am signed in")
        visitor.expect_ack(mid)
        pop = alice.expect(is_pop("pop.ringing"))["pop"]
        idents = {(i["kind"], i["value"], i["trust"]) for i in pop["customer_view"]["identities"]}
        self.assertIn(("chat_user", "crm-77", "verified"), idents)
        self.assertIn(("email", "linus@example.com", "verified"), idents)
        verified_customer = pop["customer_view"]["customer"]["id"]

        # Forged: another email under the same hash, a flipped digit, values with no hash. Each is
        # refused with an error and 4003, and nothing reaches the timeline.
        forged_cases = [dict(good, email="victim@example.com"),
                        dict(good, user_hash=("0" if good["user_hash"][0] != "0" else "1") + good["user_hash"][1:]),
                        {"user_id": "crm-77", "email": "linus@example.com"}]
        for forged in forged_cases:
            ws = WebSocket(self.d.host, self.d.port, "/webchat/site/ws", {"Origin": ORIGIN})
            ws.send({"type": "hello", "identity": forged})
            err = ws.recv_until(lambda m: m["type"] == "error")
            self.assertEqual(err["code"], "identity_refused")
            with self.assertRaises(Closed) as closed:
                ws.recv(5)
            self.assertEqual(closed.exception.code, 4003)
            ws.sock.close()
        status, body = call(self.d, "GET", "/api/v1/customers/lookup?value=victim@example.com")
        self.assertEqual(status, 404, body)
        # The verified visitor's connection was not affected.
        mid = visitor.say("still here")
        visitor.expect_ack(mid)
        self.assertEqual(call(self.d, "GET", "/api/v1/customers/lookup?value=linus@example.com")[1]["customer"]["id"],
                         verified_customer)
        # A different signed-in user on the same browser does not get Linus's chat.
        other = {"user_id": "crm-78", "email": "", "phone": ""}
        other_hash = hmac.new(IDENTITY_SECRET.encode(), b"crm-78\n\n", hashlib.sha256).hexdigest()
        switched = Visitor(self.d, token=visitor.token, identity={"user_id": "crm-78", "user_hash": other_hash})
        self.assertIsNone(switched.welcome["chat"])
        self.assertEqual(switched.welcome["messages"], [])
        self.assertNotEqual(switched.welcome["visitor_id"], visitor.welcome["visitor_id"])
        del other
        switched.close()
        visitor.ws.send({"type": "end"})
        visitor.expect(lambda m: m["type"] == "ended")
        visitor.close()

    def test_refusals_close_only_the_offending_connection(self):
        alice = self.agent(ALICE)
        bystander = Visitor(self.d)
        # Forbidden, missing and "null" origins: 403 before the upgrade.
        for headers in ({"Origin": "https://evil.example.com"}, {}, {"Origin": "null"},
                        {"Origin": "https://example.org"}, {"Origin": "http://shop.test:8001"}):
            ws = WebSocket(self.d.host, self.d.port, "/webchat/site/ws", headers)
            self.assertEqual(ws.status, 403, headers)
            ws.sock.close()
        sub = WebSocket(self.d.host, self.d.port, "/webchat/site/ws", {"Origin": "https://help.example.org"})
        self.assertEqual(sub.status, 101)
        sub.close()
        # Oversized frame: 1009. Malformed JSON: 1007. Binary: 1003. A frame before hello: 1008.
        cases = [(lambda ws: ws.send({"type": "message", "id": "abcdefgh", "text": "x" * 5000}), 1009),
                 (lambda ws: ws.send_frame(0x1, b"{not json"), 1007),
                 (lambda ws: ws.send({"type": "message", "id": "bad id!", "text": "x"}), 1007),
                 (lambda ws: ws.send_frame(0x2, b"\x00\x01"), 1003)]
        for act, code in cases:
            v = Visitor(self.d)
            act(v.ws)
            with self.assertRaises(Closed) as closed:
                v.ws.recv_until(lambda m: False, 5)
            self.assertEqual(closed.exception.code, code)
            v.ws.sock.close()
        raw = WebSocket(self.d.host, self.d.port, "/webchat/site/ws", {"Origin": ORIGIN})
        raw.send({"type": "message", "id": "abcdefgh", "text": "no hello"})
        with self.assertRaises(Closed) as closed:
            raw.recv(5)
        self.assertEqual(closed.exception.code, 1008)
        raw.sock.close()
        # The bystander and the agent are fine.
        bystander.ws.send({"type": "ping"})
        self.assertEqual(bystander.expect(lambda m: m["type"] == "pong")["type"], "pong")
        alice.send({"type": "ping"})
        alice.expect(lambda m: m["type"] == "pong")
        bystander.close()

    def _pops(self, agent):
        try:
            while True:
                agent.expect(lambda m: False, 0.05)
        except socket.timeout:
            pass
        return [m["pop"] for m in agent.seen if m["type"] == "pop.ringing"]

    @staticmethod
    def _id(agent):
        return agent.hello["agent"]["id"]


class WebchatLimitsTest(unittest.TestCase):
    """Tight limits in a daemon of their own (all test clients share 127.0.0.1)."""

    def test_flood_is_rate_limited_and_connections_capped(self):
        tight = """    rate_limits: {max_connections_per_address: 4, connections_per_minute: 600, connection_burst: 100,
                  messages_per_minute: 60, message_burst: 5}"""
        with Daemon(config(tight), files=FILES) as d:
            flooder = Visitor(d, form={"name": "Flood"})
            other = Visitor(d)
            ids = [flooder.say("flood %d" % i) for i in range(40)]
            acked, limited = set(), []
            code = None
            try:
                while True:
                    m = flooder.ws.recv(5)
                    if m["type"] == "ack":
                        acked.add(m["id"])
                    elif m["type"] == "error" and m["code"] == "rate_limited":
                        limited.append(m)
                        self.assertGreater(m["retry_after_ms"], 0)
            except Closed as e:
                code = e.code
            self.assertEqual(code, 4029, "the flooder is disconnected")
            self.assertTrue(acked <= set(ids))
            # Refusals are answered one by one (the last ones may be dropped with the close).
            self.assertGreaterEqual(len(limited), 5)
            # What got through the bucket (burst 5, the form took one) is stored; nothing else is.
            status, found = call(d, "GET", "/api/v1/customers?q=Flood")
            self.assertEqual(status, 200)
            customer_id = found["items"][0]["id"]
            stored = wait_until(lambda: [i for i in chat_interactions(d, customer_id) if i["kind"] == "chat.message"],
                                what="the flood's first messages")
            time.sleep(0.5)
            stored = [i["text"] for i in chat_interactions(d, customer_id) if i["kind"] == "chat.message"]
            self.assertGreaterEqual(len(stored), 4)
            self.assertLessEqual(len(stored), 6)
            self.assertEqual(stored, ["flood %d" % i for i in range(len(stored))])
            # The other connection (same address) lives; its frames wait for the bucket to refill.
            other.ws.send({"type": "ping"})
            other.expect(lambda m: m["type"] == "pong")
            # Connections per address: 4 open at most (the flooder's slot is free once it is gone).
            def visitors_open():
                for line in d.request("GET", "/metrics")[2].decode().splitlines():
                    if line.startswith("omnitrail_webchat_visitors{"):
                        return float(line.split()[-1])
                return -1
            wait_until(lambda: visitors_open() == 1, what="the flooder's connection released")
            extra = [Visitor(d) for _ in range(3)]
            refused = WebSocket(d.host, d.port, "/webchat/site/ws", {"Origin": ORIGIN})
            self.assertEqual(refused.status, 403)
            refused.sock.close()
            extra[0].close()
            wait_until(lambda: WebSocket(d.host, d.port, "/webchat/site/ws", {"Origin": ORIGIN}).status == 101,
                       what="a slot after a close")
            self.assertIn("omnitrail_webchat_refused_total", d.request("GET", "/metrics")[2].decode())


class WebchatResumeTest(unittest.TestCase):
    def test_resume_after_restart_and_idle_end(self):
        with Daemon(config(GENEROUS, idle="10s"), files=FILES) as d:
            alice = Agent(d, ALICE)
            visitor, pop, chat_id, customer_id, mid = start_chat(d, alice, text="before the restart")
            status, body = reply(d, ALICE, customer_id, chat_id, "we are on it")
            self.assertEqual(status, 202, body)
            visitor.expect(lambda m: m["type"] == "message" and m["message"]["from"] == "agent")
            token = visitor.token
            alice.close()
            visitor.close()
            d.kill()
            d.messages.clear()  # so that start() waits for the new READY=1 and port
            d.start()
            alice = Agent(d, ALICE)
            back = Visitor(d, token=token)
            self.assertIsNotNone(back.welcome["chat"], back.welcome)
            self.assertEqual([(m["from"], m["text"]) for m in back.welcome["messages"]],
                             [("visitor", "before the restart"), ("agent", "we are on it")])
            self.assertEqual(back.welcome["messages"][0]["id"], mid)
            # The agent gets the chat back (a pop), and the chat goes on in the same conversation.
            again = alice.expect(lambda m: m["type"] == "pop.ringing")["pop"]
            self.assertEqual(again["conversation_id"], chat_id)
            self.assertEqual(again["trigger"]["kind"], "chat.assigned")
            # A resend of a message stored before the restart is a duplicate.
            back.say("before the restart", mid)
            self.assertTrue(back.expect_ack(mid)[0]["duplicate"])
            later = back.say("after the restart")
            back.expect_ack(later)
            texts = [i["text"] for i in chat_interactions(d, customer_id) if i["kind"] == "chat.message"]
            self.assertEqual(texts, ["before the restart", "we are on it", "after the restart"])
            # Silence: the chat ends by itself.
            ended = back.expect(lambda m: m["type"] == "ended", timeout=25)
            self.assertEqual(ended["reason"], "idle")
            ended, pop_end = alice.expect_all([lambda m: m["type"] == "chat.ended", is_pop("pop.ended", chat_id)])
            self.assertEqual(ended["reason"], "idle")
            self.assertEqual(pop_end["pop"]["end_reason"], "ended")
            wait_until(lambda: chat_interactions(d, customer_id)[-1]["kind"] == "chat.ended", what="chat.ended stored")
            self.assertEqual(chat_interactions(d, customer_id)[-1]["metadata"]["reason"], "idle")


class WebchatReassignTest(unittest.TestCase):
    def test_a_chat_whose_agent_is_gone_moves_to_another(self):
        with Daemon(config(GENEROUS + "\n    reassign_after: 5s"), files=FILES) as d:
            alice = Agent(d, ALICE)
            visitor, pop, chat_id, customer_id, _ = start_chat(d, alice, text="anyone there?")
            self.assertEqual(pop["trigger"]["kind"], "chat.started")
            bob = Agent(d, BOB)
            alice.close()  # alice's console is gone; the visitor is still there
            moved = bob.expect(lambda m: m["type"] == "pop.ringing", timeout=15)["pop"]
            self.assertEqual((moved["conversation_id"], moved["trigger"]["kind"]), (chat_id, "chat.transferred"))
            self.assertEqual(visitor.expect(lambda m: m["type"] == "status")["chat"]["agent"]["name"], "Bob Agent")
            kinds = [i["kind"] for i in chat_interactions(d, customer_id)]
            self.assertEqual(kinds[-1], "chat.transferred")
            self.assertEqual(chat_interactions(d, customer_id)[-1]["metadata"]["from_agent"], "alice")


class NoWebchatTest(unittest.TestCase):
    def test_chat_frames_without_a_connector(self):
        cfg = config(GENEROUS)
        cfg = cfg[:cfg.index("connectors:")] + "logging:\n  level: info\n"
        with Daemon(cfg, files=FILES) as d:
            alice = Agent(d, ALICE)
            alice.send({"type": "chat.send", "chat_id": "v_1", "text": "hi", "id": 1})
            self.assertEqual(alice.expect(lambda m: m["type"] == "error")["code"], "no_chat")

    def test_config_errors_name_the_key(self):
        import subprocess
        from harness import OMNITRAILD
        bad = config(GENEROUS).replace('allowed_origins: ["%s", "https://*.example.org"]' % ORIGIN,
                                       'allowed_origins: ["https://shop.example.com/path"]')
        bad = bad.replace("max_text_bytes: 2000", "max_text_bytes: 4000")
        d = Daemon(bad, files=FILES)
        try:
            out = subprocess.run([OMNITRAILD, "--check-config", "--config", d.config_path], capture_output=True,
                                 text=True, timeout=30)
            self.assertEqual(out.returncode, 78, out.stderr)
            self.assertIn("connectors[0].allowed_origins[0]", out.stderr)
            self.assertIn("connectors[0].max_text_bytes", out.stderr)
            self.assertNotIn("webchat-token-secret", out.stderr)
            self.assertNotIn(IDENTITY_SECRET, out.stderr)
        finally:
            d.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
