#!/usr/bin/env python3
"""A hostile fake Parley server for tests, built on the PyPI `noiseprotocol` package.

Listens on 127.0.0.1 (an ephemeral port, printed as "port N" on stdout), runs
Noise_XX_25519_ChaChaPoly_BLAKE2b as the responder with the prologue b"parley/1" for every
connection, and answers the client's requests the way a malicious server would: a `register`
request is answered `ok` (so a local account exists for the later commands), a `ping` with `pong`,
and every other request with an `error` response whose code is CODE and whose message is MESSAGE
(terminal escape sequences, control characters, Unicode line breaks and a forged status line).
With --register-error, `register` gets that error too.

Usage:  python3 Tools/noise-peer/hostile_server.py CODE MESSAGE_HEX [--register-error]
Runs until killed.
"""

import argparse
import os
import socket
import struct
import sys
import threading

try:
    from noise.connection import Keypair, NoiseConnection
except ImportError:  # pragma: no cover - reported to the caller
    print("hostile_server: the 'noiseprotocol' module is missing (pip install noiseprotocol)", file=sys.stderr)
    sys.exit(3)

PROTOCOL = b"Noise_XX_25519_ChaChaPoly_BLAKE2b"
PROLOGUE = b"parley/1"
MAX_CHUNK = 65535 - 16
STATIC_KEY = os.urandom(32)


def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data.extend(chunk)
    return bytes(data)


def read_message(sock):
    (length,) = struct.unpack(">H", recv_exact(sock, 2))
    return recv_exact(sock, length)


def write_message(sock, message):
    sock.sendall(struct.pack(">H", len(message)) + message)


def send_frame(sock, noise, frame):
    stream = struct.pack(">I", len(frame)) + frame
    for offset in range(0, len(stream), MAX_CHUNK):
        write_message(sock, noise.encrypt(stream[offset:offset + MAX_CHUNK]))


def frames(sock, noise):
    buffer = bytearray()
    while True:
        while len(buffer) >= 4:
            (length,) = struct.unpack(">I", bytes(buffer[:4]))
            if len(buffer) < 4 + length:
                break
            frame = bytes(buffer[4:4 + length])
            del buffer[:4 + length]
            if length:
                yield frame
        buffer.extend(noise.decrypt(read_message(sock)))


def response(request_id, tag, fields=b""):
    return bytes([1, 2]) + struct.pack(">I", request_id) + bytes([tag]) + fields


def serve(sock, code, message, register_error):
    with sock:
        noise = NoiseConnection.from_name(PROTOCOL)
        noise.set_as_responder()
        noise.set_prologue(PROLOGUE)
        noise.set_keypair_from_private_bytes(Keypair.STATIC, STATIC_KEY)
        noise.start_handshake()
        noise.read_message(read_message(sock))         # -> e
        write_message(sock, noise.write_message(b""))  # <- e, ee, s, es
        noise.read_message(read_message(sock))         # -> s, se
        for frame in frames(sock, noise):
            if len(frame) < 7 or frame[1] != 1:
                continue
            (request_id,) = struct.unpack(">I", frame[2:6])
            tag = frame[6]
            if tag == 13 and not register_error:  # register (WIRE.md request 13)
                reply = response(request_id, 1)
            elif tag == 12:
                reply = response(request_id, 6)
            else:
                reply = response(request_id, 7, struct.pack(">H", code) + struct.pack(">I", len(message)) + message)
            send_frame(sock, noise, reply)


def serve_quietly(sock, code, message, register_error):
    try:
        serve(sock, code, message, register_error)
    except Exception:  # the client hanging up mid-conversation is expected
        pass


def main():
    parser = argparse.ArgumentParser(description="Hostile fake Parley server for tests.")
    parser.add_argument("code", type=int, help="the error code to answer requests with")
    parser.add_argument("message_hex", help="the error message, as hex of its UTF-8 bytes")
    parser.add_argument("--register-error", action="store_true", help="answer register with the error too")
    args = parser.parse_args()
    message = bytes.fromhex(args.message_hex)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_quietly, args=(connection, args.code, message, args.register_error), daemon=True).start()


if __name__ == "__main__":
    main()
