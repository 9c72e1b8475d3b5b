"""Agent replies by email (issue #6) through the durable outbox to a real SMTP server
(python3-aiosmtpd), with the customer's mail coming in from a real Dovecot:
- the reply reaches the sink once, with From, To, Subject "Re: ...", Date, a Message-ID made from
  the message id, In-Reply-To and References naming the customer's message, UTF-8 text; it is on
  the timeline as email.sent (delivery status sent) in the customer's conversation, and the
  customer's answer to it lands in that same conversation;
- with the sink down the reply waits (queued, the error recorded) and is delivered once when the
  sink is back; an Idempotency-Key repeat answers with the same message and sends nothing more;
- a graceful stop (SIGTERM) while the relay is still accepting a reply lets it finish: sent
  once, not failed as interrupted, not sent again after the restart;
- a recipient the server refuses (550) fails at once with the server's reply, never retried;
- bad requests are refused with 4xx and queue nothing."""
import email
import email.policy
import os
import signal
import time
import unittest
import urllib.parse

import test_imap_connector as imap_test  # its config(); not its TestCase (unittest would run it here too)
from dovecotpeer import Dovecot, message
from harness import Daemon, call, require_binary, wait_until
from smtpsink import SmtpSink, free_port

ALICE_TOKEN = imap_test.ALICE_TOKEN
FILES = imap_test.FILES


def config(imap_port, smtp_port):
    """test_imap_connector's daemon (agent alice on queue support, connector "mail") with replies."""
    return imap_test.config(imap_port, """    from: support@example.test
    from_name: "Example Support"
    smtp:
      host: 127.0.0.1
      port: %d
      tls: none
      auth: false
      connect_timeout: 2s
      timeout: 10s
""" % smtp_port)


def agent_call(d, method, path, body=None, headers=None):
    return call(d, method, path, body, headers=headers, token={"Authorization": "Bearer " + ALICE_TOKEN})


class EmailRepliesTest(unittest.TestCase):
    def setUp(self):
        require_binary()
        self.dovecot = Dovecot().start()
        self.addCleanup(self.dovecot.close)

    def customer_email(self, d, sender):
        """(customer id, the email.received interaction) once the sender's mail is on the timeline."""
        def found():
            status, body = call(d, "GET", "/api/v1/customers/lookup?kind=email&value=" + urllib.parse.quote(sender))
            if status != 200:
                return None
            cid = body["customer"]["id"]
            status, timeline = call(d, "GET", "/api/v1/customers/%s/timeline?channel=email" % cid)
            items = [i for i in timeline["items"] if i["kind"] == "email.received"]
            return (cid, items[0]) if items else None
        return wait_until(found, 30, "the customer's email on the timeline")

    def timeline(self, d, cid):
        status, body = call(d, "GET", "/api/v1/customers/%s/timeline?channel=email&limit=100" % cid)
        self.assertEqual(status, 200, body)
        return body["items"]

    def message_status(self, d, mid):
        status, body = agent_call(d, "GET", "/api/v1/messages/" + mid)
        self.assertEqual(status, 200, body)
        return body

    def test_reply_is_threaded_sent_once_and_on_the_timeline(self):
        sink = SmtpSink().start()
        self.addCleanup(sink.close)
        with Daemon(config(self.dovecot.port, sink.port), files=FILES) as d:
            self.dovecot.append([message("bob@example.net", "order-77@example.net", "Where is my order?")])
            cid, parent = self.customer_email(d, "bob@example.net")
            text = "Hello Bob,\nyour parcel left today. Grüße — ✓ 📦\n.\nA line with a dot above."
            status, queued = agent_call(d, "POST", "/api/v1/messages",
                                        {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"],
                                         "text": text})
            self.assertEqual(status, 202, queued)
            self.assertEqual(queued["status"], "queued")
            self.assertEqual(queued["connector"], "mail")
            self.assertEqual(queued["to"], "bob@example.net")
            mid = queued["id"]
            self.assertRegex(mid, r"^m_[0-9a-f]{16}$")
            done = wait_until(lambda: self.message_status(d, mid)["status"] == "sent" and self.message_status(d, mid),
                              20, "the reply sent")
            self.assertEqual(done["attempts"], 1)
            self.assertEqual(done["provider_code"], 250)

            mails = sink.messages()
            self.assertEqual(len(mails), 1, mails)
            envelope, raw = mails[0]
            self.assertEqual(envelope["mail_from"], "support@example.test")
            self.assertEqual(envelope["rcpt_tos"], ["bob@example.net"])
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            self.assertEqual(mail["To"], "bob@example.net")
            self.assertEqual(str(mail["From"]), "Example Support <support@example.test>")
            self.assertEqual(str(mail["Subject"]), "Re: Where is my order?")
            self.assertEqual(mail["In-Reply-To"], "<order-77@example.net>")
            self.assertIn("<order-77@example.net>", mail["References"])
            self.assertEqual(mail["Message-ID"], "<omnitrail.%s@example.test>" % mid)
            self.assertIsNotNone(mail["Date"])
            self.assertEqual(mail.get_content_type(), "text/plain")
            self.assertEqual(mail.get_content_charset(), "utf-8")
            self.assertEqual(mail.get_content().replace("\r\n", "\n").rstrip("\n"), text)

            sent = [i for i in self.timeline(d, cid) if i["kind"] == "email.sent"]
            self.assertEqual(len(sent), 1, sent)
            self.assertEqual(sent[0]["id"], done["interaction_id"])
            self.assertEqual(sent[0]["direction"], "outbound")
            self.assertEqual(sent[0]["agent"], "alice")
            self.assertEqual(sent[0]["external_id"], "omnitrail.%s@example.test" % mid)
            self.assertEqual(sent[0]["conversation_id"], parent["conversation_id"])
            self.assertEqual(sent[0]["metadata"]["delivery"]["status"], "sent")
            self.assertEqual(sent[0]["metadata"]["in_reply_to"], "order-77@example.net")

            # The customer answers our reply: same conversation.
            answer = message("bob@example.net", "order-77-b@example.net", "Re: Where is my order?").replace(
                b"Content-Type:", b"In-Reply-To: <omnitrail.%s@example.test>\r\nReferences: <order-77@example.net> "
                b"<omnitrail.%s@example.test>\r\nContent-Type:" % (mid.encode(), mid.encode()), 1)
            self.dovecot.append([answer])
            second = wait_until(lambda: [i for i in self.timeline(d, cid) if i["external_id"] == "order-77-b@example.net"],
                                30, "the customer's answer")
            self.assertEqual(second[0]["conversation_id"], parent["conversation_id"])
            time.sleep(1.5)  # a few dispatcher polls: nothing is sent twice
            self.assertEqual(len(sink.messages()), 1)

    def test_reply_goes_to_the_reply_to_address_with_its_display_name(self):
        sink = SmtpSink().start()
        self.addCleanup(sink.close)
        with Daemon(config(self.dovecot.port, sink.port), files=FILES) as d:
            mail = message("rita@example.net", "rita-1@example.net", "Quote").replace(
                b"Content-Type:", b"Reply-To: Rita Sales <rita.sales@example.net>\r\nContent-Type:", 1)
            self.dovecot.append([mail])
            cid, parent = self.customer_email(d, "rita@example.net")
            status, queued = agent_call(d, "POST", "/api/v1/messages",
                                        {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"],
                                         "text": "Here is the quote."})
            self.assertEqual(status, 202, queued)
            self.assertEqual(queued["to"], "rita.sales@example.net")
            wait_until(lambda: self.message_status(d, queued["id"])["status"] == "sent", 20, "sent")
            envelope, raw = sink.messages()[0]
            self.assertEqual(envelope["rcpt_tos"], ["rita.sales@example.net"])

    def test_sink_down_then_back_delivers_once(self):
        port = free_port()
        sink = SmtpSink(port)
        self.addCleanup(sink.close)
        with Daemon(config(self.dovecot.port, port), files=FILES) as d:
            self.dovecot.append([message("ann@example.net", "ann-1@example.net", "Refund")])
            cid, parent = self.customer_email(d, "ann@example.net")
            body = {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"], "text": "Refund issued."}
            key = {"Idempotency-Key": "reply-ann-1"}
            status, queued = agent_call(d, "POST", "/api/v1/messages", body, headers=key)
            self.assertEqual(status, 202, queued)
            mid = queued["id"]
            # Nothing listens: the attempt fails temporarily and the message waits with the error.
            waiting = wait_until(lambda: (lambda m: m["attempts"] >= 2 and m)(self.message_status(d, mid)), 20,
                                 "two failed attempts")
            self.assertEqual(waiting["status"], "queued")
            self.assertTrue(waiting["last_error"])
            self.assertIsNotNone(waiting["next_attempt_at"])
            item = [i for i in self.timeline(d, cid) if i["kind"] == "email.sent"][0]
            self.assertEqual(item["metadata"]["delivery"]["status"], "queued")
            # A retried request (same Idempotency-Key) is the same message, not a second one.
            status, again = agent_call(d, "POST", "/api/v1/messages", body, headers=key)
            self.assertEqual(status, 200, again)
            self.assertEqual(again["id"], mid)
            status, conflict = agent_call(d, "POST", "/api/v1/messages", dict(body, text="Something else."), headers=key)
            self.assertEqual(status, 409, conflict)
            self.assertIn("Idempotency-Key", conflict["error"]["message"])
            sink.start()
            wait_until(lambda: self.message_status(d, mid)["status"] == "sent", 30, "delivered once the sink is back")
            time.sleep(1.5)
            self.assertEqual(len(sink.messages()), 1)
            self.assertEqual(len([i for i in self.timeline(d, cid) if i["kind"] == "email.sent"]), 1)
            text = d.request("GET", "/metrics")[2].decode()
            self.assertIn('omnitrail_messages_total{connector="mail",outcome="sent"} 1', text)

    def test_graceful_stop_lets_a_send_in_progress_finish(self):
        sink = SmtpSink(delay=2.0).start()
        self.addCleanup(sink.close)
        d = Daemon(config(self.dovecot.port, sink.port).replace("shutdown_timeout: 3s", "shutdown_timeout: 10s"),
                   files=FILES)
        self.addCleanup(d.__exit__, None, None, None)
        d.start()
        self.dovecot.append([message("sam@example.net", "sam-1@example.net", "Invoice")])
        cid, parent = self.customer_email(d, "sam@example.net")
        status, queued = agent_call(d, "POST", "/api/v1/messages",
                                    {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"],
                                     "text": "Invoice attached."})
        self.assertEqual(status, 202, queued)
        wait_until(sink.data_started, 20, "the relay holding the message")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(30), 0, d.log()[-3000:])
        self.assertEqual(len(sink.messages()), 1)
        d.messages.clear()
        d.start()
        wait_until(lambda: self.customer_email(d, "sam@example.net"), 20, "the daemon back")
        final = self.message_status(d, queued["id"])
        self.assertEqual(final["status"], "sent", final)
        self.assertEqual(final["attempts"], 1)
        time.sleep(2.0)
        self.assertEqual(len(sink.messages()), 1)

    def test_refused_recipient_fails_without_retry(self):
        sink = SmtpSink(refuse=["gone@example.net"]).start()
        self.addCleanup(sink.close)
        with Daemon(config(self.dovecot.port, sink.port), files=FILES) as d:
            self.dovecot.append([message("gone@example.net", "gone-1@example.net", "Bye")])
            cid, parent = self.customer_email(d, "gone@example.net")
            status, queued = agent_call(d, "POST", "/api/v1/messages",
                                        {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"],
                                         "text": "Sorry to see you go."})
            self.assertEqual(status, 202, queued)
            failed = wait_until(lambda: (lambda m: m["status"] == "failed" and m)(self.message_status(d, queued["id"])),
                                20, "the reply failed")
            self.assertIn("550", failed["last_error"])
            self.assertEqual(failed["provider_code"], 550)
            time.sleep(2.5)
            self.assertEqual(self.message_status(d, queued["id"])["attempts"], 1)
            self.assertEqual(sink.messages(), [])
            item = [i for i in self.timeline(d, cid) if i["kind"] == "email.sent"][0]
            self.assertEqual(item["metadata"]["delivery"]["status"], "failed")
            # An agent may put it back in the queue; it fails the same way (the server still refuses).
            status, retried = agent_call(d, "POST", "/api/v1/messages/%s/retry" % queued["id"])
            self.assertEqual(status, 202, retried)
            self.assertEqual(retried["status"], "queued")
            wait_until(lambda: self.message_status(d, queued["id"])["status"] == "failed", 20, "failed again")
            status, listing = call(d, "GET", "/api/v1/messages?status=failed")
            self.assertEqual(status, 200, listing)
            self.assertEqual([m["id"] for m in listing["messages"]], [queued["id"]])

    def test_bad_requests_queue_nothing(self):
        sink = SmtpSink().start()
        self.addCleanup(sink.close)
        with Daemon(config(self.dovecot.port, sink.port), files=FILES) as d:
            self.dovecot.append([message("eve@example.net", "eve-1@example.net", "Hi"),
                                 message("joe@example.net", "joe-1@example.net", "Hello")])
            cid, parent = self.customer_email(d, "eve@example.net")
            _, other_parent = self.customer_email(d, "joe@example.net")
            ooo = message("eve@example.net", "eve-ooo@example.net", "Out of office").replace(
                b"Content-Type:", b"Auto-Submitted: auto-replied\r\nContent-Type:", 1)
            self.dovecot.append([ooo])
            auto = wait_until(lambda: [i for i in self.timeline(d, cid) if i["external_id"] == "eve-ooo@example.net"],
                              30, "the auto-reply on the timeline")[0]
            self.assertTrue(auto["metadata"]["auto_reply"])
            base = {"customer_id": cid, "channel": "email", "in_reply_to": parent["id"], "text": "x"}
            cases = [
                (dict(base, text=""), 400, "text"),
                (dict(base, text=7), 400, "text"),
                (dict(base, channel="fax"), 400, "channel"),
                (dict(base, channel="sms", to="+49 30 1234567"), 503, "sms"),
                (dict(base, customer_id="c_0000000000000000"), 404, "not found"),
                (dict(base, in_reply_to=other_parent["id"]), 400, "in_reply_to"),
                (dict(base, subject="Hi\r\nBcc: victim@example.org"), 400, "header injection"),
                (dict(base, to="not an address"), 400, "address"),
                (dict(base, connector="nope"), 404, "nope"),
                (dict(base, in_reply_to=auto["id"]), 400, "automatic reply"),
                ({"customer_id": cid, "channel": "email", "text": "new thread without a subject"}, 400, "subject"),
            ]
            for body, expected, word in cases:
                status, answer = agent_call(d, "POST", "/api/v1/messages", body)
                self.assertEqual(status, expected, (body, answer))
                self.assertIn(word, answer["error"]["message"], (body, answer))
            status, answer = agent_call(d, "POST", "/api/v1/messages", base, headers={"Idempotency-Key": "a b"})
            self.assertEqual(status, 400, answer)
            status, answer = call(d, "POST", "/api/v1/messages", base, token={"Authorization": "Bearer wrong-token-0123456789"})
            self.assertEqual(status, 401, answer)
            status, listing = call(d, "GET", "/api/v1/messages")
            self.assertEqual(listing["messages"], [])
            self.assertEqual([i for i in self.timeline(d, cid) if i["direction"] == "outbound"], [])
            time.sleep(1.0)
            self.assertEqual(sink.messages(), [])


if __name__ == "__main__":
    unittest.main()
