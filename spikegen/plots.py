"""Plots for the report (PNG). matplotlib is optional: without it, plots are skipped."""
import os


__all__ = ["available", "raster", "save"]


def available():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def raster(path, trains, names, title):
    """Spike raster of one sample: one panel per population, time on the x axis.

    ``trains``: arrays (steps, neurons) of 0/1. The PNG carries no timestamp or version, so
    the same spikes give the same file.
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    heights = [max(1.0, min(3.0, train.shape[1] / 20)) for train in trains]
    fig, axes = plt.subplots(len(trains), 1, figsize=(7, 1.2 + sum(heights)), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, train, name in zip(axes[:, 0], trains, names):
        t, n = train.nonzero()
        ax.scatter(t, n, s=6, marker="|", color="black", linewidths=1)
        ax.set_ylim(-0.5, train.shape[1] - 0.5)
        ax.set_xlim(-0.5, train.shape[0] - 0.5)
        ax.set_ylabel(f"{name}\n({train.shape[1]})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(title, fontsize=9)
    save(fig, path)


def save(fig, path):
    """Write ``fig`` to the PNG ``path`` (its folder made if needed) and close it: laid out
    tightly, at 110 dpi, with no software version in the file, so the same figure gives the
    same bytes. Every plot spikegen writes ends here."""
    from matplotlib import pyplot as plt

    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
