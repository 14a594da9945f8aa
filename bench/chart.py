"""Draws BENCHMARKS.png from the side-by-side bench's JSON (scripts/bench runs it).

usage: chart.py target/bench/side_by_side.json BENCHMARKS.png
Bars are medians; the whiskers span min to max.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS = {"Exec::run", "CLI run --json", "Thread::run", "Thread::run tuned", "Fleet"}
PEERS = {"TS SDK", "Python SDK", "Python SDK tuned"}


def colour(path: str) -> str:
    if path in OURS:
        return "#2b6cb0"
    if path in PEERS:
        return "#dd6b20"
    return "#718096"  # the bare binary: the floor


def bars(ax, op: str, field: str, title: str, unit: str, results: dict, rss: bool = False) -> None:
    paths = results.get(op, {})
    names, med, lo, hi = [], [], [], []
    for name, r in paths.items():
        s = r.get(field)
        if not s:
            continue
        names.append(f"{name}\n{r['peak_rss_mib']:.0f} MiB peak" if rss else name)
        med.append(s["median"])
        lo.append(s["median"] - s["min"])
        hi.append(s["max"] - s["median"])
    ax.barh(names, med, xerr=[lo, hi], color=[colour(n.split("\n")[0]) for n in names], capsize=3)
    for i, m in enumerate(med):
        ax.text(m + hi[i], i, f" {m:.1f}", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(unit)
    ax.invert_yaxis()


def main() -> None:
    data = json.load(open(sys.argv[1]))
    results = data["results"]
    fig, axes = plt.subplots(3, 2, figsize=(12, 11))
    bars(axes[0][0], "exec run", "turn_ms", "exec: time per turn (lower is better)", "ms", results)
    bars(axes[0][1], "exec stream", "first_event_ms", "exec: time to first event", "ms", results)
    bars(axes[1][0], "app seq", "turn_ms", "app-server: sequential turns, one thread", "ms", results)
    bars(axes[1][1], "app stream", "first_event_ms", "app-server: time to first event", "ms", results)
    for ax, k in ((axes[2][0], 8), (axes[2][1], 32)):
        op = f"app {k} concurrent"
        bars(ax, op, "turns_per_s", f"{k} concurrent turns: turns/s (higher is better)", "turns/s",
             results, rss=True)
    fig.suptitle(
        f"codex-driver side by side — Codex {data['codex']}, {data['rounds']} rounds "
        "(blue: codex-driver, orange: official SDKs, grey: bare binary)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
