"""Hostile input to the REST API of the running binary: injection attempts in every parameter,
invalid and oversized JSON, wrong content types. 4xx (or an empty result), never 5xx, nothing stored."""
import json
import os
import sqlite3
import unittest
import urllib.parse

from harness import ADMIN, AGENT, api_daemon, call, interaction, main

NASTY = ["' OR 1=1 --", "\" OR \"\"=\"", "%", "_", "\\", "%_%", "'; DROP TABLE customers; --", "../../etc/passwd",
         "<script>alert(1)</script>", "\u202eevil", "\U0001F600", "a" * 300, "\x00", "c_%", "1e9999", "-1", "0",
         "NULL", "${jndi:ldap://x}"]


class ApiInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = api_daemon().start()
        status, cls.alice = interaction(cls.d, [("phone", "+44 20 7946 0100", "claimed")], "phone",
                                        display_name="Alice Known")
        assert status == 201, cls.alice

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def assert_not_5xx(self, status, body, what):
        self.assertLess(status, 500, (what, body))

    def test_injection_in_every_parameter_is_inert(self):
        cid = self.alice["customer_id"]
        for value in NASTY:
            v = urllib.parse.quote(value, safe="")
            for path in ["/api/v1/customers?q=" + v, "/api/v1/customers?cursor=" + v, "/api/v1/customers?limit=" + v,
                         "/api/v1/customers/lookup?value=" + v, "/api/v1/customers/lookup?value=1&kind=" + v,
                         "/api/v1/customers/" + v, "/api/v1/customers/%s/timeline?channel=%s" % (cid, v),
                         "/api/v1/customers/%s/timeline?since=%s" % (cid, v),
                         "/api/v1/customers/%s/timeline?cursor=%s" % (cid, v), "/api/v1/interactions/" + v,
                         "/api/v1/suggestions?status=" + v]:
                status, body = call(self.d, "GET", path, token=AGENT)
                self.assert_not_5xx(status, body, path)
                if path.startswith("/api/v1/customers?q=") and status == 200:
                    # Wildcards and quotes are literal: every hit really starts with the term.
                    for item in body["items"]:
                        names = [item.get("display_name") or ""] + [i["value"] for i in item["identities"]] + \
                                [i["key"] for i in item["identities"]]
                        self.assertTrue(any(n.lower().startswith(value.lower()) for n in names), (value, item))
        # The known customer is still there, unchanged.
        status, view = call(self.d, "GET", "/api/v1/customers/" + cid, token=AGENT)
        self.assertEqual(status, 200)
        self.assertEqual(view["customer"]["display_name"], "Alice Known")

    def test_injection_in_bodies_is_stored_verbatim_not_executed(self):
        for value in NASTY[:8]:
            status, body = interaction(self.d, [("email", "inj@example.com", "claimed")], "email", text=value,
                                       subject=value, display_name=value)
            self.assertIn(status, (200, 201), body)
            status, got = call(self.d, "GET", "/api/v1/interactions/" + body["interaction_id"], token=AGENT)
            self.assertEqual(got["text"], value)
        status, body = call(self.d, "GET", "/api/v1/customers?q=Alice", token=AGENT)
        self.assertEqual(status, 200)
        self.assertTrue(any(i["id"] == self.alice["customer_id"] for i in body["items"]))

    def test_invalid_json_and_content_types(self):
        cases = [(b"{", "application/json", 400), (b"[1,2]", "application/json", 400), (b"", "application/json", 400),
                 (b"\xff\xfe", "application/json", 400), (b'{"external_id":"x","kind":"a"}', "text/plain", 415),
                 (b"[" * 100000, "application/json", 400), (b'{"external_id":"x","kind":"a","text":"\\ud800"}', "application/json", 400)]
        for payload, ctype, expected in cases:
            status, body = call(self.d, "POST", "/api/v1/interactions", payload, headers={"Content-Type": ctype})
            self.assertEqual(status, expected, (payload[:20], body))
            self.assertIn("error", body)

    def test_oversized_body(self):
        big = json.dumps({"external_id": "big", "kind": "x", "text": "a" * (300 * 1024)})
        status, body = call(self.d, "POST", "/api/v1/interactions", big)
        self.assertEqual(status, 413)
        status, _ = call(self.d, "GET", "/api/v1/interactions/big", token=AGENT)
        self.assertEqual(status, 404)

    def test_invalid_fields_store_nothing(self):
        path = os.path.join(self.d.path, "state", "omnitrail.db")
        before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
        for body in [{"external_id": "", "kind": "x"}, {"external_id": "e1", "kind": "Not Valid"},
                     {"external_id": "e2", "kind": "x", "channel": "fax"},
                     {"external_id": "e3", "kind": "x", "occurred_at": "last tuesday"},
                     {"external_id": "e4", "kind": "x", "identifiers": [{"kind": "phone"}]},
                     {"external_id": "e5", "kind": "x", "surprise": True},
                     {"external_id": "e6", "kind": "note", "channel": "note"}]:
            status, resp = call(self.d, "POST", "/api/v1/interactions", body)
            self.assertEqual(status, 400, (body, resp))
            self.assertEqual(resp["error"]["code"], "invalid_argument")
        after = sqlite3.connect(path).execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
        self.assertEqual(before, after)

    def test_openapi_document_is_served(self):
        status, doc = call(self.d, "GET", "/api/v1/openapi.json", token=None)
        self.assertEqual(status, 200)
        self.assertTrue(doc["openapi"].startswith("3."))
        self.assertIn("/api/v1/interactions", doc["paths"])


if __name__ == "__main__":
    main()
