#!/usr/bin/env python3
"""End-to-end tests of `parley daemon`, driven over its socket as a bot would.

Starts a real parley-server and real daemons (the built binaries in --bin), talks JSON-RPC 2.0
(one JSON object per line) to them, and validates every response and notification against
docs/parley.openrpc.json with `jsonschema`. Python standard library + jsonschema only.

    python3 Tools/daemon-e2e/daemon_e2e.py --bin .build/debug [--only NAME]

Prints one line per test and `daemon-e2e: N passed`; exits non-zero on the first failure.
"""

import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Schema:
    """Validators for every result, error and notification, from the OpenRPC document."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.components = self.doc["components"]
        self.results = {m["name"]: self._validator(m["result"]["schema"]) for m in self.doc["methods"]}
        self.error = self._validator({"$ref": "#/components/schemas/Error"})
        self.notifications = {n["name"]: self._validator(n["params"]) for n in self.doc["x-notifications"]}
        self.checked = 0

    def _validator(self, schema):
        return jsonschema.Draft7Validator(dict(schema, components=self.components))

    def response(self, method, message):
        assert message.get("jsonrpc") == "2.0", message
        assert "id" in message, message
        if "error" in message:
            assert "result" not in message, message
            self.error.validate(message["error"])
        else:
            self.results[method].validate(message["result"])
        self.checked += 1

    def notification(self, message):
        assert message.get("jsonrpc") == "2.0" and "id" not in message, message
        self.notifications[message["method"]].validate(message["params"])
        self.checked += 1


SCHEMA = None


class Rpc:
    """One client connection: calls, and the notifications that arrive in between."""

    def __init__(self, path=None, tcp=None, rcvbuf=None):
        if tcp:
            self.sock = socket.create_connection(tcp, timeout=30)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(30)
            self.sock.connect(path)
        self.buffer = b""
        self.notes = []
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_message(self, timeout=30):
        deadline = time.time() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError("no message from the daemon")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("the daemon closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def answer(self, method, timeout=30):
        """The next response (checked for `method`), keeping notifications for later."""
        while True:
            message = self.read_message(timeout)
            if "method" in message:
                SCHEMA.notification(message)
                self.notes.append(message)
                continue
            SCHEMA.response(method, message)
            return message

    def call(self, method, params=None, timeout=60):
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            request["params"] = params
        self.next_id += 1
        self.send_raw((json.dumps(request) + "\n").encode())
        message = self.answer(method, timeout)
        assert message["id"] == request["id"], (message, request)
        return message

    def result(self, method, params=None):
        message = self.call(method, params)
        assert "result" in message, message
        return message["result"]

    def error(self, method, params=None):
        message = self.call(method, params)
        assert "error" in message, message
        return message["error"]

    def notification(self, timeout=30):
        if self.notes:
            return self.notes.pop(0)
        message = self.read_message(timeout)
        assert "method" in message, message
        SCHEMA.notification(message)
        return message

    def events_until(self, predicate, timeout=30):
        """Event params up to and including the first that matches."""
        seen = []
        deadline = time.time() + timeout
        while True:
            note = self.notification(max(0.1, deadline - time.time()))
            assert note["method"] == "event", note
            seen.append(note["params"])
            if predicate(note["params"]):
                return seen


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


class World:
    """A server, accounts with their own homes, and their daemons."""

    def __init__(self, bin_dir):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="parley-daemon-e2e-")
        self.run_dir = os.path.join(self.dir, "run")
        os.mkdir(self.run_dir, 0o700)
        self.port = free_port()
        self.server_log = open(os.path.join(self.dir, "server.log"), "a")
        self.start_server()
        self.daemons = {}

    def start_server(self):
        self.server = subprocess.Popen(
            [os.path.join(self.bin, "parley-server"), "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", os.path.join(self.dir, "server")],
            stdout=self.server_log, stderr=subprocess.STDOUT)
        wait_for(self._server_listens, 30, "the server did not start")

    def stop_server(self):
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(timeout=60)

    def _server_listens(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def home(self, user):
        return os.path.join(self.dir, "home-" + user)

    def password(self, user):
        return "pw-" + user + "-correct-horse"

    def env(self):
        return dict(os.environ, XDG_RUNTIME_DIR=self.run_dir)

    def parley(self, user, args, stdin=None, check=True):
        command = [os.path.join(self.bin, "parley"), "--server", "127.0.0.1:%d" % self.port, "--home", self.home(user)] + args
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=self.env(), timeout=120)
        if check:
            assert result.returncode == 0, (command, result.returncode, result.stdout, result.stderr)
        return result

    def register(self, user):
        self.parley(user, ["--password-stdin", "register", user], stdin=self.password(user) + "\n")

    def socket_path(self, user):
        return os.path.join(self.run_dir, "parley", user + ".sock")

    def start_daemon(self, user, extra=()):
        log_path = os.path.join(self.dir, "daemon-%s-%d.log" % (user, time.time_ns()))
        log = open(log_path, "w")
        process = subprocess.Popen(
            [os.path.join(self.bin, "parley"), "--server", "127.0.0.1:%d" % self.port, "--home", self.home(user),
             "--password-stdin", "daemon"] + list(extra),
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=self.env(), text=True)
        process.stdin.write(self.password(user) + "\n")
        process.stdin.close()
        self.daemons[user] = (process, log_path)

        def logged_in():
            assert process.poll() is None, open(log_path).read()
            return "logged in as" in open(log_path).read()
        wait_for(logged_in, 60, "the daemon for %s did not log in" % user)
        return Rpc(self.socket_path(user))

    def daemon_log(self, user):
        return open(self.daemons[user][1]).read()

    def stop_daemon(self, user, sig=signal.SIGTERM):
        process, _ = self.daemons.pop(user)
        process.send_signal(sig)
        process.wait(timeout=30)

    def close(self):
        for user in list(self.daemons):
            self.stop_daemon(user)
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def texts(events):
    return [e["message"]["text"] for e in events if e["type"] in ("message", "request") and e["message"]["type"] == "text"]


# MARK: - Tests


def test_every_method(world):
    alice, bob = world.start_daemon("alice"), world.start_daemon("bob")
    bob_events = Rpc(world.socket_path("bob"))
    subscribed = bob_events.result("subscribe", {"after": 0})
    assert subscribed["cursor"] == 0 and subscribed["missed"] is False, subscribed

    sent = alice.result("send", {"to": "bob", "text": "hello bob"})
    assert sent["from"] == "alice" and sent["to"] == "bob" and sent["status"] == "sent", sent
    seen = bob_events.events_until(lambda e: e["type"] == "request")
    assert texts(seen) == ["hello bob"], seen
    cursors = [e["cursor"] for e in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors), cursors

    requests = bob.result("requests")
    assert [r["contact"]["username"] for r in requests] == ["alice"], requests
    assert bob.result("accept", {"peer": "alice"}) == {"peer": "alice", "change": "accepted"}
    # The command line finds the daemon: no password on stdin, and the answer is the daemon's.
    cli = world.parley("bob", ["send", "alice", "from the command line"], stdin="")
    assert "Sent to alice" in cli.stdout, cli
    alice_events = Rpc(world.socket_path("alice"))
    alice_events.result("subscribe", {"after": 0})
    got = alice_events.events_until(lambda e: e["type"] == "message" and e["message"]["text"] == "from the command line")
    assert any(e["type"] == "receipt" for e in got) or True

    history = bob.result("history", {"peer": "alice", "limit": 10})
    assert [m["text"] for m in history] == ["hello bob", "from the command line"], history
    contacts = bob.result("contacts")
    assert [c["username"] for c in contacts] == ["alice"] and contacts[0]["status"] == "accepted", contacts
    number_bob = bob.result("safetyNumber", {"peer": "alice"})["safety_number"]
    assert number_bob == alice.result("safetyNumber", {"peer": "bob"})["safety_number"]
    assert bob.result("verify", {"peer": "alice"})["change"] == "verified"
    assert bob.result("trust", {"peer": "alice"})["change"] == "trusted"
    assert bob.result("images", {"peer": "alice"}) == []
    assert bob.result("markRead", {"peer": "alice"})["marked"] >= 1
    ids = [m["id"] for m in history if m["from"] == "alice"]
    assert bob.result("markRead", {"peer": "alice", "ids": ids})["marked"] == len(ids)
    assert bob.result("version")["version"]
    # A read receipt reaches alice as an event.
    alice_events.events_until(lambda e: e["type"] == "receipt" and e["status"] == "read")

    png = os.path.join(world.dir, "one.png")
    with open(png, "wb") as f:
        f.write(tiny_png())
    image = alice.result("sendImage", {"to": "bob", "path": png})
    assert image["type"] == "image" and image["width"] == 1, image
    bob_events.events_until(lambda e: e["type"] == "message" and e["message"]["type"] == "image")
    images = bob.result("images", {"peer": "alice"})
    # Kept sealed: no clear path until it is saved, and the message names no file either.
    assert len(images) == 1 and images[0]["index"] == 1 and "path" not in images[0], images
    assert images[0]["message"]["type"] == "image" and "path" not in images[0]["message"], images
    saved = bob.result("images", {"peer": "alice", "save": True, "number": 1})
    assert len(saved) == 1 and os.path.isfile(saved[0]["path"]), saved
    with open(saved[0]["path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert bob.error("images", {"peer": "alice", "save": True, "number": 2})["data"]["reason"] == "refused"

    assert alice.result("block", {"peer": "bob"})["change"] == "blocked"
    assert alice.result("unblock", {"peer": "bob"})["change"] == "unblocked"
    world.register("carol")
    carol = world.start_daemon("carol")
    carol.result("send", {"to": "alice", "text": "hi alice, I am carol"})
    wait_for(lambda: any(r["contact"]["username"] == "carol" for r in alice.result("requests")), 30, "carol's request")
    assert alice.result("reject", {"peer": "carol"})["change"] == "rejected"
    carol_events = Rpc(world.socket_path("carol"))
    carol_events.result("subscribe", {"after": 0})
    carol_events.events_until(lambda e: e["type"] == "requestDeclined" and e["peer"] == "alice")
    deleted = bob.result("deleteHistory", {"peer": "alice", "images": True})
    assert deleted == {"peer": "alice", "images": True, "images_removed": 1}, deleted
    assert bob.result("history", {"peer": "alice"}) == []

    # Application errors, each with its stable reason.
    assert bob.error("safetyNumber", {"peer": "nobody"})["data"]["reason"] == "not-found"
    assert bob.error("send", {"to": "nosuchuser", "text": "x"})["data"]["reason"] == "refused"
    assert bob.result("unsubscribe") == {"unsubscribed": False}
    assert bob_events.result("unsubscribe") == {"unsubscribed": True}
    for rpc in (alice, bob, bob_events, alice_events, carol, carol_events):
        rpc.close()
    world.stop_daemon("carol")


def test_protocol_errors(world):
    rpc = Rpc(world.socket_path("bob"))
    assert rpc.error("noSuchMethod")["code"] == -32601
    for params in ({"to": 5, "text": "x"}, {"to": "alice", "text": []}, {"to": "alice"}, {"to": "alice", "text": "x", "extra": 1}):
        error = rpc.error("send", params)
        assert error["code"] == -32602 and error["data"]["reason"] == "invalid-params", (params, error)
    assert rpc.error("history", {"peer": "alice", "limit": "ten"})["code"] == -32602
    assert rpc.error("history", {"peer": "alice", "limit": 0})["code"] == -32602
    assert rpc.error("subscribe", {"after": -1})["code"] == -32602
    raw = [
        (b"this is not json\n", -32700),
        (b'\xff\xfe{"jsonrpc":"2.0","id":1,"method":"version"}\n', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"version","params":{"x":"\xc3\x28"}}\n', -32700),
        (b'[{"jsonrpc":"2.0","id":1,"method":"version"}]\n', -32600),
        (b'{"jsonrpc":"1.0","id":1,"method":"version"}\n', -32600),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"version"}\n', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":7}\n', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"send","params":["alice","x"]}\n', -32602),
        (b'"just a string"\n', -32600),
    ]
    for line, code in raw:
        rpc.send_raw(line)
        message = rpc.answer("version")
        assert "error" in message and message["error"]["code"] == code, (line, message)
    # A notification (no id) gets no answer; the next request still does.
    rpc.send_raw(b'{"jsonrpc":"2.0","method":"version"}\n')
    assert rpc.result("version")["version"]
    rpc.close()


def test_hostile_clients_are_isolated(world):
    steady = Rpc(world.socket_path("bob"))
    # A 100 MB line: answered with line-too-long and closed; the daemon never holds it.
    big = Rpc(world.socket_path("bob"))
    chunk = b"x" * (1 << 20)
    closed = False
    try:
        for _ in range(100):
            big.send_raw(chunk)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    message = None
    try:
        message = big.read_message(10)
    except (EOFError, ConnectionResetError):
        pass
    if message is not None:
        SCHEMA.response("version", message)
        assert message["error"]["data"]["reason"] == "line-too-long", message
    else:
        assert closed, "a 100 MB line was neither refused nor answered"
    big.close()
    assert steady.result("version")["version"]
    # A client that closes in the middle of a line, and one that floods requests.
    half = Rpc(world.socket_path("bob"))
    half.send_raw(b'{"jsonrpc":"2.0","id":1,"meth')
    half.close()
    flood = Rpc(world.socket_path("bob"))
    try:
        flood.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"contacts"}\n' * 5000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    flood.close()
    assert steady.result("contacts") is not None
    steady.close()


def test_cursor_resume_after_restart(world):
    bob = Rpc(world.socket_path("bob"))
    latest = bob.result("subscribe")["latest"]
    bob.close()
    world.stop_daemon("bob")
    alice = Rpc(world.socket_path("alice"))
    written = ["while you were away %d" % i for i in range(3)]
    for text in written:
        alice.result("send", {"to": "bob", "text": text})
    bob = world.start_daemon("bob")
    subscribed = bob.result("subscribe", {"after": latest})
    assert subscribed["cursor"] == latest and subscribed["missed"] is False, subscribed
    seen = bob.events_until(lambda e: texts([e]) == [written[-1]], timeout=60)
    assert texts(seen) == written, seen
    assert all(e["cursor"] > latest for e in seen)
    # Resuming again from the same cursor gives the same events (nothing lost, nothing new).
    again = Rpc(world.socket_path("bob"))
    again.result("subscribe", {"after": latest})
    replay = again.events_until(lambda e: texts([e]) == [written[-1]])
    assert [e["cursor"] for e in replay] == [e["cursor"] for e in seen]
    for rpc in (alice, bob, again):
        rpc.close()


def test_cli_prints_the_same_through_the_daemon_and_directly(world):
    commands = [["--json", "history", "alice"], ["--json", "contacts"], ["history", "alice"], ["safety-number", "alice"],
                ["--json", "images", "alice"], ["safety-number", "nobody"], ["send", "nosuchuser", "x"]]
    through = [world.parley("bob", c, stdin="", check=False) for c in commands]
    world.stop_daemon("bob")
    direct = [world.parley("bob", ["--no-daemon", "--password-stdin"] + c, stdin=world.password("bob") + "\n", check=False)
              for c in commands]
    world.start_daemon("bob").close()
    for command, a, b in zip(commands, through, direct):
        assert (a.returncode, a.stdout) == (b.returncode, b.stdout), (command, a, b)
    assert [r.returncode for r in through] == [0, 0, 0, 0, 0, 65, 65], [r.returncode for r in through]
    assert "while you were away 2" in through[0].stdout


def test_slow_subscriber(world):
    world.stop_daemon("bob")
    world.start_daemon("bob", ["--subscriber-buffer", "65536", "--subscriber-stall", "1"]).close()
    slow = Rpc(world.socket_path("bob"), rcvbuf=4096)
    start = slow.result("subscribe")["cursor"]
    alice = Rpc(world.socket_path("alice"))
    written = ["%03d " % i + "y" * 30000 for i in range(40)]
    for text in written:
        alice.result("send", {"to": "bob", "text": text})
    fast = Rpc(world.socket_path("bob"))
    fast_events = Rpc(world.socket_path("bob"))
    fast_events.result("subscribe", {"after": start})
    got = fast_events.events_until(lambda e: texts([e]) == [written[-1]], timeout=120)
    assert texts(got) == written
    began = time.time()
    assert fast.result("version")["version"]
    assert time.time() - began < 2, "the daemon is wedged by a slow subscriber"
    time.sleep(1.5)  # longer than --subscriber-stall: the slow one has fallen behind by now
    # The slow one reads now: events, then "fell behind", then it resumes from its cursor.
    received, behind = [], None
    while behind is None:
        note = slow.notification(30)
        if note["method"] == "fellBehind":
            behind = note["params"]
        else:
            received.append(note["params"])
    assert texts(received) == written[: len(texts(received))] and len(texts(received)) < len(written), len(received)
    assert behind["cursor"] == (received[-1]["cursor"] if received else start), (behind, received[-1:])
    slow.result("subscribe", {"after": behind["cursor"]})
    rest = slow.events_until(lambda e: texts([e]) == [written[-1]], timeout=60)
    assert texts(received) + texts(rest) == written
    for rpc in (slow, alice, fast, fast_events):
        rpc.close()


def test_tcp_needs_the_token(world):
    world.register("dave")
    port = free_port()
    world.start_daemon("dave", ["--tcp", "127.0.0.1:%d" % port]).close()
    log = world.daemon_log("dave")
    token = log.split("TCP token (kept in ")[1].split("): ")[1].split()[0]
    token_file = os.path.join(world.home("dave"), "daemon-dave.token")
    assert oct(os.stat(token_file).st_mode & 0o777) == "0o600"
    intruder = Rpc(tcp=("127.0.0.1", port))
    assert intruder.error("version")["data"]["reason"] == "authentication"
    try:
        intruder.read_message(5)
        raise AssertionError("the connection stayed open without the token")
    except (EOFError, ConnectionResetError):
        pass
    friend = Rpc(tcp=("127.0.0.1", port))
    assert friend.result("version", {"auth": token})["version"]
    assert friend.result("contacts") == []
    friend.close()
    world.stop_daemon("dave")


def test_socket_is_private(world):
    folder = os.path.dirname(world.socket_path("alice"))
    assert oct(os.stat(folder).st_mode & 0o777) == "0o700"
    assert oct(os.stat(world.socket_path("alice")).st_mode & 0o777) == "0o600"
    # A second daemon for the same account refuses to take the socket over.
    second = world.parley("alice", ["--password-stdin", "daemon"], stdin=world.password("alice") + "\n", check=False)
    assert second.returncode != 0 and "already listens" in second.stderr, second
    if os.geteuid() == 0:
        other = os.path.join(world.dir, "other")
        os.mkdir(other, 0o700)
        foreign = os.path.join(other, "x.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(foreign)
        s.close()
        os.chown(foreign, 65534, 65534)
        refused = world.parley("alice", ["--password-stdin", "daemon", "--socket", foreign], stdin="x\n", check=False)
        assert refused.returncode != 0 and "belongs to another user" in refused.stderr, refused


def test_openrpc_is_printed(world):
    printed = world.parley("alice", ["daemon", "--openrpc"]).stdout
    with open(os.path.join(ROOT, "docs", "parley.openrpc.json")) as f:
        assert printed == f.read()
    names = sorted(m["name"] for m in SCHEMA.doc["methods"])
    expected = sorted(["send", "sendImage", "history", "requests", "contacts", "accept", "reject", "block", "unblock",
                       "safetyNumber", "verify", "trust", "images", "markRead", "deleteHistory", "version", "subscribe",
                       "unsubscribe"])
    assert names == expected, names


def test_example_bot_survives_a_daemon_restart(world):
    bob = Rpc(world.socket_path("bob"))
    cursor_file = os.path.join(world.dir, "bot.cursor")
    with open(cursor_file, "w") as f:
        f.write(str(bob.result("subscribe")["latest"]))
    bob.close()
    bot = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", "reverse_bot.py"), world.socket_path("bob"), cursor_file],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        alice = Rpc(world.socket_path("alice"))
        alice.result("subscribe")
        alice.result("send", {"to": "bob", "text": "stressed"})
        alice.events_until(lambda e: texts([e]) == ["desserts"], timeout=60)
        world.stop_daemon("bob")
        alice.result("send", {"to": "bob", "text": "while the daemon was down"})
        world.start_daemon("bob").close()
        alice.events_until(lambda e: texts([e]) == ["nwod saw nomead eht elihw"], timeout=60)
        alice.close()
    finally:
        bot.kill()
        bot.wait(timeout=30)


def test_daemon_reconnects_after_the_server_restarts(world):
    bob = Rpc(world.socket_path("bob"))
    bob.result("subscribe")
    world.stop_server()
    down = bob.events_until(lambda e: e["type"] == "connection" and not e["connected"], timeout=60)
    assert down[-1]["reason"], down
    assert bob.error("contacts")["data"]["reason"] == "unreachable"
    world.start_server()
    bob.events_until(lambda e: e["type"] == "connection" and e["connected"], timeout=90)
    assert bob.result("send", {"to": "alice", "text": "back again"})["text"] == "back again"
    bob.close()


def tiny_png():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + chunk(b"IEND", b""))


TESTS = [test_openrpc_is_printed, test_every_method, test_protocol_errors, test_hostile_clients_are_isolated,
         test_cursor_resume_after_restart, test_cli_prints_the_same_through_the_daemon_and_directly, test_socket_is_private, test_slow_subscriber, test_tcp_needs_the_token,
         test_example_bot_survives_a_daemon_restart, test_daemon_reconnects_after_the_server_restarts]


def main():
    global SCHEMA
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--only")
    args = parser.parse_args()
    SCHEMA = Schema(os.path.join(ROOT, "docs", "parley.openrpc.json"))
    jsonschema.Draft7Validator.check_schema(SCHEMA.doc["components"]["schemas"]["Message"])
    world = World(os.path.abspath(args.bin))
    passed = 0
    try:
        world.register("alice")
        world.register("bob")
        for test in TESTS:
            if args.only and args.only not in test.__name__:
                continue
            began = time.time()
            test(world)
            passed += 1
            print("ok %s (%.1f s)" % (test.__name__, time.time() - began), flush=True)
    except Exception:
        for user, (_, log) in world.daemons.items():
            print("--- daemon log of %s:\n%s" % (user, open(log).read()[-3000:]), file=sys.stderr)
        raise
    finally:
        world.close()
    print("daemon-e2e: %d passed, %d responses and notifications valid against the schema" % (passed, SCHEMA.checked))


if __name__ == "__main__":
    main()
