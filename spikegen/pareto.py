"""Pareto fronts of a sweep (:mod:`spikegen.explore`): the points no other point beats, their
plot (``pareto.png``) and the summary's table.

A point *dominates* another when it is at least as accurate and at most as costly in every
cost, and better in one. The front of the results is over accuracy, LUTs and energy at once;
the plot shows the two-dimensional fronts, accuracy against LUTs and against energy.
"""
import os


__all__ = ["dominates", "front_flags", "plot", "table"]


def _ok(row, costs):
    return not row.get("error") and row.get("accuracy") is not None and all(
        row.get(cost) is not None for cost in costs)


def dominates(a, b, costs):
    """Whether row ``a`` dominates row ``b`` (accuracy up, each of ``costs`` down)."""
    no_worse = a["accuracy"] >= b["accuracy"] and all(a[c] <= b[c] for c in costs)
    better = a["accuracy"] > b["accuracy"] or any(a[c] < b[c] for c in costs)
    return no_worse and better


def front_flags(rows, costs=("lut", "energy_uj")):
    """For each row, whether it is on the front (failed points never are)."""
    valid = [r for r in rows if _ok(r, costs)]
    return [_ok(r, costs) and not any(dominates(o, r, costs) for o in valid) for r in rows]


def _short(options):
    return " ".join(f"{name.lstrip('-')}={value}" for name, value in options.items())


def plot(path, tree):
    """Accuracy against LUTs and against energy per inference, every point grey, each front
    in colour with its labels. The PNG carries no time stamp: the same results, the same
    file."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [r for r in tree["points"] if _ok(r, ("lut", "energy_uj"))]
    panels = (("lut", f"LUTs ({tree['resources_from']})"),
              ("energy_uj", "energy per inference, uJ (estimate)"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    for ax, (cost, title) in zip(axes, panels):
        flags = front_flags(rows, (cost,))
        ax.scatter([r[cost] for r in rows], [100 * r["accuracy"] for r in rows], s=22,
                   color="0.65", label="point", zorder=2)
        front = sorted((r for r, f in zip(rows, flags) if f), key=lambda r: r[cost])
        ax.plot([r[cost] for r in front], [100 * r["accuracy"] for r in front], "o-",
                color="tab:red", markersize=6, label="Pareto front", zorder=3)
        for r in front:
            ax.annotate(_short(r["options"]), (r[cost], 100 * r["accuracy"]), fontsize=7,
                        xytext=(4, -10), textcoords="offset points")
        if rows and min(r[cost] for r in rows) > 0 and \
                max(r[cost] for r in rows) > 20 * min(r[cost] for r in rows):
            ax.set_xscale("log")
        ax.margins(x=0.12, y=0.1)                # room for the labels at the edges
        ax.set_xlabel(title)
        ax.set_ylabel("accuracy, % (bit-exact reference)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    failed = len(tree["points"]) - len(rows)
    fig.suptitle(f"{tree['network']} on the {tree['board']}: {len(tree['points'])} points"
                 + (f" ({failed} failed)" if failed else ""), fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def table(tree):
    """The front (over accuracy, LUTs and energy) as lines of a text table, most accurate
    first."""
    front = sorted((r for r in tree["points"] if r.get("pareto")),
                   key=lambda r: (-r["accuracy"], r["lut"]))
    names = list(dict.fromkeys(n for r in tree["points"] for n in r["options"]))
    head = names + ["accuracy", "LUT", "FF", "BRAM36", "cycles", "latency us", "energy uJ",
                    "fits"]
    body = [[str(r["options"].get(n, "")) for n in names]
            + [f"{100 * r['accuracy']:.2f} %", f"{r['lut']:,}", f"{r['ff']:,}",
               f"{r['bram36']:g}", f"{r['cycles_per_inference']:,.0f}",
               f"{r['latency_us']:.2f}", f"{r['energy_uj']:.4g}",
               "yes" if r["fits"] else "no"]
            for r in front]
    widths = [max(len(row[k]) for row in [head] + body) for k in range(len(head))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [head] + body]
