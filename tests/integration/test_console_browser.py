"""Browser acceptance test of the agent console: starts omnitraild (API_CONFIG: agent alice on
extension 6001, an admin token) and runs tests/browser/console.test.mjs (Node + playwright-core
driving the system Chromium) against it: sign in, live pops ringing -> answered -> ended, search,
open a customer, add a note, 1280 px and 400 px layouts. Screenshots go to
<build dir>/artifacts/browser.

Needs node, /usr/bin/chromium (scripts/setup.sh --test) and tests/browser/node_modules
(tests/browser/install.sh, run here when missing). There is no skip switch: a machine without a
browser fails this test rather than counting it as passed."""
import os
import shutil
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_CONFIG, API_FILES, SOURCE_DIR, Daemon  # noqa: E402

BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
BUILD_DIR = os.environ.get("OMNITRAIL_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
ARTIFACT_DIR = os.path.join(BUILD_DIR, "artifacts", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ["console-pop-ringing.png", "console-pop-ended.png", "console-1280.png", "console-400.png"]


def png_size(path):
    """(width, height) of a PNG file; raises AssertionError when it is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError("%s is not a PNG file" % path)
    return struct.unpack(">II", head[16:24])


class ConsoleBrowserTest(unittest.TestCase):
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

    def test_console_end_to_end(self):
        os.makedirs(ARTIFACT_DIR, exist_ok=True)
        for name in SCREENSHOTS + ["console-failure.png"]:
            try:
                os.unlink(os.path.join(ARTIFACT_DIR, name))
            except FileNotFoundError:
                pass
        files = dict(API_FILES)
        with Daemon(API_CONFIG, files=files) as d:
            env = dict(os.environ)
            env.update({
                "BASE_URL": "http://%s:%d" % (d.host, d.port),
                "AGENT_TOKEN": files["secrets/alice.token"].strip(),
                "ADMIN_TOKEN": files["secrets/admin.token"].strip(),
                "ARTIFACT_DIR": ARTIFACT_DIR,
                "CHROMIUM": CHROMIUM,
                "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
            })
            try:
                proc = subprocess.run(["node", os.path.join(BROWSER_DIR, "console.test.mjs")], cwd=BROWSER_DIR,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
                out = proc.stdout.decode("utf-8", "replace")
                code = proc.returncode
            except subprocess.TimeoutExpired as e:
                out = (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out after 240 s)"
                code = None
            print(out)
            self.assertEqual(code, 0, "console.test.mjs failed (screenshots in %s):\n%s\n--- daemon log (tail) ---\n%s"
                             % (ARTIFACT_DIR, out, d.log()[-4000:]))
        for name in SCREENSHOTS:
            path = os.path.join(ARTIFACT_DIR, name)
            self.assertTrue(os.path.isfile(path), "missing screenshot %s" % path)
            self.assertGreater(os.path.getsize(path), 1000, "empty screenshot %s" % path)
            width, height = png_size(path)
            self.assertGreater(width * height, 0, path)
        self.assertEqual(png_size(os.path.join(ARTIFACT_DIR, "console-1280.png"))[0], 1280)
        self.assertEqual(png_size(os.path.join(ARTIFACT_DIR, "console-400.png"))[0], 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
