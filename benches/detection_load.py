#!/usr/bin/env python3
"""Object and face detection through the server: its cost per key frame, how many 1 picture/s
streams one core keeps up with, and ingest's PERSISTED latency with detection on and off.

Every run starts its own `openkvs serve` (a new data directory, SQLite, `--listen 127.0.0.1:PORT`)
with a configuration file written here, and feeds it with `openkvs bench ingest`:

  keyframe  `[workers.detection]` on `bench-*`, `interval_ms = 0` (the key frame of each fragment),
            motion gate off, selection ALL. The server and its detector process run under
            `taskset -c CPU` (everything on one core). A warm-up fragment starts the detector and
            loads its models; then `bench ingest --streams 1` (not realtime) sends --file at once and
            the detector's answered-pictures counter (`openkvs_worker_uploads{worker="detection",
            outcome="delivered"}`) is polled every 50 ms: ms per key frame = time from the first to
            the last answer of the file / (answers - 1), and CPU ms per key frame (utime+stime
            of the server and the detector over the same answers). This is the whole path:
            reading the fragment, decoding its key frame, letterboxing, inference, events and the
            thumbnail. On a busy machine the wall figure includes waiting for the core (the
            detector runs at nice 10); the CPU figure does not.
  streams   `interval_ms` (1000: one picture per second of video), motion gate off, only the
            detector process pinned to CPU (`taskset -a -p -c CPU` once it has started);
            `bench ingest --realtime --streams N` for --seconds. Reported: pictures the detector
            answered per second against the pictures the streams asked for, and the worker's lag
            (`openkvs_worker_lag_seconds` / `_lag_fragments`, the worst stream) over the run: a
            detector that keeps up ends with its lag bounded by a fragment or two; one that does not
            ends with the lag growing by the shortfall.
  latency   the same realtime load against a server with detection on (as `streams`, detector not
            pinned) and one without it (`[workers.detection]` selects no stream), alternated
            --rounds times (off, on, on, off, off, on, ...), back to back. Reported per run: PERSISTED p50 /
            p90 / p99 / max from `bench ingest --json`, server and detector CPU, load average.
            With --stub-detector the detector answers every picture at once with nothing found:
            the server's own share of the work without the models' CPU.

Usage (docs/BENCHMARKS.md, "Object and face detection"):
  (cd detection && npm ci)
  cargo build --bin openkvs
  python3 benches/detection_load.py keyframe --openkvs target/debug/openkvs --file clip.mkv
  python3 benches/detection_load.py streams  --openkvs target/debug/openkvs --file long.mkv --streams 2
  python3 benches/detection_load.py latency  --openkvs target/debug/openkvs --file long.mkv --streams 4
Standard library only; needs `taskset` (util-linux) for the pinning.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from proc_stats import cpu_seconds, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="openkvs", AWS_SECRET_ACCESS_KEY="openkvs-secret",
           AWS_REGION="us-east-1")
for k in list(ENV):
    if k.startswith("OPENKVS_") or k in ("DATABASE_URL", "RUST_LOG"):
        del ENV[k]


# A detector that answers every picture at once with nothing found: with --stub-detector the
# server does all its own work per picture (read, decode, letterbox, the pipe, events, cursors)
# without the models' CPU.
STUB = r"""let buf = Buffer.alloc(0); let need = null;
process.stdout.write(JSON.stringify({ ready: true, runtime: 'stub' }) + '\n');
process.stdin.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    if (need === null) {
      const nl = buf.indexOf(10); if (nl < 0) return;
      const h = JSON.parse(buf.subarray(0, nl).toString()); buf = buf.subarray(nl + 1); need = h.width * h.height * 3;
    }
    if (buf.length < need) return;
    buf = buf.subarray(need); need = null;
    process.stdout.write('{"objects":[],"faces":[],"ms":0}\n');
  }
});
"""


def stub_detector():
    d = tempfile.mkdtemp(prefix="openkvs-stub-detector-")
    atexit.register(shutil.rmtree, d, True)
    os.makedirs(os.path.join(d, "node_modules", "@vladmandic", "human"))
    with open(os.path.join(d, "detector.cjs"), "w") as f:
        f.write(STUB)
    return d


def children(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Server:
    """`openkvs serve` with a configuration of its own, in a temporary data directory."""

    def __init__(self, args, detection, interval_ms, pin_all=None):
        self.dir = tempfile.mkdtemp(prefix="openkvs-detbench-")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(self.dir, "openkvs.toml")
        with open(cfg, "w") as f:
            f.write("[workers.detection]\n")
            if detection:
                f.write('streams = ["bench-*"]\nlabels = ["ALL"]\nmotion_gate = false\n')
                f.write(f"interval_ms = {interval_ms}\n")
            f.write(f'detector_dir = "{os.path.abspath(args.detector_dir)}"\n')
        cmd = [os.path.abspath(args.openkvs), "serve", "--config", cfg, "--listen",
               f"127.0.0.1:{self.port}", "--data-dir", os.path.join(self.dir, "data")]
        if pin_all is not None:
            cmd = ["taskset", "-c", str(pin_all)] + cmd
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen(cmd, env=ENV, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/ready", timeout=1).read()
                return
            except Exception:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        sys.exit(f"openkvs serve did not start: see {self.log.name}")

    def metrics(self):
        text = urllib.request.urlopen(self.endpoint + "/metrics", timeout=5).read().decode()
        out = {}
        for line in text.splitlines():
            m = re.match(r'(openkvs_worker_[a-z_]+)\{([^}]*)\} ([0-9.eE+-]+)$', line)
            if m and 'worker="detection"' in m.group(2):
                key = m.group(1).removesuffix("_total")
                o = re.search(r'outcome="([a-z]+)"', m.group(2))
                if o:
                    key += "_" + o.group(1)
                out[key] = float(m.group(3))
        return out

    def detector_pid(self):
        for c in children(self.proc.pid):
            try:
                with open(f"/proc/{c}/cmdline") as f:
                    if "detector.cjs" in f.read():
                        return c
            except OSError:
                pass
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_ingest(args, endpoint, streams, realtime, seconds=None, prefix_env=None):
    cmd = [os.path.abspath(args.openkvs), "bench", "ingest", "--endpoint", endpoint, "--streams",
           str(streams), "--file", args.file, "--json"]
    if realtime:
        cmd += ["--realtime", "--ramp-up-secs", "2"]
    if seconds:
        cmd += ["--duration-secs", str(seconds)]
    out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=False)
    if out.returncode != 0 and not out.stdout.strip():
        sys.exit(f"bench ingest failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def put(args, endpoint, stream, file):
    subprocess.run([os.path.abspath(args.openkvs), "put", "--stream", stream, "--create", "--endpoint",
                    endpoint, file], env=ENV, check=True, capture_output=True)


def wait_answered(srv, at_least, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if srv.metrics().get("openkvs_worker_uploads_delivered", 0) >= at_least:
            return True
        time.sleep(0.2)
    return False


def keyframe(args):
    srv = Server(args, True, 0, pin_all=args.cpu)
    try:
        # Warm-up: start the detector and load its models.
        put(args, srv.endpoint, "bench-warmup", os.path.join(ROOT, "tests/fixtures/h264_static_640x360_10s.mkv"))
        if not wait_answered(srv, 5, 180):
            sys.exit("the detector did not answer the warm-up pictures")
        base = srv.metrics().get("openkvs_worker_uploads_delivered", 0)
        result = {}
        t = threading.Thread(target=lambda: result.update(bench_ingest(args, srv.endpoint, 1, False)))
        t.start()
        stamps = []
        last = base
        deadline = time.time() + 900
        load = [loadavg()]
        while time.time() < deadline:
            n = srv.metrics().get("openkvs_worker_uploads_delivered", 0)
            if n > last:
                det = srv.detector_pid()
                cpu = (cpu_seconds(srv.proc.pid) or 0) + ((cpu_seconds(det) or 0) if det else 0)
                stamps.append((time.time(), n, cpu))
                last = n
            if not t.is_alive() and srv.metrics().get("openkvs_worker_lag_fragments", 1) == 0 and n > base:
                break
            time.sleep(0.05)
            if len(stamps) % 10 == 0:
                load.append(loadavg())
        t.join()
        answers = last - base
        span = stamps[-1][0] - stamps[0][0] if len(stamps) > 1 else None
        per = span / (stamps[-1][1] - stamps[0][1]) * 1000 if span else None
        cpu_per = (stamps[-1][2] - stamps[0][2]) / (stamps[-1][1] - stamps[0][1]) * 1000 if span else None
        row = {"mode": "keyframe", "file": os.path.basename(args.file), "cpu": args.cpu,
               "fragments": result.get("fragments_persisted"), "pictures": answers,
               "ms_per_key_frame": round(per, 1) if per else None,
               "cpu_ms_per_key_frame": round(cpu_per, 1) if cpu_per else None,
               "load": [min(load), max(load)]}
        print(json.dumps(row), flush=True)
    finally:
        srv.stop()


def load_run(args, detection, pin):
    srv = Server(args, detection, args.interval_ms)
    samples = []
    stop = threading.Event()
    state = {"pinned": None}

    def poll():
        while not stop.is_set():
            pid = srv.detector_pid() if detection else None
            if pid and pin is not None and state["pinned"] != pid:
                subprocess.run(["taskset", "-a", "-p", "-c", str(pin), str(pid)], capture_output=True)
                state["pinned"] = pid
            m = srv.metrics()
            samples.append((time.time(), m, cpu_seconds(pid) if pid else None, loadavg()))
            stop.wait(2)

    poller = threading.Thread(target=poll)
    try:
        cpu0 = cpu_seconds(srv.proc.pid)
        t0 = time.time()
        poller.start()
        summary = bench_ingest(args, srv.endpoint, args.streams, True, args.seconds)
        t1 = time.time()
        cpu1 = cpu_seconds(srv.proc.pid)
        time.sleep(2.5)
        stop.set()
        poller.join()
        lat = summary.get("persisted_latency_ms") or {}
        row = {"mode": "on" if detection else "off", "streams": args.streams,
               "seconds": round(t1 - t0, 1), "persisted": summary.get("fragments_persisted"),
               "sent": summary.get("fragments_sent"), "failed_sessions": summary.get("failed_sessions"),
               "persisted_ms": {k: lat.get(k + "_ms") for k in ("p50", "p90", "p99", "max")},
               "server_cores": round((cpu1 - cpu0) / (t1 - t0), 3),
               "load": [round(min(s[3] for s in samples), 2), round(max(s[3] for s in samples), 2)]}
        if detection:
            during = [s for s in samples if s[0] <= t1]
            # Steady state: from 10 s after the start (models loaded, all sessions up) to the end.
            steady = [s for s in during if s[0] >= t0 + 10] or during
            a, b = steady[0], steady[-1]
            answered = b[1].get("openkvs_worker_uploads_delivered", 0) - a[1].get("openkvs_worker_uploads_delivered", 0)
            span = b[0] - a[0]
            det_cpu = [s for s in steady if s[2] is not None]
            row.update({
                "pictures_per_s": round(answered / span, 2) if span else None,
                "asked_per_s": round(args.streams * 1000 / args.interval_ms, 2),
                "detector_cores": round((det_cpu[-1][2] - det_cpu[0][2]) / (det_cpu[-1][0] - det_cpu[0][0]), 3)
                if len(det_cpu) > 1 else None,
                "lag_s": [round(s[1].get("openkvs_worker_lag_seconds", 0), 1) for s in during[::max(1, len(during) // 12)]],
                "lag_s_end": round(b[1].get("openkvs_worker_lag_seconds", 0), 1),
                "lag_fragments_end": b[1].get("openkvs_worker_lag_fragments"),
                "events": b[1].get("openkvs_worker_events", 0),
                "dropped": b[1].get("openkvs_worker_uploads_dropped", 0),
                "failed": b[1].get("openkvs_worker_failed_fragments", 0),
                "pinned_cpu": pin,
            })
        print(json.dumps(row), flush=True)
        return row
    finally:
        stop.set()
        if poller.is_alive():
            poller.join()
        srv.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["keyframe", "streams", "latency"])
    p.add_argument("--openkvs", default=os.path.join(ROOT, "target/debug/openkvs"))
    p.add_argument("--detector-dir", default=os.path.join(ROOT, "detection"))
    p.add_argument("--file", required=True, help="Matroska file the producers send")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--interval-ms", type=int, default=1000)
    p.add_argument("--cpu", type=int, default=1, help="the core the detector (keyframe: everything) runs on")
    p.add_argument("--rounds", type=int, default=2, help="latency: off/on pairs")
    p.add_argument("--stub-detector", action="store_true",
                   help="a detector that answers at once with nothing found (the server's share alone)")
    args = p.parse_args()
    if args.stub_detector:
        args.detector_dir = stub_detector()
    if args.mode == "keyframe":
        keyframe(args)
    elif args.mode == "streams":
        load_run(args, True, args.cpu)
    else:
        rows = []
        # off, on, on, off, off, on, ...: a load that drifts during the runs weighs on both alike.
        for i in range(args.rounds):
            for detection in ((False, True) if i % 2 == 0 else (True, False)):
                rows.append(load_run(args, detection, None))
        for mode in ("off", "on"):
            r = [x for x in rows if x["mode"] == mode]
            p50 = statistics.median(x["persisted_ms"]["p50"] for x in r)
            p99 = statistics.median(x["persisted_ms"]["p99"] for x in r)
            print(f"# {mode}: PERSISTED p50 {p50} ms, p99 {p99} ms (median of {len(r)} runs)", flush=True)


if __name__ == "__main__":
    main()
