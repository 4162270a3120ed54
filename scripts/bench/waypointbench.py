#!/usr/bin/env python3
"""Waypoint benchmark orchestrator (stdlib only); scripts/bench-waypoint.sh is the entry point.

Measures HTTP request/response through an L7 proxy on loopback, side by side in one run:

  direct          load -> backend
  envoy           load -> Envoy (--concurrency 1)         -> backend
  haproxy         load -> HAProxy (nbthread 1)            -> backend
  waypoint-plain  load -> ambit waypoint --plain-http-listen -> backend
  waypoint-hbone  load -> ambit tunnel client =HBONE=> ambit waypoint =HBONE=> ambit tunnel server -> backend

Every proxy has one route to the backend with the same retry policy (2 attempts in all on
5xx / connect failure, 1 s per attempt, 10 s per request). The backend is
`ambit-testapp serve --body-bytes 1024` (one event loop, 1 KiB answers).

For each variant: a saturated run (wrk, closed loop, fixed connections), then a fixed-rate
run (`ambit-testapp load --rate`, open loop, latency from each request's due time), each
after a warm-up. Around each run the proxy's CPU time is read from /proc (all its threads)
and divided by the requests answered; its resident memory is sampled in the middle of the
run (VmRSS) and its high-water mark read at the end (VmHWM).

A waypoint variant whose command does not exist yet, or that does not answer 200 through
its path, is reported as "not available yet" with the reason, and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tunnelbench import Procs, free_port, log_tail  # noqa: E402  (one home for process handling)

LOOPBACK = "127.0.0.1"
# The backend listens on a second loopback address so the HBONE variant can give it a
# workload address of its own (its tunnel server owns port 15008 there).
BACKEND_HOST = "127.0.0.2"
SERVICE_VIP = "10.96.0.50"
HOST_HEADER = "backend.bench.svc.cluster.local"
TRUST_DOMAIN = "cluster.local"
CLK_TCK = os.sysconf("SC_CLK_TCK")

VARIANTS = ["direct", "envoy", "haproxy", "waypoint-plain", "waypoint-hbone"]


class Unavailable(Exception):
    """The variant cannot run here (yet); the message says why."""


# MARK: - /proc readings


def cpu_ns(pid: int) -> tuple[int, str]:
    """CPU time of every thread of `pid`, in ns: schedstat (ns resolution) when the kernel
    has it, else utime+stime from /proc/PID/stat (clock ticks)."""
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        return total, "schedstat"
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" field 3 is at index 0, so utime (14) and stime (15) are 11 and 12.
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK, "stat"


def memory_mib(pid: int) -> dict:
    out = {}
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


class RSSSampler(threading.Thread):
    """Reads VmRSS every 0.5 s while a run is going; keeps the largest and the middle one."""

    def __init__(self, pid: int | None):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_flag = pid, [], threading.Event()

    def run(self):
        while self.pid and not self.stop_flag.wait(0.5):
            rss = memory_mib(self.pid).get("VmRSS")
            if rss is not None:
                self.samples.append(rss)

    def finish(self) -> float | None:
        self.stop_flag.set()
        self.join()
        return max(self.samples) if self.samples else None


# MARK: - load


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text: str) -> dict:
    def duration_ms(token: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s)", token)
        if not m:
            raise ValueError("unexpected wrk duration %r" % token)
        return float(m.group(1)) * UNITS[m.group(2)]

    pct = {p: duration_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M)}
    requests = re.search(r"^\s+(\d+) requests in ([\d.]+)(s|ms|m)", text, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    if not (pct and requests and rps):
        raise ValueError("could not read wrk's output:\n" + text)
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "p50_ms": pct.get("50"),
        "p90_ms": pct.get("90"),
        "p99_ms": pct.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def measured(pid: int | None, backend_pid: int, run) -> dict:
    """Runs `run()` (which returns a dict with "requests") with CPU and RSS taken around it.
    The backend's CPU per request is kept too, to show it is not the bottleneck."""
    sampler = RSSSampler(pid)
    before = cpu_ns(pid) if pid else None
    backend_before = cpu_ns(backend_pid)[0]
    sampler.start()
    result = run()
    rss = sampler.finish()
    if result["requests"] > 0:
        result["backend_cpu_us_per_req"] = round((cpu_ns(backend_pid)[0] - backend_before) / 1000 / result["requests"], 1)
    if pid:
        after = cpu_ns(pid)
        result["cpu_source"] = after[1]
        if result["requests"] > 0:
            result["cpu_us_per_req"] = round((after[0] - before[0]) / 1000 / result["requests"], 1)
        result["rss_mib_under_load"] = rss
    return result


class Load:
    def __init__(self, args, logdir: Path):
        self.args, self.logdir = args, logdir

    def warmup(self, url: str, name: str) -> None:
        out = subprocess.run(
            [self.args.testapp, "load", "--url", url, "--requests", str(self.args.warmup), "--concurrency", "8",
             "--header", "host: " + HOST_HEADER, "--json"],
            capture_output=True, text=True, timeout=120)
        (self.logdir / ("warmup-%s.json" % name)).write_text(out.stdout + out.stderr)

    def saturated(self, url: str, name: str) -> dict:
        out = subprocess.run(
            [self.args.wrk, "-t1", "-c%d" % self.args.connections, "-d%ds" % self.args.seconds, "--latency",
             "-H", "Host: " + HOST_HEADER, url],
            capture_output=True, text=True, timeout=self.args.seconds + 60)
        (self.logdir / ("wrk-%s.txt" % name)).write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            raise RuntimeError("wrk failed: " + (out.stderr or out.stdout).strip()[-300:])
        return parse_wrk(out.stdout)

    def fixed_rate(self, url: str, name: str) -> dict:
        out = subprocess.run(
            [self.args.testapp, "load", "--url", url, "--rate", str(self.args.rate), "--duration", str(self.args.rate_seconds),
             "--concurrency", str(self.args.connections), "--header", "host: " + HOST_HEADER, "--json"],
            capture_output=True, text=True, timeout=self.args.rate_seconds * 5 + 60)
        (self.logdir / ("rate-%s.json" % name)).write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            raise RuntimeError("ambit-testapp load failed: " + (out.stderr or out.stdout).strip()[-300:])
        report = json.loads(out.stdout)
        statuses = report["statuses"]
        return {
            "requests": report["completed"],
            "rps": report["rps"],
            "p50_ms": report["latency_us"]["p50"] / 1000,
            "p90_ms": report["latency_us"]["p90"] / 1000,
            "p99_ms": report["latency_us"]["p99"] / 1000,
            "non_2xx": sum(v for k, v in statuses.items() if not k.startswith("2")),
            "errors": sum(report["errors"].values()),
        }


# MARK: - variants


def wait_http_ok(url: str, seconds: float, proc=None) -> None:
    """Waits until a GET through `url` answers 200 (the path works end to end)."""
    deadline, last = time.monotonic() + seconds, "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise Unavailable("%s exited with status %d:\n%s" % (proc.name, proc.popen.returncode, log_tail(proc.log, 15)))
        try:
            req = urllib.request.Request(url, headers={"Host": HOST_HEADER})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
                last = "status %d" % r.status
        except Exception as e:  # noqa: BLE001 - any failure just means "not yet"
            last = str(e)
        time.sleep(0.2)
    raise Unavailable("no 200 through %s within %.0f s (last: %s)%s" % (
        url, seconds, last, ("\n" + log_tail(proc.log, 15)) if proc is not None else ""))


def render(template: str, out: Path, **values) -> Path:
    text = string.Template((HERE / template).read_text()).substitute({k: str(v) for k, v in values.items()})
    out.write_text(text)
    return out


def help_text(argv: list) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return out.stdout + out.stderr
    except OSError as e:
        return str(e)


class Variants:
    def __init__(self, args, procs: Procs, work: Path, backend_port: int):
        self.args, self.procs, self.work, self.backend_port = args, procs, work, backend_port

    def start(self, name: str):
        """Starts what the variant needs; returns (url for the load, pid to measure or None)."""
        return getattr(self, "start_" + name.replace("-", "_"))()

    def start_direct(self):
        return "http://%s:%d/" % (BACKEND_HOST, self.backend_port), None

    def start_envoy(self):
        if not self.args.envoy:
            raise Unavailable(self.args.envoy_unavailable or "no Envoy binary")
        port = free_port()
        cfg = render("envoy-waypoint.yaml", self.work / "envoy.yaml", LISTEN_PORT=port, ADMIN_PORT=free_port(),
                     BACKEND_HOST=BACKEND_HOST, BACKEND_PORT=self.backend_port)
        proc = self.procs.start("envoy", [self.args.envoy, "-c", cfg, "--concurrency", "1", "--disable-hot-restart",
                                          "--log-level", "warn", "--base-id", str(os.getpid() % 60000)])
        url = "http://%s:%d/" % (LOOPBACK, port)
        self._peer_ready(url, proc)
        return url, proc.popen.pid

    @staticmethod
    def _peer_ready(url: str, proc) -> None:
        # A peer that is installed but does not work is a failure of the rig, not "not yet".
        try:
            wait_http_ok(url, 30, proc)
        except Unavailable as e:
            raise RuntimeError(str(e)) from None

    def start_haproxy(self):
        if not self.args.haproxy:
            raise Unavailable(self.args.haproxy_unavailable or "no HAProxy binary")
        port = free_port()
        cfg = render("haproxy-waypoint.cfg", self.work / "haproxy.cfg", LISTEN_PORT=port,
                     BACKEND_HOST=BACKEND_HOST, BACKEND_PORT=self.backend_port)
        # -db: stay in the foreground, so the PID we started is the one that serves.
        proc = self.procs.start("haproxy", [self.args.haproxy, "-db", "-f", cfg])
        url = "http://%s:%d/" % (LOOPBACK, port)
        self._peer_ready(url, proc)
        return url, proc.popen.pid

    # The two waypoint variants run once `ambit waypoint` has the pieces they use; until then
    # they say what is missing.

    def _ambit_waypoint_help(self) -> str:
        if not self.args.ambit:
            raise Unavailable(self.args.ambit_unavailable or "no ambit binary")
        text = help_text([self.args.ambit, "waypoint", "--help"])
        if "--config" not in text:
            raise Unavailable("`ambit waypoint` does not exist in this build")
        return text

    def _ca(self) -> Path:
        ca = self.work / "ca"
        if not (ca / "root-cert.pem").exists():
            subprocess.run([self.args.ambit, "dev-ca", "init", "--dir", ca, "--trust-domain", TRUST_DOMAIN],
                           check=True, capture_output=True, timeout=60)
        return ca

    def _start_waypoint(self, extra: list, name: str):
        ca = self._ca()
        cfg = render("waypoint-bench-mesh.yaml", self.work / "waypoint-mesh.yaml", CA_DIR=ca, BACKEND_HOST=BACKEND_HOST,
                     BACKEND_PORT=self.backend_port, SERVICE_VIP=SERVICE_VIP)
        hbone = free_port()
        state = self.work / ("state-" + name)
        state.mkdir(exist_ok=True)
        proc = self.procs.start(name, [
            self.args.ambit, "waypoint", "--config", cfg, "--namespace", "bench", "--name", "waypoint", "--ca-dir", ca,
            "--listen", "%s:%d" % (LOOPBACK, hbone), "--metrics-listen", "%s:%d" % (LOOPBACK, free_port()),
            "--readiness-listen", "%s:%d" % (LOOPBACK, free_port()), "--admin", "%s:%d" % (LOOPBACK, free_port()),
            "--state-dir", state, "--access-log", "off", "--threads", "1", *extra])
        return proc, hbone, ca

    def start_waypoint_plain(self):
        if "--plain-http-listen" not in self._ambit_waypoint_help():
            raise Unavailable("`ambit waypoint` has no --plain-http-listen yet")
        port = free_port()
        proc, _, _ = self._start_waypoint(
            ["--plain-http-listen", "%s:%d" % (LOOPBACK, port), "--plain-upstream", "%s:%d" % (BACKEND_HOST, self.backend_port)],
            "waypoint-plain")
        url = "http://%s:%d/" % (LOOPBACK, port)
        wait_http_ok(url, 30, proc)
        return url, proc.popen.pid

    def start_waypoint_hbone(self):
        self._ambit_waypoint_help()
        if "--server-id" not in help_text([self.args.ambit, "tunnel", "client", "--help"]):
            raise Unavailable("`ambit tunnel client` is missing")
        proc, hbone, ca = self._start_waypoint([], "waypoint-hbone")
        certs = {}
        for sa in ("client", "backend"):
            prefix = self.work / sa
            subprocess.run([self.args.ambit, "dev-ca", "issue", "--dir", ca, "--id",
                            "spiffe://%s/ns/bench/sa/%s" % (TRUST_DOMAIN, sa), "--out", prefix],
                           check=True, capture_output=True, timeout=60)
            certs[sa] = ["--cert", "%s.crt" % prefix, "--key", "%s.key" % prefix,
                         "--trust-bundle", ca / "root-cert.pem", "--trust-domain", TRUST_DOMAIN]
        # The backend's end of the mesh: HBONE on its workload address, as a node would own it.
        with socket.socket() as s:
            if s.connect_ex((BACKEND_HOST, 15008)) == 0:
                raise Unavailable("%s:15008 is in use by something else" % BACKEND_HOST)
        self.procs.start("tunnel-server-backend", [
            self.args.ambit, "tunnel", "server", "--listen", "%s:15008" % BACKEND_HOST,
            "--allow-destination", "%s:%d" % (BACKEND_HOST, self.backend_port), "--threads", "1", *certs["backend"]])
        port = free_port()
        self.procs.start("tunnel-client", [
            self.args.ambit, "tunnel", "client", "--listen", "%s:%d" % (LOOPBACK, port),
            "--server", "%s:%d" % (LOOPBACK, hbone), "--server-id", "spiffe://%s/ns/bench/sa/waypoint" % TRUST_DOMAIN,
            "--target", "%s:80" % SERVICE_VIP, "--threads", "1", *certs["client"]])
        url = "http://%s:%d/" % (LOOPBACK, port)
        wait_http_ok(url, 30, proc)
        return url, proc.popen.pid


# MARK: - table


def fmt(v, digits=2):
    return "–" if v is None else ("%.*f" % (digits, v))


def table(results: dict, rate: int) -> str:
    direct = results.get("direct", {})
    head = ["variant", "sat req/s", "× direct", "sat p50 ms", "sat p99 ms", "%d/s p50 ms" % rate, "%d/s p99 ms" % rate,
            "%d/s p99 × direct" % rate, "CPU µs/req sat", "CPU µs/req %d/s" % rate, "RSS MiB (load / peak)"]
    rows = [head, ["---"] * len(head)]
    for name in VARIANTS:
        if name not in results:
            continue
        r = results[name]
        if r.get("status") != "ok":
            label = "not available yet: " if r.get("status") == "unavailable" else "FAILED: "
            rows.append([name, label + r.get("reason", "?").splitlines()[0]] + [""] * (len(head) - 2))
            continue
        sat, fixed = r["saturated"], r["fixed_rate"]
        ratio = lambda a, b: None if (a is None or not b) else a / b  # noqa: E731
        dsat, dfix = direct.get("saturated", {}), direct.get("fixed_rate", {})
        rss = "–" if name == "direct" else "%s / %s" % (fmt(max(filter(None, [sat.get("rss_mib_under_load"), fixed.get("rss_mib_under_load")]), default=None), 1), fmt(r.get("peak_rss_mib"), 1))
        rows.append([
            name, "%.0f" % sat["rps"], fmt(ratio(sat["rps"], dsat.get("rps"))), fmt(sat["p50_ms"], 3), fmt(sat["p99_ms"], 3),
            fmt(fixed["p50_ms"], 3), fmt(fixed["p99_ms"], 3), fmt(ratio(fixed["p99_ms"], dfix.get("p99_ms"))),
            fmt(sat.get("cpu_us_per_req"), 1), fmt(fixed.get("cpu_us_per_req"), 1), rss])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# MARK: - run


def run(args) -> int:
    logdir, work = Path(args.logdir), Path(args.workdir)
    procs = Procs(logdir, Path(args.pidfile) if args.pidfile else None)
    results: dict = {}
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": "%s, %d cores, %s" % (platform.machine(), os.cpu_count() or 0, platform.release()),
        "saturated": "wrk -t1 -c%d -d%ds" % (args.connections, args.seconds),
        "fixed_rate": "ambit-testapp load --rate %d --duration %d --concurrency %d" % (args.rate, args.rate_seconds, args.connections),
        "envoy_version": args.envoy_version, "haproxy_version": args.haproxy_version,
        "backend": "ambit-testapp serve --body-bytes 1024 (1 event loop)",
    }
    wanted = [v for v in VARIANTS if v in args.variants.split(",")]
    try:
        backend_port = free_port()
        backend = procs.start("backend", [args.testapp, "serve", "--listen", "%s:%d" % (BACKEND_HOST, backend_port),
                                          "--name", "backend", "--version", "v1", "--body-bytes", "1024"])
        wait_http_ok("http://%s:%d/healthz" % (BACKEND_HOST, backend_port), 15, backend)
        variants, load = Variants(args, procs, work, backend_port), Load(args, logdir)
        for name in wanted:
            print("== %s" % name, flush=True)
            before = list(procs.live)
            try:
                url, pid = variants.start(name)
                load.warmup(url, name)
                sat = measured(pid, backend.popen.pid, lambda: load.saturated(url, name))
                print("   saturated: %.0f req/s, p50 %.3f ms, p99 %.3f ms, CPU %s µs/req (backend %s)" % (
                    sat["rps"], sat["p50_ms"], sat["p99_ms"], sat.get("cpu_us_per_req", "–"), sat.get("backend_cpu_us_per_req")), flush=True)
                fixed = measured(pid, backend.popen.pid, lambda: load.fixed_rate(url, name))
                print("   %d req/s: p50 %.3f ms, p99 %.3f ms, CPU %s µs/req (backend %s)" % (
                    args.rate, fixed["p50_ms"], fixed["p99_ms"], fixed.get("cpu_us_per_req", "–"), fixed.get("backend_cpu_us_per_req")), flush=True)
                results[name] = {"status": "ok", "url": url, "saturated": sat, "fixed_rate": fixed}
                if pid:
                    results[name]["peak_rss_mib"] = memory_mib(pid).get("VmHWM")
                # Figures from a path that answers errors would flatter it: such a run fails.
                bad = {k: results[name][k].get("non_2xx", 0) + results[name][k].get("errors", 0) for k in ("saturated", "fixed_rate")}
                if any(bad.values()):
                    raise RuntimeError("answers other than 2xx, or errors: %s (see %s)" % (bad, logdir))
            except Unavailable as e:
                print("   not available yet: %s" % e, flush=True)
                results[name] = {"status": "unavailable", "reason": str(e)}
            except Exception as e:  # noqa: BLE001 - one variant failing must not lose the others
                print("   FAILED: %s" % e, flush=True)
                results[name] = {"status": "failed", "reason": str(e)}
            finally:
                for proc in [p for p in procs.live if p not in before]:
                    procs.stop(proc)
    finally:
        procs.stop_all()
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print()
    for k, v in meta.items():
        print("%s: %s" % (k, v))
    print()
    print(table(results, args.rate))
    print("\nraw numbers: %s; logs: %s" % (args.out, logdir))
    return 0 if all(r["status"] != "failed" for r in results.values()) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--variants", default=",".join(VARIANTS))
    r.add_argument("--testapp", required=True)
    r.add_argument("--wrk", required=True)
    r.add_argument("--ambit", default="")
    r.add_argument("--ambit-unavailable", default="")
    r.add_argument("--envoy", default="")
    r.add_argument("--envoy-unavailable", default="")
    r.add_argument("--envoy-version", default="")
    r.add_argument("--haproxy", default="")
    r.add_argument("--haproxy-unavailable", default="")
    r.add_argument("--haproxy-version", default="")
    r.add_argument("--seconds", type=int, default=10)
    r.add_argument("--rate", type=int, default=1000)
    r.add_argument("--rate-seconds", type=int, default=10)
    r.add_argument("--connections", type=int, default=32)
    r.add_argument("--warmup", type=int, default=2000)
    r.add_argument("--workdir", required=True)
    r.add_argument("--logdir", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--pidfile", default="")
    args = p.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
