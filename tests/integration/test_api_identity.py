"""Every scenario of shared/reference/identity.md, through the REST API of the running binary."""
import unittest
import urllib.parse

from harness import ADMIN, AGENT, api_daemon, call, interaction, main

C, V = "claimed", "verified"


def q(value):
    return urllib.parse.quote(value, safe="")


class IdentityScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = api_daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def ingest(self, identifiers, channel="phone", **kw):
        status, body = interaction(self.d, identifiers, channel, **kw)
        self.assertIn(status, (200, 201), body)
        return body

    def view(self, customer_id, token=AGENT):
        status, body = call(self.d, "GET", "/api/v1/customers/" + customer_id, token=token)
        self.assertEqual(status, 200, body)
        return body

    def keys(self, view):
        return sorted((i["kind"], i["key"]) for i in view["identities"])

    def test_gb_call_and_sms_are_one_customer(self):
        a = self.ingest([("phone", "02079460123", C)], "phone")
        b = self.ingest([("phone", "+44 20 7946 0123", C)], "sms")
        self.assertEqual(a["customer_id"], b["customer_id"])
        self.assertTrue(a["customer_created"])
        self.assertFalse(b["customer_created"])
        v = self.view(a["customer_id"])
        self.assertEqual(self.keys(v), [("phone", "+442079460123")])
        channels = {i["channel"] for i in v["recent_interactions"]}
        self.assertEqual(channels, {"phone", "sms"})
        # Lookup normalises raw input the same way.
        for raw in ["02079460123", "+44 20 7946 0123", "+442079460123"]:
            status, found = call(self.d, "GET", "/api/v1/customers/lookup?value=" + q(raw), token=AGENT)
            self.assertEqual(status, 200, found)
            self.assertEqual(found["customer"]["id"], a["customer_id"])

    def test_email_display_form_and_verified_chat_email(self):
        a = self.ingest([("email", "Alice <ALICE@Example.COM>", C)], "email")
        b = self.ingest([("chat_user", "alice-chat-77", V), ("email", "alice@example.com", V)], "chat")
        self.assertEqual(a["customer_id"], b["customer_id"])

    def test_two_anonymous_calls_stay_apart(self):
        a = self.ingest([("phone", "anonymous", C)], "phone")
        b = self.ingest([("phone", "anonymous", C)], "phone")
        self.assertNotEqual(a["customer_id"], b["customer_id"])
        for body in (a, b):
            self.assertEqual(self.view(body["customer_id"])["identities"], [])

    def test_claimed_phone_of_another_customer_is_only_a_suggestion(self):
        owner = self.ingest([("phone", "+44 20 7946 0999", C)], "phone")
        chat = self.ingest([("chat_user", "visitor-claims-999", V), ("phone", "+442079460999", C)], "chat")
        self.assertNotEqual(owner["customer_id"], chat["customer_id"])
        self.assertTrue(chat["suggestion_ids"], chat)
        self.assertEqual(chat["merged_customer_ids"], [])
        status, page = call(self.d, "GET", "/api/v1/suggestions?status=pending&limit=200", token=AGENT)
        self.assertEqual(status, 200)
        self.assertTrue(any(s["id"] in chat["suggestion_ids"] for s in page["items"]), page)

    def test_email_case_joins_and_keeps_original_for_replies(self):
        a = self.ingest([("email", "John.Smith@Example.COM", C)], "email")
        b = self.ingest([("email", "john.smith@example.com", C)], "email")
        self.assertEqual(a["customer_id"], b["customer_id"])
        v = self.view(a["customer_id"])
        emails = [i for i in v["identities"] if i["kind"] == "email"]
        self.assertEqual(len(emails), 1)
        self.assertEqual(emails[0]["value"], "John.Smith@Example.COM")

    def test_gmail_dots_and_tags_but_not_elsewhere(self):
        a = self.ingest([("email", "j.smith+promo@gmail.com", C)], "email")
        b = self.ingest([("email", "jsmith@googlemail.com", C)], "email")
        self.assertEqual(a["customer_id"], b["customer_id"])
        c = self.ingest([("email", "j.smith@acme.com", C)], "email")
        d = self.ingest([("email", "jsmith@acme.com", C)], "email")
        self.assertNotEqual(c["customer_id"], d["customer_id"])

    def test_short_codes_and_alphanumeric_senders_are_not_identifiers(self):
        for sender in ["72345", "BANK"]:
            body = self.ingest([("phone", sender, C)], "sms", **{"from": sender})
            self.assertEqual(self.view(body["customer_id"])["identities"], [])
            status, _ = call(self.d, "GET", "/api/v1/customers/lookup?value=" + sender, token=AGENT)
            self.assertIn(status, (400, 404))

    def test_merge_then_unmerge_restores_both(self):
        a = self.ingest([("email", "merge-a@example.org", C)], "email", text="from a")
        b = self.ingest([("phone", "+44 20 7946 0555", C)], "phone", text="from b")
        ida, idb = a["customer_id"], b["customer_id"]
        before = {i: self.view(i) for i in (ida, idb)}
        status, merged = call(self.d, "POST", "/api/v1/customers/%s/merge" % ida, {"merge_id": idb})
        self.assertEqual(status, 200, merged)
        # The old id now answers with the survivor, marked as such.
        after_merge = self.view(idb)
        self.assertEqual(after_merge["customer"]["id"], ida)
        self.assertTrue(after_merge["merged"])
        self.assertEqual(after_merge["requested_id"], idb)
        self.assertEqual(self.keys(after_merge), sorted(self.keys(before[ida]) + self.keys(before[idb])))
        status, body = call(self.d, "POST", "/api/v1/merges/%d/revert" % merged["merge"])
        self.assertEqual(status, 200, body)
        for i in (ida, idb):
            now = self.view(i)
            self.assertEqual(now["customer"]["id"], i)
            self.assertFalse(now.get("merged", False))
            self.assertEqual(self.keys(now), self.keys(before[i]))
            self.assertEqual([x["id"] for x in now["recent_interactions"]],
                             [x["id"] for x in before[i]["recent_interactions"]])
        # Reverting twice is a conflict, not a silent success.
        status, body = call(self.d, "POST", "/api/v1/merges/%d/revert" % merged["merge"])
        self.assertEqual(status, 409, body)

    def test_internal_extension_creates_no_customer(self):
        body = self.ingest([("phone", "6001", C)], "phone")
        self.assertTrue(body["internal"])
        self.assertIsNone(body["customer_id"])

    def test_erase_then_new_call_is_a_new_customer(self):
        a = self.ingest([("phone", "+44 20 7946 0777", C)], "phone", text="erase me")
        status, body = call(self.d, "DELETE", "/api/v1/customers/" + a["customer_id"])
        self.assertEqual(status, 200, body)
        status, _ = call(self.d, "GET", "/api/v1/customers/" + a["customer_id"], token=AGENT)
        self.assertEqual(status, 404)
        b = self.ingest([("phone", "+44 20 7946 0777", C)], "phone")
        self.assertNotEqual(a["customer_id"], b["customer_id"])
        self.assertTrue(b["customer_created"])
        v = self.view(b["customer_id"])
        self.assertEqual(len(v["recent_interactions"]), 1)
        self.assertNotIn("erase me", str(v))

    def test_customer_part_is_identical_whichever_channel_asks(self):
        a = self.ingest([("phone", "+44 20 7946 0888", C), ("email", "same-view@example.net", C)], "phone")
        self.ingest([("email", "same-view@example.net", C)], "email")
        self.ingest([("phone", "+442079460888", C)], "sms")
        views = []
        for value in ["+44 20 7946 0888", "same-view@example.net"]:
            status, v = call(self.d, "GET", "/api/v1/customers/lookup?value=" + q(value), token=AGENT)
            self.assertEqual(status, 200)
            v.pop("matched", None)
            views.append(v)
        views.append(self.view(a["customer_id"]))
        self.assertEqual(views[0], views[1])
        self.assertEqual(views[0], views[2])

    def test_idempotent_by_external_id(self):
        status, first = interaction(self.d, [("phone", "+44 20 7946 0444", C)], "phone", external_id="dup-1")
        self.assertEqual(status, 201, first)
        status, again = interaction(self.d, [("phone", "+44 20 7946 0444", C)], "phone", external_id="dup-1")
        self.assertEqual(status, 200, again)
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["interaction_id"], first["interaction_id"])
        self.assertEqual(again["customer_id"], first["customer_id"])
        v = self.view(first["customer_id"])
        self.assertEqual(len(v["recent_interactions"]), 1)

    def test_roles(self):
        a = self.ingest([("phone", "+44 20 7946 0333", C)], "phone")
        status, body = call(self.d, "DELETE", "/api/v1/customers/" + a["customer_id"], token=AGENT)
        self.assertEqual(status, 403, body)
        status, body = call(self.d, "GET", "/api/v1/customers/" + a["customer_id"], token=None)
        self.assertEqual(status, 401, body)
        status, body = call(self.d, "GET", "/api/v1/customers/" + a["customer_id"],
                            token={"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        status, body = interaction(self.d, [("external", "CRM-9", V)], "api", token=AGENT)
        self.assertEqual(status, 403, body)


if __name__ == "__main__":
    main()
