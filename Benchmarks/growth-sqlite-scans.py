# The growth benchmark's enqueue, in SQLite alone (BENCHMARKS.md, "Growth"): the mailbox schema, 20,000
# envelopes for 100 probes, with or without 100,000 for 1,000 offline recipients, then 32 batches of
# 1,000 envelopes round robin over the offline recipients, each envelope with the writer's two usage
# scans and its INSERT. Times per envelope (Python's per-statement cost is included in both).
# Run: python3 Benchmarks/growth-sqlite-scans.py
import sqlite3, time, os, random
def run(backlog, path):
    if os.path.exists(path): os.remove(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=OFF")
    db.executescript("""
    CREATE TABLE mailbox (id INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL, sender TEXT NOT NULL, accepted_at INTEGER NOT NULL, size INTEGER NOT NULL, payload BLOB NOT NULL);
    CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id, size);
    CREATE INDEX mailbox_by_sender ON mailbox (recipient, sender, size);
    CREATE TABLE mailbox_total (slot INTEGER PRIMARY KEY, bytes INTEGER NOT NULL);
    INSERT INTO mailbox_total VALUES (1, 0);
    CREATE TRIGGER t AFTER INSERT ON mailbox BEGIN UPDATE mailbox_total SET bytes = bytes + NEW.size WHERE slot = 1; END;
    """)
    p = b'\x5a'*300
    db.execute("BEGIN")
    for pr in range(100):
        for i in range(200): db.execute("INSERT INTO mailbox (recipient,sender,accepted_at,size,payload) VALUES (?,?,?,?,?)", ("gp%d"%pr, "gs%d"%(i%16), 0, 300, p))
    for i in range(backlog):
        db.execute("INSERT INTO mailbox (recipient,sender,accepted_at,size,payload) VALUES (?,?,?,?,?)", ("go%d"%(i%1000), "gs%d"%((i//1000)%16), 0, 300, p))
    db.execute("COMMIT")
    # 32 batches of 1000 envelopes, round robin over the 1000 offline recipients, as the enqueue phase
    scan = ins = 0.0
    n = 0
    for b in range(32):
        db.execute("BEGIN IMMEDIATE")
        for k in range(1000):
            s = b*1000 + k
            r = "go%d" % (s % 1000); snd = "gs%d" % (s % 16)
            t0 = time.perf_counter()
            db.execute("SELECT count(*), coalesce(sum(size),0) FROM mailbox WHERE recipient = ?", (r,)).fetchone()
            db.execute("SELECT count(*), coalesce(sum(size),0) FROM mailbox WHERE recipient = ? AND sender = ?", (r, snd)).fetchone()
            t1 = time.perf_counter()
            db.execute("INSERT INTO mailbox (recipient,sender,accepted_at,size,payload) VALUES (?,?,?,?,?)", (r, snd, 0, 300, p))
            t2 = time.perf_counter()
            scan += t1 - t0; ins += t2 - t1; n += 1
        db.execute("COMMIT")
    db.close(); os.remove(path)
    return scan / n * 1e6, ins / n * 1e6
for rep in range(2):
    for backlog in (0, 100000):
        s, i = run(backlog, "/tmp/wtc-growth.db")
        print("backlog %6d: two usage scans %.1f us, insert %.1f us per envelope" % (backlog, s, i))
