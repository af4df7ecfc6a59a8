"""What the in-process index keeps per row: bounded, as it holds every row by design."""

from __future__ import annotations

import tracemalloc

import numpy as np
from hot_data import turns

from tiermem.hot.index import HotIndex

#: Python and numpy memory per row: the record, its columns, its vector (1 KB at 256
#: dimensions), its full-text postings' Python side; tantivy's own heap is not traced
BYTES_PER_ROW = 4_000
ROWS = 2_000


def test_each_row_costs_a_bounded_amount() -> None:
    index = HotIndex(256, hnsw_rows=None)
    rng = np.random.default_rng(3)
    warm = turns(1_200, seed=4, prefix="w")
    index.add(warm, rng.random((len(warm), 256), dtype=np.float32))
    index.commit()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for start in range(0, ROWS, 100):
            batch = turns(100, seed=start, prefix=f"b{start}-")
            index.add(batch, rng.random((100, 256), dtype=np.float32))
            del batch
        index.commit()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"the in-process index grew {grown / ROWS:.0f} bytes a row")
    assert len(index) == 1_200 + ROWS
    assert 1_024 < grown / ROWS < BYTES_PER_ROW  # at least the vector, at most the bound
