#!/usr/bin/env python3
"""Independent Noise peer for Parley's transport, built on the PyPI `noiseprotocol` package.

Connects to HOST:PORT, runs Noise_XX_25519_ChaChaPoly_BLAKE2b as the initiator with the prologue
b"parley/1" over u16 big-endian length-prefixed Noise messages, prints the server's static public
key (64 lowercase hex characters), sends one application frame given as hex (u32 big-endian length
+ bytes, encrypted as Noise transport messages of at most 65535 bytes), prints the hex of the first
application frame received back, and exits 0. Zero-length frames are keep-alive pings and are
skipped. Any failure prints a message on stderr and exits non-zero. Every step is bounded by a
10-second deadline.

Usage:  python3 Tools/noise-peer/noise_peer.py HOST PORT FRAME_HEX [--expect-server-key HEX]
Output: line 1 "server_key <hex>", line 2 "frame <hex>".
"""

import argparse
import os
import socket
import struct
import sys
import time

try:
    from noise.connection import Keypair, NoiseConnection
except ImportError:  # pragma: no cover - reported to the caller
    print("noise_peer: the 'noiseprotocol' module is missing (pip install noiseprotocol)", file=sys.stderr)
    sys.exit(3)

PROTOCOL = b"Noise_XX_25519_ChaChaPoly_BLAKE2b"
PROLOGUE = b"parley/1"
MAX_NOISE_MESSAGE = 65535
MAX_CHUNK = MAX_NOISE_MESSAGE - 16
MAX_FRAME = 16 << 20
TIMEOUT_SECONDS = 10.0


class PeerError(Exception):
    pass


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def remaining(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise PeerError(f"timed out after {TIMEOUT_SECONDS:.0f} s")
        return left


def recv_exact(sock, count, deadline):
    data = bytearray()
    while len(data) < count:
        sock.settimeout(deadline.remaining())
        try:
            chunk = sock.recv(count - len(data))
        except socket.timeout:
            raise PeerError(f"timed out after {TIMEOUT_SECONDS:.0f} s")
        if not chunk:
            raise PeerError("server closed the connection")
        data.extend(chunk)
    return bytes(data)


def read_message(sock, deadline):
    (length,) = struct.unpack(">H", recv_exact(sock, 2, deadline))
    return recv_exact(sock, length, deadline)


def write_message(sock, message, deadline):
    if len(message) > MAX_NOISE_MESSAGE:
        raise PeerError(f"noise message of {len(message)} bytes exceeds {MAX_NOISE_MESSAGE}")
    sock.settimeout(deadline.remaining())
    sock.sendall(struct.pack(">H", len(message)) + message)


def handshake(sock, deadline):
    noise = NoiseConnection.from_name(PROTOCOL)
    noise.set_as_initiator()
    noise.set_prologue(PROLOGUE)
    noise.set_keypair_from_private_bytes(Keypair.STATIC, os.urandom(32))
    noise.start_handshake()
    write_message(sock, noise.write_message(b""), deadline)      # -> e
    payload = noise.read_message(read_message(sock, deadline))   # <- e, ee, s, es
    if payload:
        raise PeerError("server sent a non-empty handshake payload")
    # noiseprotocol deletes handshake_state once the handshake finishes (after our next write),
    # so the server's static key must be read now.
    server_key = bytes(noise.noise_protocol.handshake_state.rs.public_bytes)
    write_message(sock, noise.write_message(b""), deadline)      # -> s, se
    if not noise.handshake_finished:
        raise PeerError("handshake did not finish after three messages")
    return noise, server_key


def send_frame(sock, noise, frame, deadline):
    stream = struct.pack(">I", len(frame)) + frame
    for offset in range(0, len(stream), MAX_CHUNK):
        write_message(sock, noise.encrypt(stream[offset:offset + MAX_CHUNK]), deadline)


def receive_frame(sock, noise, deadline):
    """Returns the first non-empty frame, reassembling it across transport messages."""
    buffer = bytearray()
    while True:
        while len(buffer) >= 4:
            (length,) = struct.unpack(">I", bytes(buffer[:4]))
            if length > MAX_FRAME:
                raise PeerError(f"server declared a frame of {length} bytes (limit {MAX_FRAME})")
            if len(buffer) < 4 + length:
                break
            frame = bytes(buffer[4:4 + length])
            del buffer[:4 + length]
            if length:  # zero-length frames are keep-alive pings
                return frame
        buffer.extend(noise.decrypt(read_message(sock, deadline)))


def main():
    parser = argparse.ArgumentParser(description="Independent Noise XX peer for Parley's transport.")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("frame_hex", help="the application frame to send, as hex (non-empty)")
    parser.add_argument("--expect-server-key", help="abort unless the server proves this static key (hex)")
    args = parser.parse_args()
    try:
        frame = bytes.fromhex(args.frame_hex)
    except ValueError:
        print("noise_peer: FRAME_HEX is not valid hex", file=sys.stderr)
        return 2
    if not frame:
        print("noise_peer: the frame must not be empty (empty frames are pings)", file=sys.stderr)
        return 2

    deadline = Deadline(TIMEOUT_SECONDS)
    try:
        with socket.create_connection((args.host, args.port), timeout=deadline.remaining()) as sock:
            noise, server_key = handshake(sock, deadline)
            print(f"server_key {server_key.hex()}", flush=True)
            if args.expect_server_key and server_key.hex() != args.expect_server_key.lower():
                raise PeerError(f"server key mismatch: expected {args.expect_server_key.lower()}, received {server_key.hex()}")
            send_frame(sock, noise, frame, deadline)
            reply = receive_frame(sock, noise, deadline)
            print(f"frame {reply.hex()}", flush=True)
            return 0
    except PeerError as error:
        print(f"noise_peer: {error}", file=sys.stderr)
    except OSError as error:
        print(f"noise_peer: network error: {error}", file=sys.stderr)
    except Exception as error:  # noiseprotocol raises its own exception types on bad messages
        print(f"noise_peer: protocol error: {type(error).__name__}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
