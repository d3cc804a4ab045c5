"""Every command in README.md and docs/ runs as written, in order, on a demo book.

A reader copies the commands one after the other into a shell in a fresh checkout. So does this
test: a sandbox folder with the checkout's ``serving/`` and ``training/`` folders, a small demo
(``tiering demo --customers 300`` standing in for ``make demo``), then each documented command
through bash. It fails naming the file and the command that failed, gave a traceback, or (for the
API calls) answered an error. What a reader fills in is filled in the same way: the key that
``tiering keys create`` printed, the id of the first key.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "serving/README.md", "docs/data-contract.md", "docs/api.md",
        "docs/bring-your-own-book.md"]
# What is not run here, and why.
NOT_RUN = {
    "make demo": "the sandbox runs `tiering demo` (what make demo runs after installing), smaller",
    "make test": "is the command .ci/run runs: this test is part of it",
}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs")]


def documented_commands(path: Path) -> list[str]:
    """The shell commands of a Markdown file's ``bash`` blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.strip().startswith("#")):
                continue
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].strip() + " "
                continue
            pending += line.strip()
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quoted text goes on on the next line
                pending += "\n"
                continue
            commands.append(pending)
            pending = ""
    return commands


def without_comment(command: str) -> str:
    """The command without its trailing ``# ...`` remark."""
    return " ".join(shlex.split(command, comments=True))


def _write_inputs(sandbox: Path) -> None:
    """The input files the docs name, from the demo's raw data."""
    raw = sandbox / "data" / "demo" / "raw"
    orders = pd.read_parquet(raw / "transactions.parquet")
    customers = pd.read_parquet(raw / "customers.parquet")
    for name in ("订单.csv", "orders.csv"):
        orders.to_csv(sandbox / name, index=False)
    for name in ("客户.xlsx", "customers.xlsx"):
        customers.to_excel(sandbox / name, index=False)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    base = tmp_path_factory.mktemp("reader")
    for folder in ("serving", "training"):
        (base / folder).symlink_to(ROOT / folder)
    (base / "models").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERING_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "120"
    demo = subprocess.run(["tiering", "demo", "--customers", "300", "--seed", "42"], cwd=base,
                          env=env, capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    _write_inputs(base)
    yield base, env


def _failure(command: str, result: subprocess.CompletedProcess[str]) -> str | None:
    out = result.stdout + result.stderr
    if result.returncode != 0:
        return f"exit {result.returncode}: {out[-1500:]}"
    if "Traceback" in out:
        return f"traceback: {out[-1500:]}"
    status = re.search(r"__HTTP_(\d{3})__", result.stdout)
    if status and int(status.group(1)) >= 400:
        return f"the API answered {status.group(1)}: {result.stdout[:500]}"
    return None


def _changed_customer(answer: str) -> str | None:
    """The first customer of a review queue answer whose grade changed."""
    body = answer.split("__HTTP_")[0]
    try:
        items = json.loads(body)
    except ValueError:
        return None
    items = items.get("items", items) if isinstance(items, dict) else items
    for item in items if isinstance(items, list) else []:
        if item.get("previous_grade") and item.get("previous_grade") != item.get("grade"):
            return str(item["customer_id"])
    return None


def _start_server(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    assert server.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            raise AssertionError(f"{command!r} stopped: {''.join(seen)[-1500:]}")
        seen.append(line)
        if "serving on http://" in line:
            return server
    raise AssertionError(f"{command!r} never said it was serving: {''.join(seen)[-1500:]}")


def test_every_documented_command_runs_as_written(sandbox: tuple[Path, dict[str, str]]) -> None:
    base, env = sandbox
    failures: list[str] = []
    ran = 0
    first_key_id: str | None = None
    changed: str | None = None
    server: subprocess.Popen[str] | None = None
    try:
        for doc in DOCS:
            for command in documented_commands(ROOT / doc):
                if without_comment(command) in NOT_RUN:
                    continue
                if command.startswith("export "):  # the reader pastes what was printed
                    name, value = command.split()[1].split("=", 1)
                    env[name] = env["LAST_KEY"] if value.startswith("tk_") else value
                    continue
                shell = (command.replace("KEY_ID", first_key_id or "KEY_ID")
                         .replace("CUSTOMER_ID", changed or "CUSTOMER_ID"))
                if shell.startswith("curl"):  # the harness also asks curl for the status
                    shell = "curl -w '\\n__HTTP_%{http_code}__'" + shell[len("curl"):]
                if shell.startswith("tiering serve"):
                    server = _start_server(shell, base, env)
                    ran += 1
                    continue
                result = subprocess.run(["bash", "-c", shell], cwd=base, env=env,
                                        capture_output=True, text=True, timeout=900)
                ran += 1
                problem = _failure(shell, result)
                if problem:
                    failures.append(f"{doc}: {command}\n  {problem}")
                if "/v1/reviews/queue" in shell:
                    changed = _changed_customer(result.stdout) or changed
                if shell.startswith("tiering keys create") and result.returncode == 0:
                    key = result.stdout.strip().splitlines()[-1]
                    env["KEY" if "--role admin" not in shell else "ADMIN_KEY"] = key
                    env["LAST_KEY"] = key
                    first_key_id = first_key_id or key.split("_")[1]
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    assert ran > 60
    assert not failures, "\n".join(failures)
