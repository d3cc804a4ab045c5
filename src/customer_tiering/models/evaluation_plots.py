"""Plots of the metrics in :mod:`customer_tiering.models.evaluation`: calibration and capture.

Plots are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` global state), so they
are safe in a server or a test and render with the Agg backend; the caller saves or logs them.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from customer_tiering.models.evaluation import (
    ArrayLike,
    BinStrategy,
    calibration_table,
    capture_at,
    capture_curve,
    expected_calibration_error,
    gini,
)

__all__ = ["plot_calibration_curve", "plot_capture_curve"]


def _unit_axes(title: str, xlabel: str, ylabel: str, top: float = 1.0) -> tuple[Figure, Axes]:
    """The frame both plots share: one titled, labelled axes over ``[0, 1] x [0, top]``."""
    fig = Figure(figsize=(5.5, 5.0))
    ax = fig.add_subplot()
    ax.set(xlim=(0, 1), ylim=(0, top), xlabel=xlabel, ylabel=ylabel, title=title)
    return fig, ax


def plot_calibration_curve(y: ArrayLike, probabilities: Mapping[str, ArrayLike], n_bins: int = 10,
                           strategy: BinStrategy = "quantile",
                           title: str = "Churn calibration") -> Figure:
    """Reliability diagram: observed churn rate against mean predicted probability per bin.

    Parameters
    ----------
    y : 0/1 per customer, 1 = churned.
    probabilities : scorer name -> churn probability per customer (only probability scorers).
    n_bins, strategy : bins of the plotted points, see :func:`calibration_table`. The ECE in the
        legend is always the one :func:`~customer_tiering.models.evaluation.compare` reports
        (10 uniform bins), so the two agree.
    title : the axes' title.

    Returns
    -------
    Figure with one axes: the diagonal of perfect calibration, then one line per scorer (in the
    order given) labelled with its ECE.

    Raises
    ------
    ValueError
        As :func:`calibration_table`, for any of the scorers.
    """
    fig, ax = _unit_axes(title, "mean predicted churn probability", "observed churn rate")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for name, p in probabilities.items():
        table = calibration_table(y, p, n_bins=n_bins, strategy=strategy)
        ece = expected_calibration_error(y, p)  # the compare() definition, whatever the bins
        ax.plot(table["mean_predicted"], table["observed_rate"], marker="o",
                label=f"{name} (ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def plot_capture_curve(y: ArrayLike, scores: Mapping[str, ArrayLike],
                       title: str = "Revenue capture") -> Figure:
    """Capture curves of several value scorers on one axes, with the perfect and random rankings.

    Parameters
    ----------
    y : actual future amount per customer.
    scores : scorer name -> predicted value per customer; higher = more value.
    title : the axes' title.

    Returns
    -------
    Figure with one axes: the perfect ranking, the random diagonal, then one curve per scorer (in
    the order given, labelled with its top-20% capture and Gini) and dotted markers at 10% and 20%.

    Raises
    ------
    ValueError
        As :func:`capture_curve`, for ``y`` or any of the scores.
    """
    fig, ax = _unit_axes(title, "share of customers, ranked by score",
                         "share of actual future amount", top=1.02)
    oracle = capture_curve(y, y)
    ax.plot(oracle["customer_share"], oracle["amount_share"], color="black", linewidth=1,
            label="perfect ranking")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    for name, s in scores.items():
        curve = capture_curve(y, s)
        ax.plot(curve["customer_share"], curve["amount_share"],
                label=f"{name} (top 20% {capture_at(y, s, 0.2):.1%}, Gini {gini(y, s):.3f})")
    for k in (0.1, 0.2):
        ax.axvline(k, color="grey", linewidth=0.5, linestyle=":")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
