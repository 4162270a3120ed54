#!/usr/bin/env python3
"""Tunnel benchmark: load generator, target server and orchestrator (stdlib only).

Measures TCP carried three ways on loopback, in one run, so the numbers are comparable:

  direct  load generator -> target server
  ambit   load generator -> ambit tunnel client -> (HBONE: HTTP/2 CONNECT over mTLS 1.3)
          -> ambit tunnel server -> target server
  envoy   load generator -> Envoy (tcp_proxy + tunneling_config) -> (same HBONE shape)
          -> Envoy (HCM terminating CONNECT) -> target server

For each: bulk throughput of one connection, p50/p99 of a 1 KiB echo at a fixed request
rate, and the peak RSS of each proxy process. `scripts/bench-tunnel.sh` is the entry point;
it installs Envoy, builds ambit and then calls `run` here. The subcommands `serve`,
`throughput` and `latency` exist so one leg can be poked at by hand.

The target server speaks a tiny protocol on one port so a tunnel needs only one target:
the first byte picks the mode.
  b"S" + 8-byte big-endian N, then N bytes  ->  replies b"OK <N>\\n" once all N arrived
  b"E", then anything                       ->  echoes every byte back
A length prefix (rather than relying on half-close) keeps the measurement independent of
how each proxy propagates a FIN through an HTTP/2 stream.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import selectors
import signal
import socket
import string
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"

CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/client"
SERVER_ID = "spiffe://cluster.local/ns/bench/sa/server"
TRUST_DOMAIN = "cluster.local"

CHUNK = 1 << 20  # bulk send/recv unit: large enough that syscalls are not the bottleneck


# MARK: - target server


def _serve_connection(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = conn.recv(1)
        if mode == b"S":
            header = _recv_exact(conn, 8)
            want = struct.unpack(">Q", header)[0]
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            got = 0
            while got < want:
                n = conn.recv_into(view, min(CHUNK, want - got))
                if n == 0:
                    break
                got += n
            conn.sendall(b"OK %d\n" % got)
        elif mode == b"E":
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    parts = []
    while n:
        data = conn.recv(n)
        if not data:
            raise ConnectionError("peer closed before sending %d more bytes" % n)
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def cmd_serve(args: argparse.Namespace) -> None:
    """Sink + echo target. Prints 'READY <port>' once listening, then serves until killed."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((LOOPBACK, args.port))
    lsock.listen(128)
    print("READY %d" % lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=_serve_connection, args=(conn,), daemon=True).start()


# MARK: - load generator


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def measure_throughput(port: int, nbytes: int) -> dict:
    """One connection pushes nbytes into the sink; time until the sink confirms all of it.

    The clock starts after connect() and stops when the sink's ack arrives, so it covers
    the tunnel's stream set-up but not process start-up; with hundreds of MiB the set-up is
    noise.
    """
    payload = memoryview(os.urandom(CHUNK))
    sock = _connect(port)
    with sock:
        t0 = time.perf_counter_ns()
        sock.sendall(b"S" + struct.pack(">Q", nbytes))
        left = nbytes
        while left:
            n = min(CHUNK, left)
            sock.sendall(payload[:n])
            left -= n
        ack = b""
        while not ack.endswith(b"\n"):
            data = sock.recv(64)
            if not data:
                raise ConnectionError("sink closed without an ack (got %r)" % ack)
            ack += data
        t1 = time.perf_counter_ns()
    got = int(ack.split()[1])
    if got != nbytes:
        raise RuntimeError("sink received %d bytes, expected %d" % (got, nbytes))
    seconds = (t1 - t0) / 1e9
    return {"bytes": nbytes, "seconds": seconds, "mb_per_s": nbytes / seconds / 1e6}


def _payload(seq: int, size: int, noise: bytes) -> bytes:
    # Every request differs (sequence number + a sliding window of random bytes), so an
    # echo that reorders, drops or corrupts anything fails the byte-for-byte comparison.
    off = (seq * 97) % (len(noise) - size)
    return struct.pack(">Q", seq) + noise[off : off + size - 8]


def check_echo(port: int, nbytes: int = 256 * 1024, piece: int = 16 * 1024) -> None:
    """Pre-flight: random bytes through the echo must come back identical."""
    data = os.urandom(nbytes)
    sock = _connect(port)
    with sock:
        sock.sendall(b"E")
        for off in range(0, nbytes, piece):
            chunk = data[off : off + piece]
            sock.sendall(chunk)
            back = _recv_exact(sock, len(chunk))
            if back != chunk:
                raise RuntimeError("echo returned different bytes at offset %d" % off)


def _percentile(sorted_values: list, p: float) -> float:
    # Nearest rank: the smallest sample with at least p% of all samples at or below it.
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def _summary_ms(samples_ns: list) -> dict:
    s = sorted(samples_ns)
    ms = lambda v: round(v / 1e6, 4)  # noqa: E731
    return {
        "count": len(s),
        "p50_ms": ms(_percentile(s, 50)),
        "p90_ms": ms(_percentile(s, 90)),
        "p99_ms": ms(_percentile(s, 99)),
        "p999_ms": ms(_percentile(s, 99.9)),
        "max_ms": ms(s[-1]) if s else None,
        "mean_ms": ms(sum(s) / len(s)) if s else None,
    }


def measure_latency(port: int, seconds: float, rate: int, size: int = 1024, warmup: int = 200) -> dict:
    """Open-loop 1 KiB echo at a fixed rate on one connection; per-request RTT.

    Requests are sent on a fixed schedule whether or not earlier answers came back, so a
    stall in the tunnel shows up as latency instead of silently lowering the request rate.
    One thread drives both directions with select(): two threads would fight over the GIL
    and add their own jitter. select() rather than epoll because epoll's timeout is whole
    milliseconds, as coarse as the 1 ms gap between requests.

    rtt_*: from the moment send() was called (what the tunnel adds, the headline figure).
    sched_*: from the moment the request was due, which also counts any lateness of this
    generator (coordinated-omission-corrected, wrk2 style); reported for reference.
    """
    noise = os.urandom(64 * 1024)
    sock = _connect(port)
    with sock:
        sock.sendall(b"E")
        # Closed-loop warm-up: the first requests pay for TLS/stream set-up and cold
        # caches, which is not the steady state being measured.
        for i in range(warmup):
            p = _payload(i, size, noise)
            sock.sendall(p)
            if _recv_exact(sock, size) != p:
                raise RuntimeError("warm-up echo mismatch at request %d" % i)

        total = int(seconds * rate)
        interval = 1e9 / rate
        sent_at = [0] * total
        rtt, sched_rtt = [], []
        sock.setblocking(False)
        sel = selectors.SelectSelector()
        sel.register(sock, selectors.EVENT_READ)
        outbuf = b""
        rxbuf = bytearray()
        next_send = done = 0
        late_ns = []
        start = time.perf_counter_ns() + 1_000_000
        deadline = start + int(seconds * 1e9) + 10_000_000_000
        while done < total:
            now = time.perf_counter_ns()
            if now > deadline:
                raise RuntimeError("latency run: only %d of %d echoes came back" % (done, total))
            while next_send < total and now >= start + next_send * interval:
                late_ns.append(now - (start + next_send * interval))
                sent_at[next_send] = now
                outbuf += _payload(next_send + warmup, size, noise)
                next_send += 1
            if outbuf:
                try:
                    n = sock.send(outbuf)
                    outbuf = outbuf[n:]
                except BlockingIOError:
                    pass
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbuf else 0)
            sel.modify(sock, wanted)
            if next_send < total:
                timeout = max(0.0, (start + next_send * interval - time.perf_counter_ns()) / 1e9)
            else:
                timeout = 0.5
            for _key, mask in sel.select(timeout):
                if not mask & selectors.EVENT_READ:
                    continue
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                t = time.perf_counter_ns()
                if not data:
                    raise ConnectionError("echo closed after %d of %d responses" % (done, total))
                rxbuf += data
                while len(rxbuf) >= size and done < next_send:
                    if rxbuf[:size] != _payload(done + warmup, size, noise):
                        raise RuntimeError("echo mismatch at request %d" % done)
                    del rxbuf[:size]
                    rtt.append(t - sent_at[done])
                    sched_rtt.append(t - int(start + done * interval))
                    done += 1
        sel.close()
    result = {"requests": total, "rate": rate, "size": size, "seconds": seconds}
    result.update({"rtt_" + k: v for k, v in _summary_ms(rtt).items()})
    result.update({"sched_" + k: v for k, v in _summary_ms(sched_rtt).items()})
    result["send_lateness_p99_ms"] = _summary_ms(late_ns)["p99_ms"]
    return result


def cmd_throughput(args: argparse.Namespace) -> None:
    print(json.dumps(measure_throughput(args.port, args.bytes)))


def cmd_latency(args: argparse.Namespace) -> None:
    print(json.dumps(measure_latency(args.port, args.seconds, args.rate)))


# MARK: - processes


def _die_with_parent() -> None:
    # If the orchestrator is killed outright (SIGKILL, OOM) its children must not outlive
    # it holding ports; PR_SET_PDEATHSIG has the kernel send them SIGTERM.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    peak_rss_mib: float | None = None


@dataclass
class Procs:
    """Every process the benchmark starts; each is stopped by its PID, never by name.

    The PIDs still running are also kept in a file the shell wrapper reads in its exit trap,
    so they are cleaned up even if this orchestrator itself is killed before its `finally`
    runs. A PID leaves the file as soon as its process is reaped, so the trap never signals
    a recycled PID.
    """

    logdir: Path
    pidfile: Path | None
    live: list = field(default_factory=list)

    def start(self, name: str, argv: list, stdout=None) -> Proc:
        log = self.logdir / (name + ".log")
        logf = open(log, "wb")
        popen = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else logf,
            stderr=logf,
            preexec_fn=_die_with_parent,
            # Own process group: a Ctrl-C reaches only the orchestrator, which then stops
            # the children in order and still reads their peak RSS.
            start_new_session=True,
        )
        logf.close()
        proc = Proc(name, popen, log)
        self.live.append(proc)
        self._write_pidfile()
        return proc

    def _write_pidfile(self) -> None:
        if self.pidfile:
            tmp = self.pidfile.with_suffix(".tmp")
            tmp.write_text("".join("%d\n" % p.popen.pid for p in self.live))
            tmp.replace(self.pidfile)  # atomic: the trap never reads half a file

    def stop(self, proc: Proc) -> None:
        if proc not in self.live:
            return
        if proc.popen.poll() is None:
            proc.peak_rss_mib = peak_rss_mib(proc.popen.pid)
            proc.popen.terminate()
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        # Forgotten only once reaped, so an interruption above leaves it to stop_all().
        self.live.remove(proc)
        self._write_pidfile()

    def stop_all(self) -> None:
        for proc in reversed(list(self.live)):
            self.stop(proc)


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the high-water mark of resident memory over the process's whole life."""
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def free_port() -> int:
    # Bind-to-0 then close: racy in theory, fine on a dedicated loopback benchmark.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    | " + l for l in text[-lines:]) or "    | (empty log)"


def last_line(path: Path) -> str:
    """The last non-empty log line: usually the error, short enough for a table cell."""
    try:
        lines = [l.strip() for l in path.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return "(no log)"
    return lines[-1][:200] if lines else "(empty log)"


def wait_for_port(proc: Proc, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                "%s exited with status %s before listening on %s:%d: %s\nlast lines of %s:\n%s"
                % (proc.name, proc.popen.returncode, LOOPBACK, port, last_line(proc.log), proc.log, log_tail(proc.log))
            )
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        "%s did not accept connections on %s:%d within %.0fs\nlast lines of %s:\n%s"
        % (proc.name, LOOPBACK, port, timeout, proc.log, log_tail(proc.log))
    )


# MARK: - certificates


def make_certs_with_ambit(ambit: Path, workdir: Path, logdir: Path) -> dict:
    ca = workdir / "ca"
    run_logged([ambit, "dev-ca", "init", "--dir", ca, "--trust-domain", TRUST_DOMAIN], logdir / "dev-ca.log")
    out = {"root": ca / "root-cert.pem"}
    for role, spiffe in (("client", CLIENT_ID), ("server", SERVER_ID)):
        prefix = workdir / role
        run_logged([ambit, "dev-ca", "issue", "--dir", ca, "--id", spiffe, "--out", prefix], logdir / "dev-ca.log")
        out[role] = (Path(str(prefix) + ".crt"), Path(str(prefix) + ".key"))
    return out


def make_certs_with_openssl(workdir: Path, logdir: Path) -> dict:
    """Same shape as `ambit dev-ca` (EC P-256 root, leaves with only a SPIFFE URI SAN).

    Used only when the ambit leg is not run, so the Envoy leg still has certificates.
    """
    ca = workdir / "ca"
    ca.mkdir()
    log = logdir / "openssl.log"
    root_key, root = ca / "root-key.pem", ca / "root-cert.pem"
    run_logged(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root_key], log)
    run_logged(
        ["openssl", "req", "-x509", "-new", "-key", root_key, "-out", root, "-days", "2", "-subj", "/O=bench/CN=bench root",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectAltName=URI:spiffe://" + TRUST_DOMAIN],
        log,
    )
    out = {"root": root}
    for role, spiffe in (("client", CLIENT_ID), ("server", SERVER_ID)):
        key, csr, crt = workdir / (role + ".key"), workdir / (role + ".csr"), workdir / (role + ".crt")
        ext = workdir / (role + ".ext")
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,URI:%s\n" % spiffe
        )
        run_logged(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], log)
        run_logged(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/O=bench"], log)
        run_logged(
            ["openssl", "x509", "-req", "-in", csr, "-CA", root, "-CAkey", root_key, "-CAcreateserial",
             "-out", crt, "-days", "1", "-extfile", ext],
            log,
        )
        out[role] = (crt, key)
    return out


def run_logged(argv: list, log: Path) -> None:
    with open(log, "ab") as f:
        f.write(("$ " + " ".join(str(a) for a in argv) + "\n").encode())
        f.flush()
        rc = subprocess.call([str(a) for a in argv], stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    if rc != 0:
        raise RuntimeError("`%s` failed (status %d): %s\nlast lines of %s:\n%s"
                           % (" ".join(str(a) for a in argv[:3]), rc, last_line(log), log, log_tail(log)))


# MARK: - variants


def render(template: str, dest: Path, **values) -> Path:
    dest.write_text(string.Template((HERE / template).read_text()).substitute({k: str(v) for k, v in values.items()}))
    return dest


def start_ambit(procs: Procs, ambit: Path, certs: dict, target_port: int) -> tuple[int, list]:
    server_port, client_port = free_port(), free_port()
    target = "%s:%d" % (LOOPBACK, target_port)
    scrt, skey = certs["server"]
    ccrt, ckey = certs["client"]
    server = procs.start("ambit-tunnel-server", [
        ambit, "tunnel", "server", "--listen", "%s:%d" % (LOOPBACK, server_port),
        "--cert", scrt, "--key", skey, "--trust-bundle", certs["root"], "--trust-domain", TRUST_DOMAIN,
        "--allow-destination", target, "--threads", "1",
    ])
    wait_for_port(server, server_port)
    client = procs.start("ambit-tunnel-client", [
        ambit, "tunnel", "client", "--listen", "%s:%d" % (LOOPBACK, client_port),
        "--server", "%s:%d" % (LOOPBACK, server_port), "--server-id", SERVER_ID, "--target", target,
        "--cert", ccrt, "--key", ckey, "--trust-bundle", certs["root"], "--threads", "1",
    ])
    wait_for_port(client, client_port)
    return client_port, [client, server]


def start_envoy(procs: Procs, envoy: Path, certs: dict, target_port: int, workdir: Path) -> tuple[int, list, dict]:
    server_port, client_port = free_port(), free_port()
    server_admin, client_admin = free_port(), free_port()
    scrt, skey = certs["server"]
    ccrt, ckey = certs["client"]
    server_cfg = render(
        "envoy-server.yaml", workdir / "envoy-server.yaml",
        ADMIN_PORT=server_admin, LISTEN_PORT=server_port, TARGET_PORT=target_port,
        CERT=scrt, KEY=skey, ROOT=certs["root"], TRUST_DOMAIN=TRUST_DOMAIN,
    )
    client_cfg = render(
        "envoy-client.yaml", workdir / "envoy-client.yaml",
        ADMIN_PORT=client_admin, LISTEN_PORT=client_port, SERVER_PORT=server_port,
        TARGET="%s:%d" % (LOOPBACK, target_port), SERVER_ID=SERVER_ID,
        CERT=ccrt, KEY=ckey, ROOT=certs["root"],
    )
    # --disable-hot-restart: two Envoys on one host would otherwise fight over the shared
    # memory region of base id 0. --concurrency 1: one worker, like ambit's --threads 1.
    common = ["--concurrency", "1", "--disable-hot-restart", "--log-level", "warning"]
    server = procs.start("envoy-server", [envoy, "-c", server_cfg, *common])
    wait_for_port(server, server_port)
    client = procs.start("envoy-client", [envoy, "-c", client_cfg, *common])
    wait_for_port(client, client_port)
    return client_port, [client, server], {"client": client_admin, "server": server_admin}


def envoy_stats(admin_port: int) -> dict:
    with urllib.request.urlopen("http://%s:%d/stats?format=json" % (LOOPBACK, admin_port), timeout=5) as r:
        doc = json.load(r)
    return {s["name"]: s["value"] for s in doc.get("stats", []) if "name" in s and "value" in s}


def envoy_evidence(admin: dict, logdir: Path) -> dict:
    """Counters that prove the Envoy pair really tunnelled: mTLS 1.3, HTTP/2, CONNECT."""
    c, s = envoy_stats(admin["client"]), envoy_stats(admin["server"])
    (logdir / "envoy-client.stats.json").write_text(json.dumps(c, indent=1, sort_keys=True))
    (logdir / "envoy-server.stats.json").write_text(json.dumps(s, indent=1, sort_keys=True))
    sum_suffix = lambda d, suffix: sum(v for k, v in d.items() if k.endswith(suffix))  # noqa: E731
    return {
        "client_h2_connections": c.get("cluster.hbone_server.upstream_cx_http2_total", 0),
        "client_tls13_handshakes": c.get("cluster.hbone_server.ssl.versions.TLSv1.3", 0),
        "client_tls_verify_failures": c.get("cluster.hbone_server.ssl.fail_verify_san", 0)
        + c.get("cluster.hbone_server.ssl.fail_verify_error", 0),
        "client_connect_streams": c.get("cluster.hbone_server.upstream_rq_total", 0),
        "server_tls13_handshakes": sum_suffix(s, "ssl.versions.TLSv1.3"),
        "server_peer_certs_verified": sum_suffix(s, "ssl.handshake") - sum_suffix(s, "ssl.no_certificate"),
        "server_connect_requests": s.get("http.hbone_in.downstream_rq_total", 0),
        "server_connect_2xx": s.get("http.hbone_in.downstream_rq_2xx", 0),
        "server_upstream_tcp_connections": s.get("cluster.target.upstream_cx_total", 0),
    }


def measure_variant(name: str, port: int, cfg: argparse.Namespace) -> dict:
    check_echo(port)
    runs = []
    for i in range(cfg.repeat):
        r = measure_throughput(port, cfg.bytes)
        runs.append(r)
        print("  %-6s throughput run %d/%d: %8.1f MB/s" % (name, i + 1, cfg.repeat, r["mb_per_s"]), flush=True)
    mbps = sorted(r["mb_per_s"] for r in runs)
    lat = measure_latency(port, cfg.seconds, cfg.rate)
    print("  %-6s latency: p50 %.3f ms  p99 %.3f ms  (%d requests at %d/s)"
          % (name, lat["rtt_p50_ms"], lat["rtt_p99_ms"], lat["requests"], cfg.rate), flush=True)
    return {
        "throughput_mb_per_s": round(mbps[len(mbps) // 2], 1),  # median of the repeats
        "throughput_runs": runs,
        "latency": lat,
    }


# MARK: - report


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(results: dict) -> None:
    direct = results.get("direct") or {}
    d_tp = direct.get("throughput_mb_per_s")
    d_p99 = (direct.get("latency") or {}).get("rtt_p99_ms")
    header = "%-8s %16s %9s %8s %8s %9s  %s" % ("variant", "throughput MB/s", "x direct", "p50 ms", "p99 ms", "+p99 ms", "peak RSS MiB (client/server)")
    print()
    print(header)
    print("-" * len(header))
    for name in ("direct", "ambit", "envoy"):
        r = results.get(name)
        if r is None:
            continue
        if r.get("status") != "ok":
            print("%-8s %s" % (name, r.get("status", "not run").upper() + ": " + r.get("reason", "")))
            continue
        tp = r["throughput_mb_per_s"]
        lat = r["latency"]
        is_tunnel = name != "direct"
        ratio = tp / d_tp if is_tunnel and d_tp else None
        added = lat["rtt_p99_ms"] - d_p99 if is_tunnel and d_p99 is not None else None
        rss = r.get("peak_rss_mib")
        rss_s = "%s / %s" % (fmt(rss["client"], ".1f"), fmt(rss["server"], ".1f")) if rss else "-"
        print("%-8s %16s %9s %8s %8s %9s  %s" % (
            name, fmt(tp, ".1f"), fmt(ratio, ".2f"), fmt(lat["rtt_p50_ms"], ".3f"),
            fmt(lat["rtt_p99_ms"], ".3f"), fmt(added, "+.3f"), rss_s))
    print()


# MARK: - orchestrator


def git_describe(root: Path) -> str | None:
    try:
        return subprocess.check_output(["git", "-C", str(root), "describe", "--always", "--dirty"],
                                       stderr=subprocess.DEVNULL, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cmd_run(cfg: argparse.Namespace) -> int:
    variants = [v for v in cfg.variants.split(",") if v]
    logdir = Path(cfg.logdir).resolve()
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(cfg.workdir).resolve()
    procs = Procs(logdir, Path(cfg.pidfile) if cfg.pidfile else None)

    # SIGTERM (from the wrapper's trap) becomes an exception, so `finally` stops children.
    def _on_term(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, _on_term)

    results: dict = {}
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "ambit_git": git_describe(HERE.parent.parent),
        "bytes": cfg.bytes, "repeat": cfg.repeat, "latency_seconds": cfg.seconds, "rate": cfg.rate,
        "profile": cfg.profile, "request_size": 1024, "ambit_bin": cfg.ambit, "envoy_bin": cfg.envoy,
        "envoy_version": cfg.envoy_version or None, "units": {
            "throughput": "MB/s = 10^6 bytes/s", "rss": "MiB (VmHWM)", "latency": "ms"},
    }
    exit_code = 0
    try:
        certs = None
        if "ambit" in variants and cfg.ambit:
            try:
                certs = make_certs_with_ambit(Path(cfg.ambit), workdir, logdir)
                meta["certificates"] = "ambit dev-ca"
            except RuntimeError as e:
                # Without its own certificates the ambit leg means nothing, but direct and
                # Envoy can still be measured with equivalent ones.
                exit_code = 1
                results["ambit"] = {"status": "failed", "reason": "ambit dev-ca: " + str(e).splitlines()[0]}
                print("ambit dev-ca FAILED, ambit leg skipped: %s" % e, file=sys.stderr, flush=True)
                workdir = workdir / "openssl"
                workdir.mkdir()
        if certs is None:
            certs = make_certs_with_openssl(workdir, logdir)
            meta["certificates"] = "openssl (ambit dev-ca not used)"

        server = procs.start("target-server", [sys.executable, __file__, "serve"], stdout=subprocess.PIPE)
        line = server.popen.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError("target server failed to start; see %s\n%s" % (server.log, log_tail(server.log)))
        target_port = int(line[1])

        for name in variants:
            if name in results:  # already failed during set-up
                continue
            print("== %s" % name, flush=True)
            if name == "ambit" and not cfg.ambit:
                results[name] = {"status": "unavailable", "reason": cfg.ambit_unavailable or "no ambit binary"}
                continue
            if name == "envoy" and not cfg.envoy:
                results[name] = {"status": "unavailable", "reason": cfg.envoy_unavailable or "no envoy binary"}
                continue
            started: list = []
            try:
                extra = {}
                if name == "direct":
                    port = target_port
                elif name == "ambit":
                    port, started = start_ambit(procs, Path(cfg.ambit), certs, target_port)
                elif name == "envoy":
                    port, started, admin = start_envoy(procs, Path(cfg.envoy), certs, target_port, workdir)
                else:
                    raise RuntimeError("unknown variant %r (want direct, ambit, envoy)" % name)
                r = measure_variant(name, port, cfg)
                if name == "envoy":
                    extra["envoy_evidence"] = envoy_evidence(admin, logdir)
                    print("  envoy  evidence: %s" % json.dumps(extra["envoy_evidence"]), flush=True)
                for p in started:
                    procs.stop(p)  # reads VmHWM right before the kill
                if started:
                    r["peak_rss_mib"] = {"client": started[0].peak_rss_mib, "server": started[1].peak_rss_mib}
                r.update(extra, status="ok")
                results[name] = r
            except KeyboardInterrupt:
                raise
            except Exception as e:  # one broken leg must not hide the others' numbers
                exit_code = 1
                results[name] = {"status": "failed", "reason": str(e).splitlines()[0]}
                print("  %s FAILED: %s" % (name, e), file=sys.stderr, flush=True)
                for p in started:
                    procs.stop(p)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping processes", file=sys.stderr)
        exit_code = 130
    finally:
        procs.stop_all()

    print_table(results)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print("raw numbers: %s   logs: %s" % (out, logdir))
    for name, r in results.items():
        if r.get("status") != "ok":
            print("!!! %s: %s — %s" % (name, r.get("status", "").upper(), r.get("reason", "")), file=sys.stderr)
    return exit_code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("serve", help="sink+echo target server")
    p.add_argument("--port", type=int, default=0)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("throughput", help="bulk one-way transfer into the sink")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bytes", type=int, default=512 << 20)
    p.set_defaults(func=cmd_throughput)

    p = sub.add_parser("latency", help="open-loop 1 KiB echo")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rate", type=int, default=1000)
    p.set_defaults(func=cmd_latency)

    p = sub.add_parser("run", help="the whole comparison (normally via scripts/bench-tunnel.sh)")
    p.add_argument("--variants", default="direct,ambit,envoy")
    p.add_argument("--ambit", default="", help="ambit binary; empty = ambit leg unavailable")
    p.add_argument("--ambit-unavailable", default="", help="why there is no ambit binary")
    p.add_argument("--envoy", default="", help="envoy binary; empty = envoy leg unavailable")
    p.add_argument("--envoy-unavailable", default="", help="why there is no envoy binary")
    p.add_argument("--envoy-version", default="")
    p.add_argument("--bytes", type=int, default=512 << 20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--workdir", required=True, help="scratch dir for certs and configs")
    p.add_argument("--logdir", default="bench-out/tunnel-logs")
    p.add_argument("--out", default="bench-out/tunnel.json")
    p.add_argument("--pidfile", default="")
    p.add_argument("--profile", default="full", help="recorded in the JSON: full or quick")
    p.set_defaults(func=cmd_run)

    args = ap.parse_args()
    rc = args.func(args)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
