"""``TrimPolicy``: when trim-on-write counts or trims a thread namespace (managers/trim.py)."""

from langgraph_ckpt_config.managers.trim import COUNT, NOTHING, TRIM, TrimPolicy


def test_counts_first_write_then_trims_on_estimate_and_recounts():
    p = TrimPolicy(3)
    assert p.on_write("t", "") == COUNT  # not seen by this process: count it
    assert p.counted("t", "", 1) is False
    assert [p.on_write("t", "") for _ in range(3)] == [NOTHING, NOTHING, TRIM]  # 2, 3, 4 > 3
    p.trimmed("t")
    assert p.estimate("t", "") == 3
    # at rest (threshold = max_checkpoints) every write trims one; every 16th since the count
    # recounts instead (another process may write the thread too)
    actions = []
    for _ in range(TrimPolicy.RECOUNT_EVERY - 3):
        actions.append(p.on_write("t", ""))
        if actions[-1] == TRIM:
            p.trimmed("t")
    assert actions == [TRIM] * (TrimPolicy.RECOUNT_EVERY - 4) + [COUNT]
    assert p.counted("t", "", 3) is False and p.on_write("t", "") == TRIM


def test_root_checkpoint_needs_no_count_and_threshold_batches_trims():
    p = TrimPolicy(3, threshold=5)
    assert p.on_write("t", "child:1", root=True) == NOTHING  # a namespace's first checkpoint
    assert [p.on_write("t", "child:1") for _ in range(5)] == [NOTHING] * 4 + [TRIM]  # 2..5, then 6 > 5
    assert TrimPolicy(3, threshold=1).threshold == 3  # never below max_checkpoints


def test_counted_over_threshold_trims_and_forget_starts_over():
    p = TrimPolicy(3)
    assert p.on_write("t", "") == COUNT and p.counted("t", "", 40) is True
    p.trimmed("t")
    p.forget("t")
    assert p.estimate("t", "") is None and p.on_write("t", "") == COUNT


def test_bounded():
    p = TrimPolicy(3, max_keys=100, max_per_thread=10)
    for i in range(1000):
        p.on_write(f"t{i}", "", root=True)
        p.on_write("busy", f"ns{i}", root=True)  # a thread collecting namespaces
    assert p._size == 100 and sum(len(v) for v in p._threads.values()) == p._size
    assert len(p._threads["busy"]) == 10 and p.estimate("busy", "ns999") == 1 and p.estimate("busy", "ns989") is None
    assert p.estimate("t999", "") == 1 and p.estimate("t0", "") is None  # least recently written forgotten
