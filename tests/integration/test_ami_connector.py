"""The asterisk_ami connector against a scripted AMI peer replaying real Asterisk captures
(shared/fixtures/ami/): the right agent gets the pop while the call rings, then answered and
ended; the timeline holds one call; a bad secret is reported without leaking it; a dropped link
is resynchronised without a stuck or duplicated pop."""
import json
import os
import socket
import time
import unittest

from amipeer import AmiPeer
from harness import ADMIN, Daemon, call, wait_until
from wsclient import WebSocket

TOKENS = {"alice": "alice-token-for-ami-tests-0123456789", "bob": "bob-token-for-ami-tests-0123456789",
          "carol": "carol-token-for-ami-tests-0123456789"}


def config(port, extra=""):
    return """
server:
  listen: ["127.0.0.1:0"]
  admin_token_files: [secrets/admin.token]
  limits: {shutdown_timeout: 3s}
storage:
  sqlite_path: state/omnitrail.db
identity:
  default_region: GB
agents:
  - {id: alice, name: Alice, extensions: ["6001"], queues: [support], token_file: secrets/alice.token}
  - {id: bob, name: Bob, extensions: ["6002"], queues: [support], token_file: secrets/bob.token}
  - {id: carol, name: Carol, extensions: ["6009"], queues: [sales], token_file: secrets/carol.token}
connectors:
  - name: pbx
    type: asterisk_ami
    host: 127.0.0.1
    port: %d
    username: omni
    secret_file: secrets/ami.secret
    region: GB
    internal_contexts: [agents]
    ping_interval: 1s
    action_timeout: 2s
    reconnect_min: 100ms
    reconnect_max: 500ms
%s""" % (port, extra)


def files(secret="s3cret-ami"):
    out = {"secrets/%s.token" % a: t + "\n" for a, t in TOKENS.items()}
    out["secrets/admin.token"] = "admin-token-for-tests-0123456789\n"
    out["secrets/ami.secret"] = secret + "\n"
    return out


class AmiTestCase(unittest.TestCase):
    """Helpers shared by the AMI tests: agent sockets, the connector's state, a fresh replay."""

    def agent(self, d, name):
        ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS[name]})
        self.assertEqual(ws.recv()["type"], "hello")
        self.addCleanup(ws.close)
        return ws

    def state(self, d):
        return d.get_json("/readyz")[1]["connectors"][0]

    def replay(self, peer):
        """Drops the current session: the connector reconnects and the peer replays its events
        after the new session's CoreShowChannels."""
        before = peer.connections
        peer.kick()
        wait_until(lambda: peer.connections > before, what="reconnect")


class AmiConnectorTest(AmiTestCase):
    def run_capture(self, capture, caller_key, ringing_agent, others, answered):
        peer = AmiPeer()
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up")
            sockets = {a: self.agent(d, a) for a in [ringing_agent] + others}
            from amipeer import capture_events
            peer.events = capture_events(capture)
            self.replay(peer)  # the peer replays the capture after the new session's CoreShowChannels
            ws = sockets[ringing_agent]
            ringing = ws.recv(10)
            self.assertEqual(ringing["type"], "pop.ringing", ringing)
            view = ringing["pop"]["customer_view"]
            self.assertIn(caller_key, [i["key"] for i in view["identities"]])
            self.assertEqual(ringing["pop"]["trigger"]["channel"], "phone")
            if answered:
                update = ws.recv_until(lambda m: m["type"] != "pop.updated" or m["pop"]["state"] == "answered", 10)
                self.assertEqual(update["pop"]["state"], "answered", update)
                self.assertEqual(update["pop"]["answered_by"], ringing_agent)
            ended = ws.recv_until(lambda m: m["type"] == "pop.ended", 10)
            self.assertEqual(ended["pop"]["id"], ringing["pop"]["id"])
            for other in others:
                msg = sockets[other].expect_silence(0.3)
                self.assertTrue(msg is None or msg["pop"]["id"] != ringing["pop"]["id"] or msg["type"] == "pop.ended", msg)
            customer = view["customer"]["id"]
            status, timeline = call(d, "GET", "/api/v1/customers/%s/timeline?channel=phone" % customer)
            self.assertEqual(status, 200)
            kinds = [i["kind"] for i in timeline["items"]]
            self.assertIn("call.ringing", kinds)
            self.assertIn("call.ended", kinds)
            self.assertEqual(len({i["conversation_id"] for i in timeline["items"]}), 1, timeline)
            ended_row = next(i for i in timeline["items"] if i["kind"] == "call.ended")
            metadata = ended_row["metadata"]
            self.assertEqual(metadata["disposition"], "answered" if answered else "missed")
            self.assertGreaterEqual(metadata["ring_time_ms"], 0)
            if answered:
                self.assertGreater(metadata["talk_time_ms"], 0, metadata)
            else:
                self.assertEqual(metadata.get("talk_time_ms", 0), 0, metadata)
            # Login used the MD5 challenge: the secret never crossed the wire.
            logins = [a for _, a in peer.actions if a.get("action", "").lower() == "login"]
            self.assertTrue(logins)
            self.assertNotIn("secret", logins[0])
            self.assertTrue(any(a.get("action", "").lower() == "filter" for _, a in peer.actions))
            return timeline

    def test_direct_call_pops_answers_and_ends(self):
        self.run_capture("direct_call.ami", "+14155550123", "alice", ["bob", "carol"], answered=True)

    def test_queue_call(self):
        self.run_capture("queue_call.ami", "+442079460123", "bob", ["carol"], answered=True)

    def test_unanswered_call_is_missed(self):
        self.run_capture("noanswer.ami", "+442079460999", "carol", ["alice"], answered=False)

    def test_wrong_secret_is_reported_without_leaking_it(self):
        peer = AmiPeer(secret="the-right-one")
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files(secret="wrong-secret-value")) as d:
            state = wait_until(lambda: (lambda s: s if s["state"] == "down" and s["last_error"] else None)(
                self.state(d)), what="connector down")
            self.assertIn("refused", state["last_error"])
            status, body = d.get_json("/readyz")
            self.assertEqual(status, 503)
            self.assertNotIn("wrong-secret-value", json.dumps(body))
            wait_until(lambda: peer.connections >= 3, what="retries with back-off")
            self.assertNotIn("wrong-secret-value", d.log())

    def test_dropped_link_resyncs_without_stuck_or_duplicate_pops(self):
        peer = AmiPeer()
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up")
            alice = self.agent(d, "alice")
            from amipeer import capture_events
            events = capture_events("direct_call.ami")
            ring_index = next(i for i, e in enumerate(events) if b"Event: DialBegin" in e and b"6001" in e)
            peer.events = events[:ring_index + 3]  # the call rings, then the link drops
            self.replay(peer)
            ringing = alice.recv(10)
            self.assertEqual(ringing["type"], "pop.ringing")
            peer.events = []
            self.replay(peer)  # reconnect: CoreShowChannels lists no channel -> the call is over
            ended = alice.recv(10)
            self.assertEqual(ended["type"], "pop.ended", ended)
            self.assertEqual(ended["pop"]["id"], ringing["pop"]["id"])
            # Replaying the same capture again stores nothing twice and pops nothing new.
            peer.events = events[:ring_index + 3]
            self.replay(peer)
            extra = alice.expect_silence(1.5)
            self.assertTrue(extra is None or extra["type"] != "pop.ringing" or extra["pop"]["id"] != ringing["pop"]["id"],
                            extra)


class AmiFaultTest(AmiTestCase):
    def test_link_drops_mid_call_and_comes_back_with_the_call_still_up(self):
        from amipeer import capture_events, core_channels_alive
        events = capture_events("direct_call.ami")
        peer = AmiPeer()
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up")
            alice = self.agent(d, "alice")
            ring_index = next(i for i, e in enumerate(events) if b"Event: DialBegin" in e and b"6001" in e)
            cut = ring_index + 3
            peer.events = events[:cut]
            self.replay(peer)
            ringing = alice.recv(10)
            self.assertEqual(ringing["type"], "pop.ringing")
            # The link drops; when it is back, CoreShowChannels still lists the call: no end.
            peer.core_channels = core_channels_alive(events[:cut])
            self.assertTrue(peer.core_channels)
            peer.events = events[cut:]
            self.replay(peer)
            update = alice.recv(10)
            self.assertEqual(update["type"], "pop.updated", update)  # answered, not ended by the resync
            self.assertEqual(update["pop"]["id"], ringing["pop"]["id"])
            ended = alice.recv_until(lambda m: m["type"] == "pop.ended", 10)
            self.assertEqual(ended["pop"]["end_reason"], "ended")

    def test_garbage_and_a_one_mib_line_reconnect_without_crashing(self):
        garbage = b"this is not AMI\r\n\x00\xff\xfe\r\nNoColonHere\r\n\r\n"
        huge = b"Event: Newchannel\r\nChannel: " + b"x" * (1024 * 1024) + b"\r\n\r\n"
        peer = AmiPeer(after_login={1: garbage + huge})
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: peer.logins_ok >= 2, what="a new session after the bad stream")
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up again")
            self.assertIn("malformed AMI stream", d.log())
            self.assertEqual(d.get_json("/healthz")[0], 200)

    def test_missing_banner_and_slow_peer_time_out_and_retry(self):
        for peer in (AmiPeer(banner=b""), AmiPeer(banner=b"HTTP/1.1 200 OK\r\n"), AmiPeer(answer_login=False)):
            self.addCleanup(peer.close)
            with Daemon(config(peer.port), files=files()) as d:
                state = wait_until(lambda: (lambda s: s if s["state"] == "down" and s["last_error"] else None)(
                    self.state(d)), timeout=15, what="connector down")
                wait_until(lambda: peer.connections >= 2, timeout=15, what="a retry")
                self.assertEqual(d.get_json("/healthz")[0], 200)
                self.assertNotIn("s3cret-ami", d.log())
                self.assertTrue(state["last_error"])


class ClickToCallTest(AmiTestCase):
    def test_click_to_call_rings_the_agent_then_reports_progress(self):
        peer = AmiPeer()
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up")
            alice = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + TOKENS["alice"]})
            self.addCleanup(alice.close)
            self.assertEqual(alice.recv()["type"], "hello")
            token = {"Authorization": "Bearer " + TOKENS["alice"]}
            status, body = call(d, "POST", "/api/v1/calls", {"number": "020 7946 0123"}, token=token)
            self.assertEqual(status, 202, body)
            self.assertEqual(body["number"], "+442079460123")
            originate = wait_until(lambda: next((a for _, a in peer.actions if a.get("action", "").lower() == "originate"),
                                                None), what="Originate")
            self.assertEqual(originate["channel"], "PJSIP/6001")
            self.assertEqual(originate["exten"], "+442079460123")
            self.assertEqual(originate["context"], "from-internal")
            self.assertEqual(originate["async"].lower(), "true")
            queued = alice.recv(5)
            self.assertEqual((queued["type"], queued["state"], queued["request_id"]),
                             ("call.progress", "queued", body["request_id"]))
            answered = alice.recv(5)
            self.assertEqual(answered["state"], "answered")
            # A failure is reported with a reason.
            peer.originate_result = "Failure"
            status, body = call(d, "POST", "/api/v1/calls", {"number": "+44 20 7946 0124"}, token=token)
            self.assertEqual(status, 202)
            self.assertEqual(alice.recv(5)["state"], "queued")
            failed = alice.recv(5)
            self.assertEqual(failed["state"], "failed")
            self.assertIn("could not be placed", failed["reason"])
            # Bad input and tokens without an extension.
            status, body = call(d, "POST", "/api/v1/calls", {"number": "BANK"}, token=token)
            self.assertEqual(status, 400, body)
            status, body = call(d, "POST", "/api/v1/calls", {"number": "+442079460123"}, token=ADMIN)
            self.assertEqual(status, 403, body)

    def test_no_phone_link_means_503(self):
        peer = AmiPeer(secret="not-the-configured-one")
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            token = {"Authorization": "Bearer " + TOKENS["alice"]}
            status, body = call(d, "POST", "/api/v1/calls", {"number": "+442079460123"}, token=token)
            self.assertEqual(status, 503, body)


class AmiTlsTest(AmiTestCase):
    def make_cert(self, tmp, name):
        import subprocess
        cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        return cert, key

    def test_tls_to_the_manager_port(self):
        import ssl
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = self.make_cert(tmp, "ami")
            other, _ = self.make_cert(tmp, "other")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            peer = AmiPeer(tls=context)
            self.addCleanup(peer.close)
            extra = "    tls: true\n    tls_ca_file: %s\n" % cert
            with Daemon(config(peer.port, extra), files=files()) as d:
                wait_until(lambda: self.state(d)["state"] == "up", what="up over TLS")
                self.assertGreaterEqual(peer.logins_ok, 1)
            # A certificate the connector does not trust: refused with a clear error, retried.
            extra = "    tls: true\n    tls_ca_file: %s\n" % other
            with Daemon(config(peer.port, extra), files=files()) as d:
                state = wait_until(lambda: (lambda s: s if s["state"] == "down" and s["last_error"] else None)(
                    d.get_json("/readyz")[1]["connectors"][0]), what="refused certificate")
                self.assertIn("TLS handshake", state["last_error"])


class AmiLifecycleTest(AmiTestCase):
    def test_reload_restarts_only_a_changed_connector_and_stop_is_prompt(self):
        peer = AmiPeer()
        self.addCleanup(peer.close)
        with Daemon(config(peer.port), files=files()) as d:
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up")
            sessions = peer.logins_ok
            # An unrelated change: the connector keeps its session.
            mark = len(d.messages)
            d.write_config(config(peer.port) + "logging:\n  level: warning\n")
            import signal as sig
            d.signal(sig.SIGHUP)
            d.wait_for("READY=1", start=mark + 1)
            self.assertIn("0 connector(s) stopped, 0 started, 1 unchanged", d.last_status())
            time.sleep(0.5)
            self.assertEqual(peer.logins_ok, sessions)
            # A change in its block: stopped and started again (a new login).
            mark = len(d.messages)
            d.write_config(config(peer.port).replace("ping_interval: 1s", "ping_interval: 2s"))
            d.signal(sig.SIGHUP)
            d.wait_for("READY=1", start=mark + 1)
            self.assertIn("1 connector(s) stopped, 1 started, 0 unchanged", d.last_status())
            wait_until(lambda: peer.logins_ok > sessions, what="a new login after the restart")
            wait_until(lambda: self.state(d)["state"] == "up", what="connector up again")
            started = time.monotonic()
            d.signal(sig.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0, d.log())
            self.assertLess(time.monotonic() - started, 2.5, "stop waited for the connector deadline")


if __name__ == "__main__":
    unittest.main(verbosity=2)
