"""A scripted Asterisk Manager Interface peer for tests: it speaks the AMI session protocol
(banner, Challenge / Login with MD5 or plain secrets, Filter, Ping, CoreShowChannels) and replays
the events of a real capture from shared/fixtures/ami/. It records every action it receives."""
import hashlib
import os
import socket
import threading
import time

SHARED = os.environ.get("OMNITRAIL_SHARED_DIR") or os.path.join(
    os.environ.get("OMNITRAIL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")), "..", "shared")


def capture_events(name):
    """The Event blocks of a capture, as raw bytes each ending with a blank line."""
    with open(os.path.join(SHARED, "fixtures", "ami", name), "rb") as f:
        data = f.read().replace(b"\r\n", b"\n")
    blocks = [b for b in data.split(b"\n\n") if b.strip()]
    out = []
    for block in blocks:
        lines = block.split(b"\n")
        if lines[0].startswith(b"Asterisk Call Manager/"):
            lines = lines[1:]
        if not lines or not lines[0].startswith(b"Event:"):
            continue  # responses to the capturing client's own actions
        if lines[0] in (b"Event: FullyBooted", b"Event: SuccessfulAuth"):
            continue
        out.append(b"\r\n".join(lines) + b"\r\n\r\n")
    return out


def core_channels_alive(events):
    """CoreShowChannel blocks for the channels still up after `events` (Newchannel without Hangup)."""
    alive = {}
    for event in events:
        fields = dict(l.split(b": ", 1) for l in event.strip().split(b"\r\n") if b": " in l)
        kind = fields.get(b"Event")
        uid = fields.get(b"Uniqueid")
        if kind == b"Newchannel":
            alive[uid] = fields
        elif kind == b"Newstate" and uid in alive:
            alive[uid].update(fields)
        elif kind == b"Hangup":
            alive.pop(uid, None)
    out = []
    for fields in alive.values():
        lines = [b"Event: CoreShowChannel"]
        for key in (b"Channel", b"ChannelState", b"ChannelStateDesc", b"CallerIDNum", b"CallerIDName",
                    b"ConnectedLineNum", b"ConnectedLineName", b"Context", b"Exten", b"Priority", b"Uniqueid",
                    b"Linkedid"):
            if key in fields:
                lines.append(key + b": " + fields[key])
        out.append(b"\r\n".join(lines) + b"\r\n\r\n")
    return out


class AmiPeer:
    def __init__(self, username="omni", secret="s3cret-ami", capture=None, event_delay=0.01, drop_after=None,
                 banner=b"Asterisk Call Manager/13.0.0\r\n", answer_login=True, after_login=b"", tls=None):
        self.username = username
        self.secret = secret
        self.events = capture_events(capture) if capture else []
        self.event_delay = event_delay
        self.drop_after = drop_after  # close the first connection after this many events
        self.banner = banner          # per connection number: a dict {n: bytes}, else the same for all
        self.answer_login = answer_login  # False: a slow peer that never answers the login
        self.after_login = after_login    # bytes sent right after the login reply (dict per connection)
        self.core_channels = []       # CoreShowChannel event blocks (without ActionID) for the resync
        self.tls = tls  # an ssl.SSLContext: serve AMI over TLS
        self.originate_result = "Success"  # "Success", "Failure", or None (the action is refused)
        self.actions = []             # (connection number, dict of the action)
        self.connections = 0
        self.logins_ok = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.open = set()
        self.replayed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopped = True
        self.sock.close()
        self.kick()

    def kick(self):
        """Drops every open session (the client reconnects and gets a fresh replay)."""
        for conn in list(self.open):
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self.open.clear()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.tls is not None:
                try:
                    conn.settimeout(10)
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    conn.settimeout(None)
                except (OSError, ValueError):
                    conn.close()
                    continue
            self.open.add(conn)
            threading.Thread(target=self._session, args=(conn, self.connections), daemon=True).start()

    def _read_action(self, conn, buf):
        while b"\r\n\r\n" not in buf[0]:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            buf[0] += chunk
        block, buf[0] = buf[0].split(b"\r\n\r\n", 1)
        action = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                action[k.strip().lower()] = v.strip()
        return action

    def _session(self, conn, number):
        buf = [b""]
        challenge = "%d" % (100000000 + number)
        try:
            banner = self.banner.get(number, b"Asterisk Call Manager/13.0.0\r\n") if isinstance(self.banner, dict) \
                else self.banner
            conn.sendall(banner)
            logged_in = False
            while True:
                action = self._read_action(conn, buf)
                if action is None:
                    return
                self.actions.append((number, action))
                name = action.get("action", "").lower()
                aid = action.get("actionid", "")
                def reply(*lines):
                    conn.sendall(("Response: %s\r\nActionID: %s\r\n" % (lines[0], aid) +
                                  "".join(l + "\r\n" for l in lines[1:]) + "\r\n").encode())
                if not self.answer_login and name in ("challenge", "login"):
                    continue  # a slow peer: the client must give up after action_timeout
                if name == "challenge":
                    reply("Success", "Challenge: " + challenge)
                elif name == "login":
                    if action.get("authtype", "").lower() == "md5":
                        ok = action.get("key") == hashlib.md5((challenge + self.secret).encode()).hexdigest()
                    else:
                        ok = action.get("secret") == self.secret
                    ok = ok and action.get("username") == self.username
                    if not ok:
                        reply("Error", "Message: Authentication failed")
                        conn.close()
                        return
                    logged_in = True
                    self.logins_ok += 1
                    reply("Success", "Message: Authentication accepted")
                    extra = self.after_login.get(number, b"") if isinstance(self.after_login, dict) else self.after_login
                    if extra:
                        conn.sendall(extra)
                elif not logged_in:
                    reply("Error", "Message: Permission denied")
                elif name == "filter":
                    reply("Success", "Message: Filter Added Successfully")
                elif name == "ping":
                    reply("Success", "Ping: Pong", "Timestamp: %.6f" % time.time())
                elif name == "originate":
                    if self.originate_result is None:
                        reply("Error", "Message: Originate failed")
                    else:
                        reply("Success", "Message: Originate successfully queued")
                        ok = self.originate_result == "Success"
                        conn.sendall(("Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: %s\r\n"
                                      "Response: %s\r\nChannel: %s\r\nContext: %s\r\nExten: %s\r\nReason: %s\r\n\r\n"
                                      % (aid, self.originate_result, action.get("channel"), action.get("context"),
                                         action.get("exten"), "4" if ok else "3")).encode())
                elif name == "coreshowchannels":
                    reply("Success", "EventList: start", "Message: Channels will follow")
                    for block in self.core_channels:
                        conn.sendall(block.replace(b"Event: CoreShowChannel\r\n",
                                                   b"Event: CoreShowChannel\r\nActionID: " + aid.encode() + b"\r\n"))
                    conn.sendall(("Event: CoreShowChannelsComplete\r\nActionID: %s\r\nEventList: Complete\r\n"
                                  "ListItems: %d\r\n\r\n" % (aid, len(self.core_channels))).encode())
                    threading.Thread(target=self._replay, args=(conn, number), daemon=True).start()
                else:
                    reply("Error", "Message: Invalid/unknown command")
        except OSError:
            return

    def _replay(self, conn, number):
        try:
            for i, event in enumerate(self.events):
                if self.drop_after is not None and number == 1 and i == self.drop_after:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return
                conn.sendall(event)
                time.sleep(self.event_delay)
            self.replayed.set()
        except OSError:
            return
