"""Browser test of the console's reply box: a customer's email arrives from a real Dovecot, the
agent (Debian Chromium driven by tests/browser/reply.test.mjs) opens the customer, presses Reply on
the email, writes and sends; the reply reaches a real SMTP server (aiosmtpd) once, threaded, and
the console shows it as Sent. Screenshot: <build dir>/artifacts/browser/console-reply-sent.png."""
import email
import email.policy
import os
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecotpeer import Dovecot, message  # noqa: E402
from harness import Daemon, call, wait_until  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402
import test_console_browser as console_browser  # noqa: E402  (not its TestCase: unittest would run it here too)
from test_console_browser import ARTIFACT_DIR, BROWSER_DIR, CHROMIUM, png_size  # noqa: E402
from test_email_replies import ALICE_TOKEN, FILES, config  # noqa: E402


class ReplyBrowserTest(unittest.TestCase):
    setUpClass = console_browser.ConsoleBrowserTest.setUpClass

    def test_agent_replies_from_the_console(self):
        dovecot = Dovecot().start()
        self.addCleanup(dovecot.close)
        sink = SmtpSink().start()
        self.addCleanup(sink.close)
        os.makedirs(ARTIFACT_DIR, exist_ok=True)
        shot = os.path.join(ARTIFACT_DIR, "console-reply-sent.png")
        if os.path.exists(shot):
            os.unlink(shot)
        text = "Hi Kim, a new zipper is on its way. — Alice ✓"
        with Daemon(config(dovecot.port, sink.port), files=FILES) as d:
            dovecot.append([message("kim@example.net", "kim-1@example.net", "Broken zipper")])
            wait_until(lambda: call(d, "GET", "/api/v1/customers/lookup?kind=email&value=" +
                                    urllib.parse.quote("kim@example.net"))[0] == 200, 30, "the customer")
            env = dict(os.environ, BASE_URL="http://%s:%d" % (d.host, d.port), AGENT_TOKEN=ALICE_TOKEN,
                       CUSTOMER="kim@example.net", SUBJECT="Broken zipper", REPLY_TEXT=text,
                       ARTIFACT_DIR=ARTIFACT_DIR, CHROMIUM=CHROMIUM, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
            proc = subprocess.run(["node", os.path.join(BROWSER_DIR, "reply.test.mjs")], cwd=BROWSER_DIR, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
            out = proc.stdout.decode("utf-8", "replace")
            self.assertEqual(proc.returncode, 0, "reply.test.mjs failed:\n%s\n--- daemon log ---\n%s" % (out, d.log()[-3000:]))
            mails = sink.messages()
            self.assertEqual(len(mails), 1, mails)
            mail = email.message_from_bytes(mails[0][1], policy=email.policy.default)
            self.assertEqual(mail["In-Reply-To"], "<kim-1@example.net>")
            self.assertEqual(str(mail["Subject"]), "Re: Broken zipper")
            self.assertEqual(mail.get_content().strip(), text)
        self.assertGreater(png_size(shot)[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
