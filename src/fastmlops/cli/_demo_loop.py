"""``fastmlops demo loop``: the seed's loop, end to end, on loopback.

train (baseline and candidate, tracked in MLflow with their ModelVersion and
DriftReference) -> gate (:func:`fastmlops.gate.compare`) -> canary 1 -> 5 ->
25 -> 100 % on a real gunicorn server (:class:`fastmlops.canary.CanaryController`)
-> SLO watch (:class:`fastmlops.slo.SLOMonitor`) -> injected fault ->
burn-rate alert -> automatic rollback -> input shift -> drift alert
(:class:`fastmlops.DriftMonitor`) -> retrain on recent data -> gate -> canary
-> promote.  The decisions are :class:`fastmlops.rollout.RolloutPolicy`'s;
every one is printed as it happens and kept in a
:class:`fastmlops.rollout.Timeline` (markdown, HTML, JSON in the output
directory).  This module only wires the library pieces (docs/loop.md).

Time: the canary stages last seconds, not hours; the SLO monitor's clock runs
``time_scale`` times faster than the wall clock (default 60: one second is
one SLO minute), so its burn-rate windows of minutes last seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastmlops.cli._common import CommandError, int_in_range

if TYPE_CHECKING:
    import numpy as np

    from fastmlops.cli._common import SubParsers
    from fastmlops.rollout import (
        PolicyDecision,
        PrometheusServer,
        RolloutState,
        Timeline,
        Watcher,
    )

#: The extra that installs what the loop needs.
EXTRA = "pip install 'fastmlops[loop]'"
_NEEDS = (("sklearn", "scikit-learn"), ("mlflow", "mlflow-skinny"), ("gunicorn", "gunicorn"),
          ("prometheus_client", "prometheus_client"))
APP = "fastmlops.rollout.loop_app:app"
#: The page alert on the candidate's availability: burn rate above 14.4 over 10
#: and 2 SLO minutes (10 s and 2 s of wall time at the default time scale).
PAGE_RULE = ("Page", "page", 14.4, 10, 2)


@dataclass
class LoopConfig:
    """Settings of one run of the loop (the command line's options)."""

    out: str = "fastmlops-loop"
    tracking_uri: str | None = None
    rate: float = 150.0
    threads: int = 8
    workers: int = 2
    seed: int = 7
    train_rows: int = 4000
    stage_seconds: float = 4.0
    stage_requests: tuple[int, int, int] = (3, 15, 60)
    tick: float = 0.5
    warmup_seconds: float = 2.0
    fault_rate: float = 0.5
    slo_objective: float = 0.99
    time_scale: float = 60.0
    drift_window: float = 8.0
    retrain_rows: int = 1000
    gate_margin: float = 0.01
    phase_timeout: float = 45.0
    #: "auto": a real Prometheus scrapes the server with slo-rules.yml when the
    #: binary is installed; "off": never
    prometheus: str = "auto"
    echo: Callable[[str], object] = field(default=print)

    def __post_init__(self) -> None:
        # absolute: the server's workers and Prometheus run in directories of their own
        self.out = os.path.abspath(self.out)


@dataclass
class LoopResult:
    """What a run produced: the timeline, the load generator's answers, the
    requests the metrics counted, and the files written."""

    timeline: Timeline
    answered: int
    failed: int
    counted: float
    by_version: dict[str, float]
    files: dict[str, str]
    seconds: float


def check_dependencies() -> None:
    """Raise CommandError naming the extra when a piece of the loop is missing."""
    import importlib.util

    missing = [pkg for mod, pkg in _NEEDS if importlib.util.find_spec(mod) is None]
    if missing:
        raise CommandError(f"the loop demo needs {', '.join(missing)}: {EXTRA}")


# ----------------------------------------------------------------------- training
class Tracker:
    """Trains, saves and tracks model versions (one MLflow run each)."""

    def __init__(self, cfg: LoopConfig, t0: float, timeline: Timeline) -> None:
        import logging

        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up notes
        self.cfg, self.t0, self.timeline = cfg, t0, timeline
        self.models_dir = os.path.join(cfg.out, "models")
        os.makedirs(self.models_dir, exist_ok=True)
        uri = cfg.tracking_uri or _default_tracking_uri(cfg.out)
        self.uri = uri
        name = "fastmlops-loop"
        try:
            self.client = MlflowClient(uri)
            exp = self.client.get_experiment_by_name(name)
            self.experiment = (exp.experiment_id if exp is not None
                               else self.client.create_experiment(name, artifact_location=(
                                   os.path.abspath(os.path.join(cfg.out, "mlartifacts")))))
        except (MlflowException, OSError, ValueError) as exc:
            raise RuntimeError(f"MLflow tracking at {uri} failed: {exc}") from None
        self.runs: dict[str, str] = {}
        self.paths: dict[str, str] = {}
        self.references: dict[str, str] = {}

    def now(self) -> float:
        return time.monotonic()

    def train(self, version: str, kind: str, x: np.ndarray, y: np.ndarray,
              holdout: tuple[np.ndarray, np.ndarray]) -> Any:
        import numpy as np

        import fastmlops
        from fastmlops import quality
        from fastmlops.fingerprint import ModelVersion
        from fastmlops.mlflow import log_model_version
        from fastmlops.rollout import scenario as _scenario
        from fastmlops.telemetry import span

        with span(("loop", "train"), {"model.version": version, "input.size": len(y)}):
            model = _scenario.train(x, y, kind, self.cfg.seed)
        folder = os.path.join(self.models_dir, version)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "model.pkl")
        with open(path, "wb") as f:
            pickle.dump(model, f)
        data_path = os.path.join(folder, "train.npz")
        np.savez(data_path, x=x, y=y)
        reference = fastmlops.DriftReference(
            {c: x[:, j] for j, c in enumerate(_scenario.FEATURES)})
        ref_path = os.path.join(folder, "reference.fmlref")
        reference.save(ref_path)
        hyper = {"kind": kind, "C": 1.0, "rows": int(x.shape[0])}
        mv = ModelVersion.create(weights=path, data=data_path, hyperparameters=hyper,
                                 seed=self.cfg.seed, packages=("scikit-learn",),
                                 drift_reference=reference)
        auc = quality.roc_auc(holdout[1], _scenario.scores(model, holdout[0]))
        assert isinstance(auc, float)  # one score column, no groups
        run = self.client.create_run(self.experiment, run_name=version,
                                     tags={"fastmlops.loop.version": version})
        run_id = run.info.run_id
        log_model_version(mv, run_id=run_id, client=self.client)
        self.client.log_metric(run_id, "holdout_roc_auc", auc)
        self.client.log_artifact(run_id, ref_path, "fastmlops")
        self.client.set_terminated(run_id)
        self.runs[version], self.paths[version], self.references[version] = run_id, path, ref_path
        self.timeline.add(self.now(), "train", "train",
                          f"{version} ({kind}) on {x.shape[0]} rows; MLflow run {run_id[:8]}, "
                          f"version {mv.digest[:12]}", holdout_roc_auc=auc)
        return model

    def log_gate(self, version: str, result: Any) -> None:
        run_id = self.runs[version]
        self.client.set_tag(run_id, "fastmlops.gate.decision", result.decision)
        self.client.log_metric(run_id, "gate_pvalue", float(result.pvalue))
        self.client.log_metric(run_id, "gate_difference", float(result.difference))


def _default_tracking_uri(out: str) -> str:
    """SQLite under ``out`` when SQLAlchemy is there (mlflow), else a file store."""
    import importlib.util

    if all(importlib.util.find_spec(m) is not None for m in ("sqlalchemy", "alembic")):
        return f"sqlite:///{os.path.abspath(os.path.join(out, 'mlflow.db'))}"
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow-skinny: no database
    return "file:" + os.path.abspath(os.path.join(out, "mlruns"))


def page_rule() -> Any:
    """:data:`PAGE_RULE` as a :class:`fastmlops.slo.BurnRateRule`."""
    from fastmlops.slo import BurnRateRule

    name, severity, rate, long_min, short_min = PAGE_RULE
    return BurnRateRule(name, severity, rate, timedelta(minutes=long_min),
                        timedelta(minutes=short_min))


def write_rules(path: str, objective: float) -> None:
    """The same SLO as Prometheus rules, one per version (windows in real minutes)."""
    from fastmlops.slo import EventCounters, prometheus_rules

    text = prometheus_rules("loop-availability", objective,
                            EventCounters(total="model_requests_total",
                                          errors="model_errors_total"),
                            rules=[page_rule()], group_by=("version",))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def gate(y: np.ndarray, baseline: np.ndarray, candidate: np.ndarray, margin: float) -> Any:
    """The model-quality gate: non-inferiority in ROC AUC (DeLong)."""
    from fastmlops.gate import compare
    from fastmlops.telemetry import span

    with span(("loop", "gate"), {"input.size": len(y)}):
        return compare(y, baseline, candidate, metric="roc_auc", margin=margin, alpha=0.05)


def watcher_for(cfg: LoopConfig, metrics_dir: str, monitor: Any, timeline: Timeline,
                policy: Any) -> Watcher:
    """The controller loop's :class:`fastmlops.rollout.Watcher` of the demo:
    1/5/25/100 % stages of ``stage_seconds``, and per candidate an SLO monitor
    whose clock runs ``time_scale`` times faster than the wall clock."""
    from fastmlops.canary import CanaryPolicy, Stage
    from fastmlops.rollout import Watcher
    from fastmlops.slo import SLOMonitor

    s, (n1, n5, n25) = cfg.stage_seconds, cfg.stage_requests
    # the error test is the always-valid mSPRT: a backstop for slow leaks; the
    # candidate's SLO burn-rate alert is what rolls a failing canary back
    canary = CanaryPolicy(stages=[Stage(1, s, n1), Stage(5, s, n5), Stage(25, s, n25),
                                  Stage(100)], alpha=1e-3, error_test="msprt")

    def slo_monitor(origin: float) -> SLOMonitor:
        scale = cfg.time_scale
        return SLOMonitor(cfg.slo_objective, latency_threshold_ms=250.0, rules=[page_rule()],
                          period=timedelta(hours=1),
                          clock=lambda: origin + (time.monotonic() - origin) * scale)

    return Watcher(metrics_dir, policy, timeline, canary_policy=canary,
                   slo_monitor=slo_monitor, monitor=monitor)


# ----------------------------------------------------------------------- the loop
class Loop:
    """The run: server, load, phases."""

    def __init__(self, cfg: LoopConfig) -> None:
        self.cfg = cfg

    def run(self) -> LoopResult:
        import numpy as np

        from fastmlops.rollout import (
            GunicornServer,
            LoadGenerator,
            RolloutPolicy,
            RolloutState,
            ServerConfig,
            Timeline,
            drift_monitor,
            read_counts,
        )
        from fastmlops.rollout import scenario as _scenario

        cfg = self.cfg
        check_dependencies()
        t0 = time.monotonic()
        out = os.path.abspath(cfg.out)
        os.makedirs(out, exist_ok=True)
        metrics_dir = os.path.join(out, "metrics")
        shutil.rmtree(metrics_dir, ignore_errors=True)  # counters restart with the server
        os.makedirs(metrics_dir)
        tl = Timeline(start=t0, title="fastmlops demo loop",
                      on_event=lambda e: cfg.echo(e.format()))
        self.timeline = tl
        cfg.echo(f"fastmlops demo loop: output in {out}")
        cfg.echo("   time  stage     event            what [numbers]")
        rng = np.random.default_rng(cfg.seed)
        tracker = Tracker(cfg, t0, tl)
        x, y = _scenario.draw(rng, cfg.train_rows, "base")
        hold = _scenario.draw(rng, 2000, "base")
        v1 = tracker.train("v1", "linear", x, y, hold)
        v2 = tracker.train("v2", "interactions", x, y, hold)
        policy = RolloutPolicy(drift_confirmations=3, drift_min_rows=200,
                               retrain_cooldown=20.0)
        state_path = os.path.join(out, "state.json")
        state = RolloutState("v1", {"v1": tracker.paths["v1"]}, seed=cfg.seed)
        state.write(state_path)
        config = ServerConfig(state=state_path, metrics_dir=metrics_dir,
                              reference=tracker.references["v1"],
                              drift_window=cfg.drift_window, drift_bucket=1.0)
        config_path = os.path.join(out, "server.json")
        config.save(config_path)
        rules_path = os.path.join(out, "slo-rules.yml")
        write_rules(rules_path, cfg.slo_objective)
        server = GunicornServer(APP, os.path.join(out, "server"), workers=cfg.workers,
                                env={"FASTMLOPS_LOOP_CONFIG": config_path,
                                     "FASTMLOPS_METRICS_DIR": metrics_dir})
        traffic = _scenario.Traffic(cfg.seed, keep=4 * cfg.retrain_rows)
        self.traffic = traffic
        with server, contextlib.ExitStack() as stack:
            tl.add(time.monotonic(), "serve", "start",
                   f"gunicorn, {cfg.workers} sync workers, --preload, 127.0.0.1:{server.port}; "
                   f"v1 serves 100%")
            prom = self._prometheus(stack, server.port, rules_path)
            monitor = drift_monitor(config, registry=None)
            watcher = watcher_for(cfg, metrics_dir, monitor, tl, policy)
            load = LoadGenerator(server.port, traffic.body, rate=cfg.rate, threads=cfg.threads)
            with load:
                tl.add(time.monotonic(), "load", "start",
                       f"{cfg.rate:g} requests/s from {cfg.threads} threads")
                state = self._warm(watcher, state, cfg.warmup_seconds, state_path)
                # ---- phase 1: gate v2, canary, fault, rollback
                result = gate(hold[1], _scenario.scores(v1, hold[0]),
                              _scenario.scores(v2, hold[0]), cfg.gate_margin)
                state = self._ship(tracker, watcher, policy, state, "v2", result, state_path)
                state = self._watch(watcher, state, state_path, fault_at=25)
                # ---- phase 2: shift, drift, retrain, gate, canary, promote
                state = self._warm(watcher, state, cfg.warmup_seconds, state_path)
                traffic.shift()
                tl.add(time.monotonic(), "load", "shift",
                       "inputs shift: f0 + 1.2, f2 x 1.6, and what they mean changes")
                retrain = self._until(watcher, state, state_path, "retrain")
                if retrain is not None:
                    state = self._retrain(tracker, watcher, policy, state, state_path, v1)
                load.stop()
            counted, by_version = self._settle(metrics_dir, load.answered, read_counts)
            tl.add(time.monotonic(), "load", "stop",
                   f"{load.answered} requests answered ({load.failed} without an answer); "
                   f"the metrics count {counted:g}", answered=load.answered,
                   counted=counted, failed=load.failed)
            if prom is not None:
                self._check_prometheus(prom, load.answered)
        files = self._write(tl, tracker)
        seconds = time.monotonic() - t0
        cfg.echo(f"\ndone in {seconds:.1f} s; timeline: {files['markdown']}, {files['html']}; "
                 f"MLflow: {tracker.uri}")
        return LoopResult(tl, load.answered, load.failed, counted, by_version, files, seconds)

    # ------------------------------------------------------------------ prometheus
    def _prometheus(self, stack: contextlib.ExitStack, port: int, rules: str
                    ) -> PrometheusServer | None:
        """A real Prometheus on the server, when asked for and installed."""
        from fastmlops.rollout import PrometheusServer, prometheus_binary

        if self.cfg.prometheus == "off" or prometheus_binary() is None:
            return None
        prom = stack.enter_context(PrometheusServer(
            os.path.join(os.path.abspath(self.cfg.out), "prometheus"), port, rules=rules))
        self.timeline.add(time.monotonic(), "serve", "prometheus",
                          f"Prometheus on {prom.url} scrapes /metrics every second and "
                          "evaluates slo-rules.yml")
        return prom

    def _check_prometheus(self, prom: PrometheusServer, answered: int) -> None:
        """Prometheus's own count of the requests (once a scrape caught up)
        and the versions its page alert fired for."""
        deadline, scraped = time.monotonic() + 5.0, None
        while time.monotonic() < deadline:
            scraped = prom.value("sum(model_requests_total)")
            if scraped is not None and scraped >= answered:
                break
            time.sleep(0.2)
        fired = sorted(s["metric"].get("version", "?") for s in prom.query(
            'max_over_time(ALERTS{alertname="LoopAvailabilityBurnRatePage",'
            'alertstate="firing"}[10m])'))
        self.timeline.add(time.monotonic(), "prometheus", "check",
                          f"Prometheus counted {scraped if scraped is not None else 0:g} "
                          f"requests; its page alert fired for {fired or 'no version'}",
                          scraped=scraped if scraped is not None else math.nan)

    # ------------------------------------------------------------------ phases
    def _warm(self, watcher: Watcher, state: RolloutState, seconds: float,
              path: str) -> RolloutState:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(self.cfg.tick)
            watcher.tick(time.monotonic(), state)
        return state

    def _ship(self, tracker: Tracker, watcher: Watcher, policy: Any, state: RolloutState,
              version: str, result: Any, path: str) -> RolloutState:
        tl = self.timeline
        now = time.monotonic()
        tracker.log_gate(version, result)
        d = policy.gate(now, result)
        tl.add(now, "gate", "gate-pass" if d.action == "ship" else "gate-fail",
               f"{version}: {result.summary}", pvalue=result.pvalue,
               difference=result.difference)
        if d.action != "ship":
            return state
        models = {**state.models, version: tracker.paths[version]}
        state = state.replace(models=models, candidate=version, percent=1.0, params={})
        state.write(path)
        watcher.start_canary(now, version)
        tl.add(now, "canary", "start", f"{version} gets 1% of users", percent=1)
        return state

    def _watch(self, watcher: Watcher, state: RolloutState, path: str,
               fault_at: float | None = None) -> RolloutState:
        """Tick until the canary completes or rolls back (or times out)."""
        from fastmlops.telemetry import span

        with span(("loop", "canary"), {"model.version": str(state.candidate)}):
            return self._watch_canary(watcher, state, path, fault_at)

    def _watch_canary(self, watcher: Watcher, state: RolloutState, path: str,
                      fault_at: float | None) -> RolloutState:
        tl, cfg = self.timeline, self.cfg
        deadline = time.monotonic() + cfg.phase_timeout
        while state.candidate is not None:
            time.sleep(cfg.tick)
            now = time.monotonic()
            d = watcher.tick(now, state)
            if d.action == "promote":
                state = state.replace(percent=d.numbers["percent"])
                state.write(path)
                tl.add(now, "canary", "promote", d.reason, percent=state.percent)
                if fault_at is not None and state.percent >= fault_at:
                    state = state.replace(params={"fault_rate": cfg.fault_rate})
                    state.write(path)
                    tl.add(time.monotonic(), "fault", "fault",
                           f"inject a fault in {state.candidate}: {cfg.fault_rate:.0%} of its "
                           "requests fail", fault_rate=cfg.fault_rate)
            elif d.action == "complete":
                state = state.replace(baseline=state.candidate, candidate=None, percent=0.0)
                state.write(path)
                watcher.stop_canary()
                tl.sample(now, **{**watcher.numbers, "canary_percent": 100.0})
                tl.add(now, "canary", "complete", f"{d.reason}; {state.baseline} is the "
                       "baseline now", percent=100)
            elif d.action == "rollback":
                bad = state.candidate
                state = state.replace(candidate=None, percent=0.0, params={})
                state.write(path)
                watcher.stop_canary()
                tl.sample(now, **{**watcher.numbers, "canary_percent": 0.0})
                tl.add(now, "canary", "rollback", f"{bad} out, {state.baseline} serves 100%: "
                       f"{d.reason}", percent=0)
            elif d.action == "retrain":
                tl.add(now, "drift", "deferred", "retraining waits for the running canary")
            if time.monotonic() > deadline and state.candidate is not None:
                bad = state.candidate
                state = state.replace(candidate=None, percent=0.0, params={})
                state.write(path)
                watcher.stop_canary()
                tl.add(now, "canary", "timeout", f"{bad} did not finish within "
                       f"{cfg.phase_timeout:g} s; rolled back")
        return state

    def _until(self, watcher: Watcher, state: RolloutState, path: str,
               action: str) -> PolicyDecision | None:
        deadline = time.monotonic() + self.cfg.phase_timeout
        while time.monotonic() < deadline:
            time.sleep(self.cfg.tick)
            now = time.monotonic()
            d = watcher.tick(now, state)
            if d.action == action:
                self.timeline.add(now, "policy", action, d.reason, **d.numbers)
                return d
        self.timeline.add(time.monotonic(), "policy", "timeout",
                          f"no {action} decision within {self.cfg.phase_timeout:g} s")
        return None

    def _retrain(self, tracker: Tracker, watcher: Watcher, policy: Any, state: RolloutState,
                 path: str, serving_model: Any) -> RolloutState:
        from fastmlops.rollout import scenario as _scenario

        cfg, tl = self.cfg, self.timeline
        deadline = time.monotonic() + cfg.phase_timeout
        while len(self.traffic.recent) < cfg.retrain_rows and time.monotonic() < deadline:
            time.sleep(cfg.tick)
            watcher.tick(time.monotonic(), state)
        x, y = self.traffic.recent_rows()
        cut = int(0.7 * len(y))
        tl.add(time.monotonic(), "retrain", "collect",
               f"{len(y)} recent labelled rows: {cut} to train, {len(y) - cut} to gate",
               rows=len(y))
        v3 = tracker.train("v3", "interactions", x[:cut], y[:cut], (x[cut:], y[cut:]))
        result = gate(y[cut:], _scenario.scores(serving_model, x[cut:]),
                      _scenario.scores(v3, x[cut:]), cfg.gate_margin)
        state = self._ship(tracker, watcher, policy, state, "v3", result, path)
        return self._watch(watcher, state, path)

    def _settle(self, metrics_dir: str, answered: int, read: Callable[..., Any]
                ) -> tuple[float, dict[str, float]]:
        """The metrics' request count once it reaches what the clients saw
        (workers flush every 0.1 s; up to 3 s)."""
        deadline = time.monotonic() + 3.0
        while True:
            by_version = {v: c.requests for v, c in read(metrics_dir).items()}
            total = sum(by_version.values())
            if total >= answered or time.monotonic() > deadline:
                return total, by_version
            time.sleep(0.1)

    def _write(self, tl: Timeline, tracker: Tracker) -> dict[str, str]:
        out = os.path.abspath(self.cfg.out)
        files = {"markdown": os.path.join(out, "timeline.md"),
                 "html": os.path.join(out, "timeline.html"),
                 "json": os.path.join(out, "timeline.json")}
        with open(files["markdown"], "w", encoding="utf-8") as f:
            f.write(tl.to_markdown())
        tl.to_html(files["html"])
        with open(files["json"], "w", encoding="utf-8") as f:
            json.dump(tl.to_dict(), f, indent=1)
        run = tracker.client.create_run(tracker.experiment, run_name="loop-timeline")
        for p in files.values():
            tracker.client.log_artifact(run.info.run_id, p, "fastmlops")
        tracker.client.set_terminated(run.info.run_id)
        return files


def run_loop(cfg: LoopConfig) -> LoopResult:
    """Run the loop with ``cfg``; the server is stopped whatever happens."""
    return Loop(cfg).run()


def cmd_demo_loop(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops demo loop``."""
    import warnings

    from fastmlops._core.warmup import ensure_compiled

    ensure_compiled(sys.stderr)
    cfg = LoopConfig(out=args.out, tracking_uri=args.tracking_uri, rate=args.rate,
                     seed=args.seed, stage_seconds=args.stage_seconds,
                     prometheus=args.prometheus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's and scikit-learn's notices
        try:
            result = run_loop(cfg)
        except (RuntimeError, ImportError) as exc:  # the server did not start, a piece missing
            raise CommandError(str(exc)) from None
    ok = result.counted == result.answered
    print(f"requests answered {result.answered}, counted by the metrics "
          f"{result.counted:g}: {'equal' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


def _positive(text: str) -> float:
    """An argparse type: a positive finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_cli(sub: SubParsers) -> None:
    """Register ``loop`` on the ``fastmlops demo`` subparsers."""
    p = sub.add_parser(
        "loop", help="the seed's loop end to end on loopback (needs fastmlops[loop])",
        description="Train, gate, canary on a real gunicorn server, SLO alert and rollback, "
                    "drift, retrain, promote: every decision printed as it happens and "
                    f"written as a timeline. Needs: {EXTRA}.")
    p.add_argument("--out", metavar="DIR", default="fastmlops-loop",
                   help="output directory (models, MLflow store, metrics, timeline); "
                        "default: fastmlops-loop")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: a SQLite store in DIR, or a file "
                        "store without SQLAlchemy)")
    p.add_argument("--rate", type=_positive, default=150.0,
                   help="requests per second of the load generator (default: 150)")
    p.add_argument("--seed", type=int_in_range(0), default=7, help="random seed (default 7)")
    p.add_argument("--stage-seconds", type=_positive, default=4.0,
                   help="minimum seconds of each canary stage (default: 4)")
    p.add_argument("--prometheus", choices=("auto", "off"), default="auto",
                   help="auto (default): when the prometheus binary is installed, a real "
                        "Prometheus scrapes the server with the generated SLO rules")
    p.set_defaults(func=cmd_demo_loop, prog_name="fastmlops demo loop")
