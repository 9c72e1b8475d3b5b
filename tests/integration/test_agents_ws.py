"""Several agent WebSockets against the running binary: the right agents get the pop and others
do not; answered elsewhere; reconnect replays pops in progress; a slow consumer is dropped while
the others keep receiving; authentication and malformed frames; 1001 on shutdown."""
import os
import signal
import socket
import time
import unittest

from harness import ADMIN, Daemon, call, interaction, main
from wsclient import Closed, WebSocket

TOKENS = {a: "%s-token-for-ws-tests-0123456789" % a for a in ("alice", "bob", "carol", "dave")}
CONFIG = """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits: {read_timeout: 5s, idle_timeout: 5s, shutdown_timeout: 3s, max_body_bytes: 1MiB}
storage:
  sqlite_path: state/omnitrail.db
  max_text_bytes: 256KiB
identity:
  default_region: GB
screen_pop:
  recent_interactions: 50
agents:
  - {id: alice, name: Alice, extensions: ["6001"], queues: [support], token_file: secrets/alice.token}
  - {id: bob, name: Bob, extensions: ["6002"], queues: [support], token_file: secrets/bob.token}
  - {id: carol, name: Carol, extensions: ["6003"], queues: [sales], token_file: secrets/carol.token}
  - {id: dave, name: Dave, extensions: ["6004"], queues: [slow], token_file: secrets/dave.token}
"""
FILES = dict(("secrets/%s.token" % a, t + "\n") for a, t in TOKENS.items())
FILES["secrets/admin.token"] = "admin-token-for-tests-0123456789\n"

_n = [0]


def ring(d, conversation, metadata, phone="+44 20 7946 0123", kind="call.ringing", agent=None, text=None):
    _n[0] += 1
    fields = {"conversation_key": conversation, "metadata": metadata, "external_id": "%s-%s-%d" % (conversation, kind, _n[0])}
    if agent:
        fields["agent"] = agent
    if text:
        fields["text"] = text
    status, body = interaction(d, [("phone", phone, "claimed")], "phone", kind=kind, **fields)
    assert status in (200, 201), body
    return body


class AgentWebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(CONFIG, files=FILES).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def connect(self, agent, header=True, **kw):
        headers = {"Authorization": "Bearer " + TOKENS[agent]} if header else {}
        ws = WebSocket(self.d.host, self.d.port, "/api/v1/agents/ws", headers, **kw)
        self.assertEqual(ws.status, 101, ws.handshake)
        if not header:
            ws.send({"type": "auth", "token": TOKENS[agent]})
        hello = ws.recv()
        self.assertEqual(hello["type"], "hello")
        self.assertEqual(hello["protocol"], 1)
        self.assertEqual(hello["agent"]["id"], agent)
        self.addCleanup(ws.close)
        return ws, hello

    def test_extension_pop_goes_to_that_agent_only(self):
        alice, _ = self.connect("alice")
        bob, _ = self.connect("bob", header=False)
        carol, _ = self.connect("carol")
        body = ring(self.d, "ext-call-1", {"extension": "6001"}, "+44 20 7946 0123")
        pop = alice.recv()
        self.assertEqual(pop["type"], "pop.ringing")
        self.assertEqual(pop["pop"]["state"], "ringing")
        self.assertEqual(pop["pop"]["customer_view"]["customer"]["id"], body["customer_id"])
        self.assertEqual(pop["pop"]["trigger"]["kind"], "call.ringing")
        self.assertIsNone(bob.expect_silence(1.0))
        self.assertIsNone(carol.expect_silence(0.2))
        # The customer part equals GET /customers/{id}.
        status, view = call(self.d, "GET", "/api/v1/customers/" + body["customer_id"])
        self.assertEqual(status, 200)
        self.assertEqual(pop["pop"]["customer_view"]["customer"], view["customer"])
        self.assertEqual(pop["pop"]["customer_view"]["identities"], view["identities"])

    def test_queue_pop_then_answered_elsewhere_then_ended(self):
        alice, _ = self.connect("alice")
        bob, _ = self.connect("bob")
        carol, _ = self.connect("carol")
        ring(self.d, "queue-call-1", {"queue": "support"}, "+44 20 7946 0124")
        a = alice.recv()
        b = bob.recv()
        self.assertEqual(a["type"], "pop.ringing")
        self.assertEqual(b["type"], "pop.ringing")
        self.assertEqual(a["pop"]["id"], b["pop"]["id"])
        self.assertIsNone(carol.expect_silence(1.0))
        ring(self.d, "queue-call-1", {"queue": "support"}, "+44 20 7946 0124", kind="call.answered", agent="bob")
        b2 = bob.recv()
        self.assertEqual(b2["type"], "pop.updated")
        self.assertEqual(b2["pop"]["state"], "answered")
        self.assertEqual(b2["pop"]["answered_by"], "bob")
        self.assertEqual(b2["pop"]["id"], b["pop"]["id"])
        a2 = alice.recv()
        self.assertEqual(a2["type"], "pop.ended")
        self.assertEqual(a2["pop"]["end_reason"], "answered_elsewhere")
        ring(self.d, "queue-call-1", {"queue": "support"}, "+44 20 7946 0124", kind="call.ended", agent="bob")
        b3 = bob.recv()
        self.assertEqual(b3["type"], "pop.ended")
        self.assertEqual(b3["pop"]["end_reason"], "ended")
        self.assertIsNone(alice.expect_silence(0.5))

    def test_second_ringing_updates_in_place(self):
        alice, _ = self.connect("alice")
        ring(self.d, "dup-call", {"extension": "6001"}, "+44 20 7946 0125")
        first = alice.recv()
        ring(self.d, "dup-call", {"extension": "6001"}, "+44 20 7946 0125")
        second = alice.recv()
        self.assertEqual(second["type"], "pop.updated")
        self.assertEqual(second["pop"]["id"], first["pop"]["id"])

    def test_reconnect_replays_pops_in_progress(self):
        alice, _ = self.connect("alice")
        ring(self.d, "replay-call", {"extension": "6001"}, "+44 20 7946 0126")
        pop = alice.recv()
        alice.close()
        again, hello = self.connect("alice")
        self.assertIn(pop["pop"]["id"], [p["id"] for p in hello["pops"]])
        ring(self.d, "replay-call", {"extension": "6001"}, "+44 20 7946 0126", kind="call.ended")
        self.assertEqual(again.recv()["type"], "pop.ended")
        again.close()
        _, hello = self.connect("alice")
        self.assertNotIn(pop["pop"]["id"], [p["id"] for p in hello["pops"]])

    def test_presence_and_messages(self):
        carol, _ = self.connect("carol")
        carol.send({"type": "presence", "status": "away", "id": 7})
        msgs = [carol.recv(), carol.recv()]
        self.assertIn({"type": "presence", "presence": "away"}, msgs)
        self.assertIn({"type": "ack", "ref": 7}, msgs)
        # Away: queue calls skip her.
        ring(self.d, "sales-call", {"queue": "sales"}, "+44 20 7946 0127")
        self.assertIsNone(carol.expect_silence(1.0))
        carol.send("not json")
        self.assertEqual(carol.recv()["code"], "invalid_message")
        carol.send({"type": "frobnicate", "id": "x"})
        err = carol.recv()
        self.assertEqual((err["type"], err["code"], err["ref"]), ("error", "invalid_message", "x"))
        carol.send({"type": "ping"})
        self.assertEqual(carol.recv(), {"type": "pong"})
        carol.send_frame(0x2, b"\x00\x01")  # binary
        with self.assertRaises(Closed) as closed:
            carol.recv()
        self.assertEqual(closed.exception.code, 1003)

    def test_bad_tokens(self):
        ws = WebSocket(self.d.host, self.d.port, "/api/v1/agents/ws")
        self.assertEqual(ws.status, 101)
        ws.send({"type": "auth", "token": "wrong"})
        with self.assertRaises(Closed) as closed:
            ws.recv()
        self.assertEqual(closed.exception.code, 4001)
        ws = WebSocket(self.d.host, self.d.port, "/api/v1/agents/ws", {"Authorization": "Bearer wrong"})
        self.assertEqual(ws.status, 403)
        ws = WebSocket(self.d.host, self.d.port, "/api/v1/agents/ws", ADMIN)
        self.assertEqual(ws.status, 101)
        with self.assertRaises(Closed) as closed:
            ws.recv()
        self.assertEqual(closed.exception.code, 4003)

    def test_slow_consumer_is_dropped_others_keep_receiving(self):
        dave, _ = self.connect("dave", rcvbuf=4096)
        alice, _ = self.connect("alice")
        big = "x" * 200000  # views carry recent interactions: each pop is several MB
        for i in range(4):
            ring(self.d, "fat-%d" % i, {"queue": "slow"}, "+44 20 7946 0190", kind="note.filler", text=big)
        dropped = False
        for i in range(60):
            ring(self.d, "slow-%d" % i, {"queue": "slow"}, "+44 20 7946 0190")
            if i % 5 == 0:
                ring(self.d, "alice-%d" % i, {"extension": "6001"}, "+44 20 7946 0191")
                msg = alice.recv(10)
                self.assertIn(msg["type"], ("pop.ringing", "pop.updated"))
            status, _, text = self.d.request("GET", "/metrics")
            if 'omnitrail_agent_send_queue_drops_total 1' in text.decode():
                dropped = True
                break
        self.assertTrue(dropped, "the slow consumer was never dropped")
        # Dave's socket ends with 4008 once he reads again (or was reset).
        try:
            dave.sock.settimeout(10)
            while True:
                dave.recv(10)
        except Closed as closed:
            self.assertIn(closed.code, (4008, 1006))
        except socket.timeout:
            self.fail("dave's connection was not closed")
        ring(self.d, "alice-after", {"extension": "6001"}, "+44 20 7946 0192")
        self.assertEqual(alice.recv()["type"], "pop.ringing")


class ShutdownTest(unittest.TestCase):
    def test_rotated_token_closes_the_agents_connections(self):
        with Daemon(CONFIG, files=FILES) as d:
            ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS["alice"]})
            self.assertEqual(ws.recv()["type"], "hello")
            bob = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS["bob"]})
            self.assertEqual(bob.recv()["type"], "hello")
            with open(os.path.join(d.path, "secrets", "alice.token"), "w") as f:
                f.write("alice-new-token-after-a-leak-0123456789\n")
            mark = len(d.messages)
            d.signal(signal.SIGHUP)
            d.wait_for("READY=1", start=mark + 1)
            with self.assertRaises(Closed) as closed:
                ws.recv(10)
            self.assertEqual(closed.exception.code, 4001)
            self.assertIsNone(bob.expect_silence(0.5))  # bob's token did not change
            old = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS["alice"]})
            self.assertEqual(old.status, 403)


    def test_sigterm_closes_websockets_with_1001(self):
        with Daemon(CONFIG, files=FILES) as d:
            ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS["alice"]})
            self.assertEqual(ws.recv()["type"], "hello")
            # Two frames queued back to back (presence + ack) once made two writers race and
            # the process never exited after SIGTERM.
            ws.send({"type": "presence", "status": "away", "id": "c1"})
            self.assertEqual({ws.recv()["type"], ws.recv()["type"]}, {"presence", "ack"})
            d.signal(signal.SIGTERM)
            with self.assertRaises(Closed) as closed:
                ws.recv(10)
            self.assertEqual(closed.exception.code, 1001)
            self.assertEqual(d.wait_exit(10), 0)


if __name__ == "__main__":
    main()
