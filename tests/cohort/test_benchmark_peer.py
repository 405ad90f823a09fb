"""The cohort benchmark's peer stores the same pump events the registry's import stores: the same rows, times and
data text, so the ratio it prints compares the same work."""

import sqlite3

from benchmarks.bench_cohort import plain_sqlite

from openidds.cohort.params import load_params
from openidds.cohort.simulate import exported_logs, play, write_registry
from openidds.cohort.study import load_study


def test_the_peer_stores_the_events_the_registry_stores(tmp_path):
    runs = play(load_study("seed000"), load_params("seed000"), 1, 6)
    registry = tmp_path / "registry.sqlite"
    write_registry(runs, str(registry), source="test")
    peer = tmp_path / "peer.sqlite"
    cpu_s = plain_sqlite(exported_logs(runs), peer)
    query = "SELECT implant_id, seq, at, kind, reason, data FROM pump_events ORDER BY implant_id, seq"
    with sqlite3.connect(registry) as conn:
        stored = conn.execute(query).fetchall()
    with sqlite3.connect(peer) as conn:
        plain = conn.execute(query).fetchall()
    assert cpu_s > 0
    assert len(stored) > 1000
    assert plain == stored
