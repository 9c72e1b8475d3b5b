"""Browser acceptance test of web chat (issue #8): serves a shop page on another origin
(http://localhost:<port>/ while the daemon is http://127.0.0.1:<port>/) that embeds the widget with
one script tag, starts omnitraild with a webchat connector allowing that origin, and runs
tests/browser/webchat.test.mjs (Node + playwright-core driving the system Chromium): visitor ->
pop and message in the agent console -> reply -> visitor; reload resumes with every message
once. Screenshots go to <build dir>/artifacts/browser.

Needs node, /usr/bin/chromium (scripts/setup.sh --test) and tests/browser/node_modules
(tests/browser/install.sh, run here when missing). No skip switch: without a browser it fails."""
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, Daemon  # noqa: E402
from test_console_browser import png_size  # noqa: E402

BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
BUILD_DIR = os.environ.get("OMNITRAIL_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
ARTIFACT_DIR = os.path.join(BUILD_DIR, "artifacts", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ["webchat-visitor-sent.png", "webchat-console.png", "webchat-visitor-reply.png",
               "webchat-visitor-resumed.png", "webchat-console-ended.png", "webchat-visitor-400.png"]

FILES = {
    "secrets/alice.token": "alice-token-for-tests-0123456789\n",
    "secrets/webchat-token.key": "webchat-token-secret-0123456789abcdef\n",
}

CONFIG = """
server:
  listen: ["127.0.0.1:0"]
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
connectors:
  - name: site
    type: webchat
    queue: support
    allowed_origins: ["%s"]
    token_secret_file: secrets/webchat-token.key
    pre_chat_form: {fields: [name, email], required: [name]}
logging:
  level: info
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example shop</title><link rel="icon" href="data:,"></head>
<body><h1>Example shop</h1><p>A page of another web site, embedding the chat.</p>
<script src="%s/webchat/site/widget.js" async></script>
</body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class WebchatBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = []
        if not shutil.which("node"):
            missing.append("node (apt-get install nodejs)")
        if not os.access(CHROMIUM, os.X_OK):
            missing.append("%s (apt-get install chromium)" % CHROMIUM)
        if missing:
            raise AssertionError("the browser test needs %s; run scripts/setup.sh --test" % ", ".join(missing))
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            subprocess.run([os.path.join(BROWSER_DIR, "install.sh")], check=True, timeout=240)

    def test_widget_on_another_origin_end_to_end(self):
        os.makedirs(ARTIFACT_DIR, exist_ok=True)
        for name in SCREENSHOTS + ["webchat-failure-console.png", "webchat-failure-shop.png"]:
            try:
                os.unlink(os.path.join(ARTIFACT_DIR, name))
            except FileNotFoundError:
                pass
        site = tempfile.TemporaryDirectory(prefix="omnitrail-shop-")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                 functools.partial(QuietHandler, directory=site.name))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        page_origin = "http://localhost:%d" % server.server_address[1]
        try:
            with Daemon(CONFIG % page_origin, files=FILES) as d:
                base = "http://%s:%d" % (d.host, d.port)
                with open(os.path.join(site.name, "index.html"), "w") as f:
                    f.write(PAGE % base)
                env = dict(os.environ)
                env.update({
                    "BASE_URL": base,
                    "PAGE_URL": page_origin + "/index.html",
                    "AGENT_TOKEN": FILES["secrets/alice.token"].strip(),
                    "ARTIFACT_DIR": ARTIFACT_DIR,
                    "CHROMIUM": CHROMIUM,
                    "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
                })
                try:
                    proc = subprocess.run(["node", os.path.join(BROWSER_DIR, "webchat.test.mjs")], cwd=BROWSER_DIR, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
                    out = proc.stdout.decode("utf-8", "replace")
                    code = proc.returncode
                except subprocess.TimeoutExpired as e:
                    out = (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out after 240 s)"
                    code = None
                print(out)
                self.assertEqual(code, 0, "webchat.test.mjs failed (screenshots in %s):\n%s\n--- daemon log (tail) ---\n%s"
                                 % (ARTIFACT_DIR, out, d.log()[-4000:]))
        finally:
            server.shutdown()
            server.server_close()
            site.cleanup()
        for name in SCREENSHOTS:
            path = os.path.join(ARTIFACT_DIR, name)
            self.assertTrue(os.path.isfile(path), "missing screenshot %s" % path)
            self.assertGreater(os.path.getsize(path), 1000, "empty screenshot %s" % path)
            width, height = png_size(path)
            self.assertGreater(width * height, 0, path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
