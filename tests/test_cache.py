import os
import signal
import subprocess
import sys
import textwrap

from chil_core.cache import Cache, make_key, make_salt


def _k(i: int) -> bytes:
    return make_key(make_salt("b", "1", b"{}"), str(i).encode())


def test_persists_across_instances_and_counts_hits(tmp_path):
    c = Cache(tmp_path / "c", memory_items=10)
    c.put_many([(_k(i), b"%d" % i) for i in range(100)])
    c.close()
    c2 = Cache(tmp_path / "c", memory_items=10)
    got = c2.get_many([_k(1), _k(99), _k(1000)])
    assert got == [b"1", b"99", None]
    assert (c2.stats.hits, c2.stats.misses, c2.stats.disk_hits) == (2, 1, 2)
    assert c2.get(_k(1)) == b"1" and c2.stats.memory_hits == 1
    c2.close()


def test_memory_lru_is_bounded(tmp_path):
    c = Cache(None, memory_items=5)
    c.put_many([(_k(i), b"x") for i in range(20)])
    assert len(c) == 5
    assert c.get(_k(0)) is None and c.get(_k(19)) == b"x"


def test_store_is_bounded_and_evicts(tmp_path):
    c = Cache(tmp_path / "small", max_size_mb=1, memory_items=0)
    value = b"v" * 2000
    for start in range(0, 3000, 100):
        c.put_many([(_k(i), value) for i in range(start, start + 100)])
    assert c.stats.evictions > 0
    assert 0 < len(c) < 3000
    assert c.get(_k(2999)) == value  # the newest batch survived
    c.close()


def test_killed_writer_leaves_a_readable_store(tmp_path):
    path = tmp_path / "kill"
    script = textwrap.dedent(f"""
        import sys
        from chil_core.cache import Cache, make_key, make_salt
        c = Cache({str(path)!r}, memory_items=0)
        salt = make_salt("b", "1", b"{{}}")
        c.put_many([(make_key(salt, b"first"), b"kept")])
        print("ready", flush=True)
        i = 0
        while True:
            c.put_many([(make_key(salt, str(i).encode() + bytes(j)), b"x" * 500) for j in range(50)])
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    import time

    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    c = Cache(path, memory_items=0)
    assert c.get(make_key(make_salt("b", "1", b"{}"), b"first")) == b"kept"
    assert len(c) > 1
    c.put(b"k" * 16, b"after")  # still writable
    assert c.get(b"k" * 16) == b"after"
    c.close()


def test_writes_go_to_the_store_behind_the_caller_in_order(tmp_path):
    """put_many returns before the commit (a writer thread commits, in order); a read meanwhile sees
    the newest value, and close() waits for every write."""
    c = Cache(tmp_path / "wb", memory_items=0)
    for i in range(40):
        c.put_many([(_k(0), b"%d" % i), (_k(i + 1), b"x")])
        assert c.get(_k(0)) == b"%d" % i  # served before (or after) its commit, never an older value
    assert len(c) == 41  # len waits for the writes
    c.put_many([(_k(0), b"last")])
    c.close()
    c2 = Cache(tmp_path / "wb", memory_items=0)
    assert c2.get(_k(0)) == b"last"
    c2.close()
