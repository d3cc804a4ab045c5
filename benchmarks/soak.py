"""Soak (issue 18): a rating, HTTP reads, overrides, reviews and special ratings, all at once,
against PostgreSQL, for a given time; then every acknowledged write is looked for in the store.

    .venv/bin/python benchmarks/soak.py --seconds 60            # the form .ci/run runs
    .venv/bin/python benchmarks/soak.py --seconds 600 --work /tmp/soak   # BENCHMARKS.md

What runs, side by side, for ``--seconds``:

* periodic ratings, one after another, each a real ``tiering rate`` process (a new date each
  time, so each is a whole rating written in its transaction);
* reads against ``tiering serve`` (one worker): wrk with a Lua script when ``wrk`` is installed,
  else Python threads; a grade, an explanation or a page of the grade list, customers at random;
* overrides, reviews (accept or reject of a changed grade) and special ratings through the API,
  as a reviewer would post them, each paced (``--writes-per-second``).

Then, from the database itself: every override and review the API acknowledged (201 with its id)
must be there as acknowledged, every acknowledged special rating and every rating process that
exited 0 must be a whole rating, and no rating may be partial (grade rows = customer_count).
Reported: requests and errors by kind, lost writes, and the server's resident memory (RSS) when
ready, after the warm-up (``--warmup``, default a tenth of the run) and at the end. Exits 1 on
any error (a 429 is counted apart, as throttled), lost write or partial rating, and, when
``--max-rss-growth`` is given, when RSS grew more than that from the end of the warm-up.

The environment (1,200 demo customers, small models trained and made champion: the tests' own
``tests/support/rating_env.py``) is built under ``--work``, or reused from there when present.
The tier store is a fresh PostgreSQL database on ``TIERING_TEST_POSTGRES_URL`` (default: the
local server, database ``test``), dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the trained environment of the tests (tests/support)
TIERING = Path(sys.executable).with_name("tiering")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BEFORE, LATEST = "2025-11-30", "2025-12-31"  # the two ratings the store starts with


@dataclass
class Tally:
    """What one kind of traffic did: requests, errors (with a few examples), throttled answers."""

    requests: int = 0
    errors: int = 0
    throttled: int = 0
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, error: str | None = None, throttled: bool = False) -> None:
        with self.lock:
            self.requests += 1
            if throttled:
                self.throttled += 1
            elif error is not None:
                self.errors += 1
                if len(self.examples) < 5:
                    self.examples.append(error[:300])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


# --- set-up ------------------------------------------------------------------------------------
def environment(work: Path) -> Any:
    """The trained environment under ``work/env``: built once, reused by later runs."""
    from tests.support.rating_env import TrainedEnv, build

    base = work / "env"
    if (base / "mlflow" / "mlflow.db").is_file() and (base / "data" / "clean").is_dir():
        return TrainedEnv(base / "data" / "clean", base / "data" / "raw",
                          f"sqlite:///{base / 'mlflow' / 'mlflow.db'}", base / "training-config",
                          base / "work")
    if base.exists():
        shutil.rmtree(base)  # a build that did not finish
    print(f"building the environment under {base} (demo data, small models) ...", flush=True)
    return build(base)


def fresh_database(admin_url: str) -> str:
    import sqlalchemy as sa

    url = sa.make_url(admin_url)
    name = f"tiering_soak_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    import sqlalchemy as sa

    name = sa.make_url(url).database
    engine = sa.create_engine(sa.make_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class Population:
    """Who gets which traffic: special ratings go to their own customers, so that they never
    change whether another customer has a grade change to review."""

    everyone: list[str]
    special: list[str]
    changed: list[str]
    grades: list[str]


def population(db_url: str, seed: int) -> Population:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        latest, labels = conn.execute(sa.text(
            "SELECT id, grade_labels FROM ratings WHERE kind = 'periodic' "
            "ORDER BY as_of DESC, id DESC LIMIT 1")).one()
        rows = conn.execute(sa.text("SELECT customer_id, grade, previous_grade FROM grades "
                                    "WHERE rating_id = :r ORDER BY customer_id"), {"r": latest}
                            ).all()
    engine.dispose()
    ids = [r[0] for r in rows]
    special = set(random.Random(seed).sample(ids, 40))
    changed = [r[0] for r in rows if r[0] not in special and r[2] is not None and r[2] != r[1]]
    grades = list(labels if isinstance(labels, dict) else json.loads(labels))
    return Population(ids, sorted(special), changed, grades)


# --- traffic -----------------------------------------------------------------------------------
class Soak:
    """The threads of traffic and what they were told."""

    def __init__(self, base: str, keys: dict[str, str], people: Population, env: dict[str, str],
                 clean_dir: Path, run_id: str, writes_per_second: float, seed: int) -> None:
        self.base, self.keys, self.people, self.env = base, keys, people, env
        self.clean_dir, self.run_id, self.pace = clean_dir, run_id, 1.0 / writes_per_second
        self.stop = threading.Event()
        self.tally = {k: Tally() for k in ("reads", "overrides", "reviews", "special ratings",
                                           "periodic ratings")}
        self.acked_reviews: dict[int, tuple[str, str, str]] = {}  # id -> customer, action, grade
        self.acked_specials: dict[int, tuple[str, str]] = {}  # rating id -> customer, reason
        self.acked_periodic: list[str] = []  # as_of of each rating process that exited 0
        self.seed = seed
        self.lock = threading.Lock()

    def _client(self, role: str) -> Any:
        import httpx

        return httpx.Client(base_url=self.base, headers={"X-API-Key": self.keys[role]},
                            timeout=60)

    def _answer(self, tally: Tally, response: Any, expected: int) -> bool:
        if response.status_code == 429:
            tally.add(throttled=True)
            time.sleep(float(response.headers.get("retry-after", 1)))
            return False
        if response.status_code != expected:
            tally.add(error=f"{response.request.method} {response.request.url.path}: "
                            f"{response.status_code} {response.text}")
            return False
        tally.add()
        return True

    def _guard(self, tally: Tally, work: Any) -> None:
        """Run ``work`` until stopped; a failure (transport, bad answer) is an error, not the
        end of this traffic."""
        while not self.stop.is_set():
            try:
                work()
            except Exception as exc:  # counted, and the traffic goes on
                tally.add(error=f"{type(exc).__name__}: {exc}")
                time.sleep(0.2)

    def reader(self, index: int) -> None:
        draw, client, tally = random.Random(self.seed + index), self._client("viewer"), \
            self.tally["reads"]

        def once() -> None:
            customer = draw.choice(self.people.everyone)
            kind = draw.random()
            if kind < 0.7:
                path = f"/v1/customers/{customer}"
            elif kind < 0.9:
                path = f"/v1/customers/{customer}/explanation"
            else:
                path = f"/v1/grades?page={draw.randint(1, 20)}"
            self._answer(tally, client.get(path), 200)

        self._guard(tally, once)
        client.close()

    def overrides(self) -> None:
        draw, client, tally = random.Random(self.seed + 101), self._client("reviewer"), \
            self.tally["overrides"]
        candidates = sorted(set(self.people.everyone) - set(self.people.special))

        def once() -> None:
            customer, grade = draw.choice(candidates), draw.choice(self.people.grades)
            answer = client.post(f"/v1/customers/{customer}/overrides", json={
                "new_grade": grade, "reason": f"soak {self.run_id} override"})
            if self._answer(tally, answer, 201):
                with self.lock:
                    self.acked_reviews[int(answer.json()["id"])] = (customer, "override", grade)
            time.sleep(self.pace)

        self._guard(tally, once)
        client.close()

    def reviews(self) -> None:
        draw, client, tally = random.Random(self.seed + 102), self._client("reviewer"), \
            self.tally["reviews"]
        if not self.people.changed:
            return

        def once() -> None:
            customer, action = draw.choice(self.people.changed), draw.choice(["accept", "reject"])
            answer = client.post(f"/v1/customers/{customer}/review", json={
                "action": action, "reason": f"soak {self.run_id} review"})
            if self._answer(tally, answer, 201):
                body = answer.json()
                with self.lock:
                    self.acked_reviews[int(body["id"])] = (customer, action, body["new_grade"])
            time.sleep(self.pace)

        self._guard(tally, once)
        client.close()

    def specials(self) -> None:
        draw, client, tally = random.Random(self.seed + 103), self._client("reviewer"), \
            self.tally["special ratings"]
        count = 0

        def once() -> None:
            nonlocal count
            count += 1
            # the server appends who posted it; ';' ends ours, so #1 is never a prefix of #10
            customer, reason = draw.choice(self.people.special), f"soak {self.run_id} #{count};"
            answer = client.post(f"/v1/customers/{customer}/special-rating",
                                 json={"reason": reason, "as_of": LATEST})
            if self._answer(tally, answer, 201):
                with self.lock:
                    self.acked_specials[int(answer.json()["rating_id"])] = (customer, reason)
            time.sleep(self.pace * 5)  # a special rating costs the server far more than a review

        self._guard(tally, once)
        client.close()

    def ratings(self) -> None:
        """Periodic ratings back to back, each a ``tiering rate`` process of its own date."""
        from datetime import date, timedelta

        tally, day = self.tally["periodic ratings"], date.fromisoformat(LATEST)
        while not self.stop.is_set():
            day -= timedelta(days=1)  # a new date: a whole new rating, never the idempotent rerun
            done = subprocess.run([str(TIERING), "rate", "--as-of", day.isoformat(), "--data",
                                   str(self.clean_dir)], env=self.env, capture_output=True,
                                  text=True, check=False, cwd=ROOT)
            if done.returncode == 0:
                tally.add()
                with self.lock:
                    self.acked_periodic.append(day.isoformat())
            else:
                tally.add(error=f"tiering rate --as-of {day}: exit {done.returncode}: "
                                f"{done.stderr.strip()[-500:]}")


def wrk_reads(base: str, key: str, people: Population, seconds: float, folder: Path) -> Tally:
    """Reads by wrk for ``seconds``: the same mix of paths as the Python readers."""
    script = folder / "reads.lua"
    ids = ",".join(f'"{c}"' for c in people.everyone)
    script.write_text(
        f"local ids = {{{ids}}}\n"
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        "math.randomseed(18)\n"
        "request = function()\n"
        "  local id = ids[math.random(#ids)]\n"
        "  local kind = math.random()\n"
        "  if kind < 0.7 then return wrk.format('GET', '/v1/customers/' .. id)\n"
        "  elseif kind < 0.9 then return wrk.format('GET', '/v1/customers/' .. id .. "
        "'/explanation')\n"
        "  else return wrk.format('GET', '/v1/grades?page=' .. math.random(20)) end\n"
        "end\n", encoding="utf-8")
    done = subprocess.run(["wrk", "-t1", "-c2", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                           "-s", str(script), base], capture_output=True, text=True, check=False)
    tally = Tally()
    out = done.stdout
    found = re.search(r"(\d+) requests in", out)
    if done.returncode != 0 or found is None:
        tally.add(error=f"wrk failed ({done.returncode}): {done.stderr[-500:]}{out[-500:]}")
        return tally
    tally.requests = int(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        out)
    tally.errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sockets.groups()) if sockets else 0)
    if tally.errors:
        tally.examples.append(out[-800:])
    return tally


# --- checks ------------------------------------------------------------------------------------
def lost_writes(db_url: str, soak: Soak) -> dict[str, Any]:
    """Every acknowledged write looked for in the store; partial ratings counted."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    lost: dict[str, list[Any]] = {"reviews": [], "special ratings": [], "periodic ratings": []}
    with engine.connect() as conn:
        ids = sorted(soak.acked_reviews)
        stored = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            stored.update({int(r[0]): (r[1], r[2], r[3]) for r in conn.execute(
                sa.text("SELECT id, customer_id, action, new_grade FROM reviews "
                        "WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": chunk})})
        lost["reviews"] = [i for i in ids if stored.get(i) != soak.acked_reviews[i]]
        whole = {int(r[0]): (r[1], r[2], r[3], r[4], int(r[5]), int(r[6])) for r in conn.execute(
            sa.text("SELECT r.id, r.kind, r.customer_id, r.reason, CAST(r.as_of AS TEXT), "
                    "r.customer_count, count(g.rating_id) FROM ratings r LEFT JOIN grades g "
                    "ON g.rating_id = r.id GROUP BY r.id"))}
    engine.dispose()
    for rating_id, (customer, reason) in soak.acked_specials.items():
        found = whole.get(rating_id)
        if (found is None or found[0] != "special" or found[1] != customer
                or not str(found[2]).startswith(reason) or found[5] != 1):
            lost["special ratings"].append(rating_id)
    periodic = Counter(v[3][:10] for v in whole.values() if v[0] == "periodic")
    lost["periodic ratings"] = [d for d in soak.acked_periodic if periodic[d] != 1]
    partial = [i for i, v in whole.items() if v[4] != v[5]]
    return {"lost": {k: len(v) for k, v in lost.items()}, "lost_ids": lost,
            "partial_ratings": partial, "ratings_stored": len(whole)}


# --- main --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the start RSS is taken (default: a tenth of the run)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the environment is built or reused (default: a temp dir)")
    parser.add_argument("--readers", type=int, default=2, help="Python reader threads")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto",
                        help="read load generator (auto: wrk when installed)")
    parser.add_argument("--writes-per-second", type=float, default=5.0,
                        help="overrides and reviews per second, each (special ratings: a fifth)")
    parser.add_argument("--max-rss-growth", type=float, default=None,
                        help="fail when the server's RSS grew more than this share after the "
                             "warm-up (e.g. 0.10; default: report only, since a short run is "
                             "mostly warm-up)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database and the work dir")
    args = parser.parse_args()
    warmup = args.seconds / 10 if args.warmup is None else args.warmup
    load = ("wrk" if shutil.which("wrk") else "python") if args.load == "auto" else args.load

    work = args.work or Path(tempfile.mkdtemp(prefix="tiering-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    trained = environment(work)
    admin_url = os.environ.get("TIERING_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    db_url = fresh_database(admin_url)
    run_id = uuid.uuid4().hex[:8]
    env = {**os.environ, "TIERING_DATABASE_URL": db_url, "TIERING_MLFLOW_URI": trained.mlflow_uri,
           "TIERING_TRAINING_CONFIG_DIR": str(trained.training_config_dir),
           "TIERING_CONFIG_DIR": str(ROOT / "serving" / "config"),
           "TIERING_DATA_DIR": str(work / "data"), "TIERING_CLEAN_DATA_DIR": str(trained.clean_dir)}
    env.pop("TIERING_FAILPOINT", None)
    server = None
    failed: list[str] = []
    try:
        for as_of in (BEFORE, LATEST):  # the latest rating changes some grades: reviewable
            run([str(TIERING), "rate", "--as-of", as_of, "--data", str(trained.clean_dir)], env)
        keys = {role: run([str(TIERING), "keys", "create", "--role", role, "--name",
                           f"soak-{role}"], env).strip() for role in ("viewer", "reviewer")}
        people = population(db_url, args.seed)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (work / f"server-{run_id}.log").open("w")
        server = subprocess.Popen([str(TIERING), "serve", "--port", str(port), "--log-level",
                                   "warning"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=ROOT)
        import httpx

        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not become ready; see {log.name}")
            time.sleep(0.5)
        rss: list[tuple[float, int]] = [(0.0, rss_kb(server.pid))]

        soak = Soak(base, keys, people, env, trained.clean_dir, run_id, args.writes_per_second,
                    args.seed)
        threads = [threading.Thread(target=soak.ratings, daemon=True),
                   threading.Thread(target=soak.overrides, daemon=True),
                   threading.Thread(target=soak.reviews, daemon=True),
                   threading.Thread(target=soak.specials, daemon=True)]
        wrk_result: list[Tally] = []
        if load == "wrk":
            folder = Path(tempfile.mkdtemp(prefix="soak-wrk-"))
            threads.append(threading.Thread(target=lambda: wrk_result.append(
                wrk_reads(base, keys["viewer"], people, args.seconds, folder)), daemon=True))
        else:
            threads += [threading.Thread(target=soak.reader, args=(i,), daemon=True)
                        for i in range(args.readers)]
        print(f"soak {run_id}: {args.seconds:.0f} s against {base} (reads by {load}), "
              f"database {db_url.rsplit('/', 1)[-1]}", flush=True)
        started = time.monotonic()
        for thread in threads:
            thread.start()
        start_rss = None
        while (elapsed := time.monotonic() - started) < args.seconds:
            time.sleep(min(1.0, args.seconds - elapsed))
            if server.poll() is not None:
                failed.append(f"the server exited with {server.returncode}")
                break
            rss.append((time.monotonic() - started, rss_kb(server.pid)))
            if start_rss is None and rss[-1][0] >= warmup:
                start_rss = rss[-1][1]
        soak.stop.set()
        for thread in threads:
            thread.join(timeout=600)  # a rating under way is let finish
        if wrk_result:
            soak.tally["reads"] = wrk_result[0]
        end_rss = rss_kb(server.pid) if server.poll() is None else rss[-1][1]
        start_rss = start_rss or rss[0][1]
        checked = lost_writes(db_url, soak)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
        tracebacks = Path(log.name).read_text(errors="replace").count("Traceback")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        if not args.keep:
            drop_database(admin_url, db_url)
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)

    growth = end_rss / start_rss - 1
    errors = sum(t.errors for t in soak.tally.values()) + tracebacks
    lost = sum(checked["lost"].values())
    report = {
        "seconds": round(time.monotonic() - started, 1), "load": load,
        "requests": {k: t.requests for k, t in soak.tally.items()},
        "errors": {k: t.errors for k, t in soak.tally.items()} | {"server tracebacks": tracebacks},
        "throttled": {k: t.throttled for k, t in soak.tally.items() if t.throttled},
        "error_examples": {k: t.examples for k, t in soak.tally.items() if t.examples},
        "acknowledged": {"reviews and overrides": len(soak.acked_reviews),
                         "special ratings": len(soak.acked_specials),
                         "periodic ratings": len(soak.acked_periodic)},
        "lost_writes": checked["lost"], "partial_ratings": checked["partial_ratings"],
        "ratings_stored": checked["ratings_stored"],
        "rss_mb": {"ready": round(rss[0][1] / 1024, 1), "start": round(start_rss / 1024, 1),
                   "end": round(end_rss / 1024, 1),
                   "max": round(max(r for _, r in rss) / 1024, 1)},
        "rss_growth": round(growth, 4),
        # at each tenth of the run: a leak climbs steadily, a warm-up flattens out
        "rss_trace_mb": [round(next(r for t, r in rss if t >= k * args.seconds / 10) / 1024, 1)
                         for k in range(10) if any(t >= k * args.seconds / 10 for t, _ in rss)]
        + [round(end_rss / 1024, 1)],
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.report:
        args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if errors:
        failed.append(f"{errors} error(s)")
    if lost:
        failed.append(f"{lost} lost write(s): {checked['lost_ids']}")
    if checked["partial_ratings"]:
        failed.append(f"partial ratings {checked['partial_ratings']}")
    if args.max_rss_growth is not None and growth > args.max_rss_growth:
        failed.append(f"server RSS grew {growth:.1%} after the warm-up "
                      f"(limit {args.max_rss_growth:.0%})")
    if failed:
        print("soak FAILED: " + "; ".join(failed), file=sys.stderr)
        raise SystemExit(1)
    print(f"soak passed: {sum(t.requests for t in soak.tally.values()):,} requests, 0 errors, "
          f"0 lost writes, RSS {start_rss / 1024:.0f} -> {end_rss / 1024:.0f} MB "
          f"({growth:+.1%})")


if __name__ == "__main__":
    main()
