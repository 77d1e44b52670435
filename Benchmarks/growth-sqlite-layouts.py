# The growth benchmark's enqueue, in SQLite alone (BENCHMARKS.md, "Growth: the mailbox clustered by
# recipient, tried"): schema 5's mailbox (rowid table + mailbox_by_recipient) against a WITHOUT ROWID
# table keyed by (recipient, id) with the payload inline (the schema 6 that was tried), each with
# schema 5's usage rows. 20,000 envelopes for 100 probes, with or without 100,000 for 1,000 offline
# recipients, then 32,000 envelopes round robin over the offline recipients in batches of BATCH
# (default 256), each with its two usage-row reads, its INSERT and its two usage upserts, committed
# in WAL with synchronous=FULL. Reports this process's CPU (utime + stime) per envelope, and the part
# of it spent in COMMIT (WAL writes, fsync, and the checkpoints every wal_autocheckpoint pages).
# Python's per-statement cost is in every figure alike.
# Run: python3 Benchmarks/growth-sqlite-layouts.py [DB_PATH]; environment: BATCH, AUTOCHECKPOINT
# (pages, default SQLite's 1000), LAYOUTS (default "5 6").
import os, resource, sqlite3, sys, time

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def run(layout, backlog, path, batch, autocheckpoint):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix): os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
    if layout == 5:
        db.executescript("""
        CREATE TABLE mailbox (id INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL, sender TEXT NOT NULL,
            accepted_at INTEGER NOT NULL, size INTEGER NOT NULL, payload BLOB NOT NULL) STRICT;
        CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id, size);""")
    else:
        db.executescript("""
        CREATE TABLE mailbox (recipient TEXT NOT NULL, id INTEGER NOT NULL, sender TEXT NOT NULL, accepted_at INTEGER NOT NULL,
            size INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (recipient, id)) STRICT, WITHOUT ROWID;""")
    db.executescript("""
    CREATE TABLE mailbox_usage (recipient TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL, bytes INTEGER NOT NULL) STRICT, WITHOUT ROWID;
    CREATE TABLE mailbox_sender_usage (recipient TEXT NOT NULL, sender TEXT NOT NULL, count INTEGER NOT NULL, bytes INTEGER NOT NULL,
        PRIMARY KEY (recipient, sender)) STRICT, WITHOUT ROWID;
    CREATE TABLE mailbox_total (slot INTEGER PRIMARY KEY, bytes INTEGER NOT NULL) STRICT;
    INSERT INTO mailbox_total VALUES (1, 0);""")
    payload = b"\x5a" * 300
    last_id = [0]
    def put(recipient, sender):
        last_id[0] += 1
        if layout == 5:
            db.execute("INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES (?, ?, 0, 300, ?)", (recipient, sender, payload))
        else:
            db.execute("INSERT INTO mailbox (recipient, id, sender, accepted_at, size, payload) VALUES (?, ?, ?, 0, 300, ?)",
                       (recipient, last_id[0], sender, payload))
    db.execute("BEGIN")
    for probe in range(100):
        for i in range(200): put("growthprobe%d" % probe, "growthsender%d" % (i % 16))
    for i in range(backlog): put("growthoffline%d" % (i % 1000), "growthsender%d" % ((i // 1000) % 16))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=FULL"); db.execute("PRAGMA wal_autocheckpoint=%d" % autocheckpoint)
    commit_cpu = 0.0
    start = cpu()
    count = 0
    for b in range(32000 // batch):
        db.execute("BEGIN IMMEDIATE")
        for k in range(batch):
            s = b * batch + k
            recipient = "growthoffline%d" % (s % 1000); sender = "growthsender%d" % (s % 16)
            db.execute("SELECT count, bytes FROM mailbox_usage WHERE recipient = ?", (recipient,)).fetchone()
            db.execute("SELECT count, bytes FROM mailbox_sender_usage WHERE recipient = ? AND sender = ?", (recipient, sender)).fetchone()
            put(recipient, sender); count += 1
            db.execute("INSERT INTO mailbox_usage VALUES (?, 1, 300) ON CONFLICT (recipient) DO UPDATE SET count = count + 1, bytes = bytes + 300", (recipient,))
            db.execute("INSERT INTO mailbox_sender_usage VALUES (?, ?, 1, 300) ON CONFLICT (recipient, sender) DO UPDATE SET count = count + 1, bytes = bytes + 300",
                       (recipient, sender))
        db.execute("UPDATE mailbox_total SET bytes = bytes + ? WHERE slot = 1", (300 * batch,))
        before = cpu(); db.execute("COMMIT"); commit_cpu += cpu() - before
    total = cpu() - start
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix): os.remove(path + suffix)
    return total / count * 1e6, commit_cpu / count * 1e6

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/growth-sqlite-layouts.db"
batch = int(os.environ.get("BATCH", "256"))
autocheckpoint = int(os.environ.get("AUTOCHECKPOINT", "1000"))
for layout in [int(x) for x in os.environ.get("LAYOUTS", "5 6").split()]:
    (empty, empty_commit), (queued, queued_commit) = (run(layout, backlog, path, batch, autocheckpoint) for backlog in (0, 100000))
    print("schema %d layout, batches of %d, wal_autocheckpoint %d: CPU per envelope empty %.1f us (commit %.1f), "
          "100,000 queued %.1f us (commit %.1f): ratio %.2f" % (layout, batch, autocheckpoint, empty, empty_commit, queued, queued_commit, queued / empty),
          flush=True)
