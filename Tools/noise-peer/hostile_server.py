#!/usr/bin/env python3
"""A hostile fake Parley server for tests, built on the PyPI `noiseprotocol` package.

Listens on 127.0.0.1 (an ephemeral port, printed as "port N" on stdout), runs
Noise_XX_25519_ChaChaPoly_BLAKE2b as the responder with the prologue b"parley/1" for every
connection, and answers the client's requests the way a malicious server would: a `register`
request is answered `ok` (so a local account exists for the later commands), a `ping` with `pong`,
and every other request with an `error` response whose code is CODE and whose message is MESSAGE
(terminal escape sequences, control characters, Unicode line breaks and a forged status line).
With --register-error, `register` gets that error too. The ML-KEM prekey requests that follow a
registration (WIRE.md 16, 17) are answered as a server with nothing stored would. With
--strip-kem, login and prekey upkeep succeed and `fetch bundle` is answered with a validly signed
classical bundle (tag 8, no ML-KEM prekey): a server removing the post-quantum part, which the
client must refuse.

Usage:  python3 Tools/noise-peer/hostile_server.py CODE MESSAGE_HEX [--register-error] [--strip-kem]
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
try:
    from nacl import bindings as nb
except ImportError:  # pragma: no cover - only --strip-kem needs it
    nb = None

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


def classical_bundle(username):
    """A tag-8 bundle for `username` (WIRE.md): a real identity key with its binding, a validly
    signed prekey, no one-time prekey, and no ML-KEM prekey."""
    identity_public, identity_secret = nb.crypto_sign_seed_keypair(os.urandom(32))
    name = username.encode("utf-8")
    binding = nb.crypto_sign(b"Parley identity v1" + struct.pack(">I", len(name)) + name, identity_secret)[:64]
    spk_public = nb.crypto_scalarmult_base(os.urandom(32))
    spk_signature = nb.crypto_sign(b"Parley SPK v1" + struct.pack(">I", 1) + spk_public, identity_secret)[:64]
    return (identity_public + b"\x01" + binding + struct.pack(">I", 1) + spk_public + spk_signature + b"\x00")


def serve(sock, code, message, register_error, strip_kem=False):
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
            elif tag == 17 and not register_error:  # ML-KEM prekey status: none held
                reply = response(request_id, 12, struct.pack(">I", 0) + b"\x00" + struct.pack(">I", 0))
            elif tag == 16 and not register_error:  # publish ML-KEM prekeys
                reply = response(request_id, 1)
            elif tag == 2 and strip_kem:  # login: cooperative but for the bundle
                reply = response(request_id, 2, struct.pack(">I", 0))
            elif tag == 15 and strip_kem:  # prekey status: none held
                reply = response(request_id, 10, struct.pack(">I", 0))
            elif tag == 5 and strip_kem:  # publish prekeys
                reply = response(request_id, 1)
            elif tag == 6 and strip_kem:  # fetch bundle: username (u32 length + UTF-8)
                (length,) = struct.unpack(">I", frame[7:11])
                reply = response(request_id, 8, classical_bundle(frame[11:11 + length].decode("utf-8")))
            elif tag == 12:
                reply = response(request_id, 6)
            else:
                reply = response(request_id, 7, struct.pack(">H", code) + struct.pack(">I", len(message)) + message)
            send_frame(sock, noise, reply)


def serve_quietly(sock, code, message, register_error, strip_kem):
    try:
        serve(sock, code, message, register_error, strip_kem)
    except Exception:  # the client hanging up mid-conversation is expected
        pass


def main():
    parser = argparse.ArgumentParser(description="Hostile fake Parley server for tests.")
    parser.add_argument("code", type=int, help="the error code to answer requests with")
    parser.add_argument("message_hex", help="the error message, as hex of its UTF-8 bytes")
    parser.add_argument("--register-error", action="store_true", help="answer register with the error too")
    parser.add_argument("--strip-kem", action="store_true", help="answer fetch bundle with a classical bundle (no ML-KEM prekey)")
    args = parser.parse_args()
    message = bytes.fromhex(args.message_hex)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_quietly, args=(connection, args.code, message, args.register_error, args.strip_kem), daemon=True).start()


if __name__ == "__main__":
    main()
