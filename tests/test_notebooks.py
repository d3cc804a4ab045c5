"""Every notebook runs top to bottom on small generated data (outputs are not committed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_to_run() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01-train-and-compare.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_metrics_and_pictures(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = 'CUSTOMERS = 1500\nSEED = 7\nAS_OF = "2025-12-31"'
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert pictures, "the notebook shows its curves as pictures"
    tables = " ".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "roc_auc" in tables and "capture_top20" in tables and "bgnbd" in tables
