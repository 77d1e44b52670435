#!/usr/bin/env python3
"""A Parley bot: answers every text with its reverse. Python standard library only.

    parley --user botname --password-stdin daemon < password-file &
    python3 examples/reverse_bot.py [SOCKET] [CURSOR_FILE]

It keeps the cursor of the last event it handled in CURSOR_FILE and subscribes from it, so a
restart of the bot or of the daemon loses nothing (an answer may be sent twice if the bot stops
between answering and saving the cursor: at least once, never lost).
"""
import json, os, socket, sys, time

SOCKET = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "parley", os.environ.get("PARLEY_BOT", "bot") + ".sock")
CURSOR_FILE = sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.parley-reverse-bot.cursor")


def serve(cursor):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(SOCKET)
        lines = s.makefile("rb")
        ids = iter(range(1, 1 << 62))

        def call(method, **params):
            s.sendall((json.dumps({"jsonrpc": "2.0", "id": next(ids), "method": method, "params": params}) + "\n").encode())

        call("subscribe", after=cursor)
        for line in lines:
            note = json.loads(line)
            if note.get("method") == "fellBehind":  # too slow: resume from the last cursor handled
                call("subscribe", after=cursor)
            if "error" in note and note["id"] == 1:  # subscribe refused (the daemon is still reconnecting)
                raise OSError(note["error"]["message"])
            if note.get("method") != "event":
                continue  # answers to our own calls
            event = note["params"]
            message = event.get("message", {})
            if message.get("type") == "text" and "status" not in message:  # a text received (sent ones carry a status)
                if event["type"] == "request":
                    call("accept", peer=message["from"])
                call("send", to=message["from"], text=message["text"][::-1])
            cursor = event["cursor"]
            with open(CURSOR_FILE + ".tmp", "w") as f:
                f.write(str(cursor))
            os.replace(CURSOR_FILE + ".tmp", CURSOR_FILE)


def main():
    while True:
        cursor = int(open(CURSOR_FILE).read()) if os.path.exists(CURSOR_FILE) else 0
        try:
            serve(cursor)
        except (OSError, ValueError) as error:  # the daemon restarted: try again shortly
            print("reverse-bot:", error, file=sys.stderr)
        time.sleep(1)


if __name__ == "__main__":
    main()
