"""Throughput of the risk engine, cache off: ``python -m conversations.risk.bench [N]``: the rules
alone, then the rules with the learned model (the synchronous stage the request path runs).

A mix of 90% everyday messages (zh and en) and 10% risky ones (taken from the held-out sets in
tests/conversations/risk_cases/), each made unique so that nothing comes from a cache. It runs
five passes and reports the one with the least CPU time (on a shared machine, wall time also
counts the time the process waited for a core). Start-up (building the automaton) is not counted. Not a test: timings vary by machine.
"""
from __future__ import annotations

import glob
import json
import random
import sys
import time
from pathlib import Path

from . import engine

BENIGN = [
    "Can you recommend a good book for the weekend?", "what's the weather like tomorrow in Shanghai",
    "I had pasta for lunch, it was great", "How do I center a div in CSS?", "my cat knocked over my coffee again haha",
    "Tell me a fun fact about octopuses", "I'm thinking of learning guitar, any tips?", "What should I name my new plant?",
    "we watched a movie last night, it was ok", "Can you help me write an email to my landlord about the heater?",
    "I got a promotion today!!", "any ideas for my mom's birthday present?", "ok thanks, talk later",
    "good morning! slept well?", "lol that's hilarious", "I need to finish my report by Friday",
    "What is the capital of Australia?", "how long should I boil an egg", "traffic was terrible this morning",
    "Do you like jazz? I've been listening to a lot of it", "my team won the match yesterday",
    "I'm bored, tell me a joke", "Where should I travel in spring?",
    "今天天气真好，想出去走走", "周末有什么好看的电影推荐吗", "我刚吃完火锅，好撑", "帮我写一段生日祝福给我妈",
    "怎么学好英语口语", "我家猫今天又拆家了哈哈", "明天要开会，有点紧张", "推荐几本好看的小说吧", "早上好呀",
    "晚上吃什么比较好", "这个周末想去爬山", "你知道怎么做红烧肉吗", "我今天升职了，好开心", "Python 里怎么读取 json 文件",
    "下班路上好堵", "谢谢你，晚安", "给我讲个笑话吧", "最近在追一部剧，挺好看的", "双十一买了好多东西", "我想学做蛋糕",
]


def main(n: int = 20000) -> None:
    root = Path(__file__).resolve().parents[2]
    risky = []
    for path in sorted(glob.glob(str(root / "tests/conversations/risk_cases/heldout_*.jsonl"))):
        with open(path, encoding="utf-8") as fh:
            risky += [row["text"] for row in map(json.loads, fh) if row["label"] != "none"]
    rng = random.Random(7)
    msgs = []
    for i in range(n):
        base = rng.choice(risky) if risky and rng.random() < 0.10 else rng.choice(BENIGN)
        msgs.append(f"{base} {i}" if rng.random() < 0.5 else f"{i} {base}")
    single = engine._assess_single.__wrapped__  # the cache off
    model = engine.learned_model()
    # The rules alone (the lexicon), then the synchronous stage as the app runs it: the rules and the
    # learned model, the higher level winning (engine.assess; every message unique, so no cache helps).
    for name, run in (("rules alone", lambda m: single(m, False)),
                      ("rules + model (assess_risk --sync-only)", lambda m: engine.assess(m, model=model))):
        best = None
        for _ in range(5):
            times = []
            started, cpu = time.perf_counter(), time.process_time()
            for m in msgs:
                t = time.perf_counter()
                run(m)
                times.append(time.perf_counter() - t)
            total, cpu = time.perf_counter() - started, time.process_time() - cpu
            if best is None or cpu < best[1]:
                best = (total, cpu, sorted(times))
        total, cpu, times = best
        print(
            f"{name}: {n} messages (90% benign / 10% risky), best of 5 passes: CPU {cpu:.2f} s = {n / cpu:,.0f} msg/s "
            f"(wall {total:.2f} s = {n / total:,.0f} msg/s); "
            f"mean {1e3 * total / n:.3f} ms, median {1e3 * times[n // 2]:.3f} ms, p99 {1e3 * times[int(n * 0.99)]:.3f} ms, "
            f"max {1e3 * times[-1]:.2f} ms"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
