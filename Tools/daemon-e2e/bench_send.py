#!/usr/bin/env python3
"""`parley send` through a running daemon against the direct path, in the same run.

    python3 Tools/daemon-e2e/bench_send.py --bin .build/debug [--runs 20]

Starts a real parley-server on loopback, registers two accounts, times RUNS sends with
`--no-daemon` (unlock the local store with Argon2id, connect, Noise, log in with Argon2id on the
server, send, log out), then RUNS sends while `parley daemon` runs for the sender, and prints
the medians. Recorded in BENCHMARKS.md.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_e2e  # noqa: E402


def timed(world, args, stdin):
    began = time.perf_counter()
    world.parley("alice", args, stdin=stdin)
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    world = daemon_e2e.World(os.path.abspath(args.bin))
    try:
        world.register("alice")
        world.register("bob")
        password = world.password("alice") + "\n"
        timed(world, ["--no-daemon", "--password-stdin", "send", "bob", "warm-up"], password)
        direct = [timed(world, ["--no-daemon", "--password-stdin", "send", "bob", "direct %d" % i], password) for i in range(args.runs)]
        world.start_daemon("alice").close()
        timed(world, ["send", "bob", "warm-up"], "")
        daemon = [timed(world, ["send", "bob", "daemon %d" % i], "") for i in range(args.runs)]
    finally:
        world.close()
    d, m = statistics.median(direct), statistics.median(daemon)
    print("direct  median %.1f ms (min %.1f, max %.1f)" % (d * 1000, min(direct) * 1000, max(direct) * 1000))
    print("daemon  median %.1f ms (min %.1f, max %.1f)" % (m * 1000, min(daemon) * 1000, max(daemon) * 1000))
    print("speed-up %.1fx (%d runs each)" % (d / m, args.runs))


if __name__ == "__main__":
    main()
