#!/usr/bin/env python3
"""RTSP cameras recorded by one openkvs, against the same media ingested through PutMedia.

One RTSP server process (tests/rtsp/server.py: one shared H.264 encoder at --kbps) stands for N
cameras: every camera is its own RTSP session on the same URL. openkvs serve records them with its
edge recorder (N edge configurations) for --seconds after a warm-up, then, in the same run, the
same media (captured from the camera with ffmpeg -c copy) is sent by N realtime PutMedia producers
(`openkvs bench ingest --realtime`) for as long. For each phase it reports the server's CPU per
Mbit/s ingested (utime+stime of the server process over the window / Mbit stored in the window)
and the frame → PERSISTED latency:
  - edge: the recorder's own figure (a fragment's last frame, wall clock at capture, to its
    PERSISTED ACK), as each stream's LastUploaderStatus reports it: p50 = median of the streams'
    p50, p99 = the worst stream's p99;
  - PutMedia: `bench ingest`'s PERSISTED latency (last byte of a fragment sent, which in realtime
    mode is when its last frame is due, to PERSISTED).

Usage (docs/BENCHMARKS.md):
  cargo build --release
  python3 benches/rtsp_cameras.py --openkvs target/release/openkvs --cameras 50 --seconds 60
Needs boto3, ffmpeg and the RTSP test camera's packages (see .ci/run).
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

from proc_stats import cpu_seconds, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HUB = "arn:aws:iot:us-east-1:000000000000:thing/openkvs"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-cam"


def stored_bytes(am, names, start, end):
    total = 0
    for n in names:
        token = None
        while True:
            kw = dict(StreamName=n, FragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP",
                      "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end}})
            if token:
                kw = dict(StreamName=n, NextToken=token)
            page = am.list_fragments(**kw)
            total += sum(f["FragmentSizeInBytes"] for f in page["Fragments"])
            token = page.get("NextToken")
            if not token:
                break
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--openkvs", default=os.path.join(ROOT, "target/release/openkvs"))
    p.add_argument("--cameras", type=int, default=50)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--kbps", type=int, default=1500)
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="openkvs-rtsp-bench-")
    cam = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/rtsp/server.py"), "--kbps", str(args.kbps),
                            "--gop", "25", "--fps", "25"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rtsp_port = int(cam.stdout.readline().split()[1])
    rtsp_url = f"rtsp://127.0.0.1:{rtsp_port}/cam"
    port = free_port()
    config = os.path.join(work, "openkvs.toml")
    with open(config, "w") as f:
        f.write(f'listen = "127.0.0.1:{port}"\ndata_dir = "{work}/data"\n[edge]\npoll_interval_secs = 1\n'
                f'[edge.secrets]\n"{SECRET_ARN}" = "{rtsp_url}"\n')
    server = subprocess.Popen([args.openkvs, "serve", "--config", config], stderr=open(os.path.join(work, "serve.log"), "w"))
    endpoint = f"http://127.0.0.1:{port}"
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="openkvs",
              aws_secret_access_key="openkvs-secret")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    kv = boto3.client("kinesisvideo", **kw)
    am = boto3.client("kinesis-video-archived-media", **kw)
    load = os.getloadavg()
    result = {"cameras": args.cameras, "kbps_per_camera": args.kbps, "seconds": args.seconds,
              "loadavg_at_start": [round(x, 2) for x in load]}
    try:
        edge_names = [f"rtsp-{i:03d}" for i in range(args.cameras)]
        for n in edge_names:
            kv.create_stream(StreamName=n, DataRetentionInHours=1)
            kv.start_edge_configuration_update(StreamName=n, EdgeConfig={
                "HubDeviceArn": HUB,
                "RecorderConfig": {"MediaSourceConfig": {"MediaUriSecretArn": SECRET_ARN, "MediaUriType": "RTSP_URI"}}})
        time.sleep(args.warmup)
        t0, c0 = time.time(), cpu_seconds(server.pid)
        time.sleep(args.seconds)
        t1, c1 = time.time(), cpu_seconds(server.pid)
        edge_bytes = stored_bytes(am, edge_names, t0, t1)
        p50s, p99s = [], []
        for n in edge_names:
            d = kv.describe_edge_configuration(StreamName=n)
            text = d.get("EdgeAgentStatus", {}).get("LastUploaderStatus", {}).get("JobStatusDetails", "")
            m = re.search(r"p50 (\d+) ms, p99 (\d+) ms", text)
            if m:
                p50s.append(int(m.group(1)))
                p99s.append(int(m.group(2)))
        mbit = edge_bytes * 8 / 1e6
        result["edge"] = {
            "mbit_per_s": round(mbit / (t1 - t0), 2),
            "server_cpu_s": round(c1 - c0, 2),
            "cpu_ms_per_mbit": round((c1 - c0) * 1000 / mbit, 2) if mbit else None,
            "cores_busy": round((c1 - c0) / (t1 - t0), 2),
            "frame_to_persisted_p50_ms": statistics.median(p50s) if p50s else None,
            "frame_to_persisted_p99_ms": max(p99s) if p99s else None,
            "streams_reporting": len(p50s),
        }
        # Same media through PutMedia: capture the camera, stop the recorders, send the capture.
        clip = os.path.join(work, "camera.mkv")
        subprocess.run(["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", rtsp_url, "-t", "30", "-c", "copy",
                        "-an", "-f", "matroska", clip], check=True)
        for n in edge_names:
            kv.delete_edge_configuration(StreamName=n)
        time.sleep(5)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="openkvs", AWS_SECRET_ACCESS_KEY="openkvs-secret",
                   AWS_REGION="us-east-1")
        bench = subprocess.Popen([args.openkvs, "bench", "ingest", "--endpoint", endpoint, "--streams",
                                  str(args.cameras), "--file", clip, "--realtime", "--duration-secs",
                                  str(args.warmup + args.seconds + 5), "--json"], stdout=subprocess.PIPE, env=env, text=True)
        time.sleep(args.warmup)
        t0, c0 = time.time(), cpu_seconds(server.pid)
        time.sleep(args.seconds)
        t1, c1 = time.time(), cpu_seconds(server.pid)
        out, _ = bench.communicate(timeout=600)
        report = json.loads(out.strip().splitlines()[-1])
        put_bytes = stored_bytes(am, [f"bench-{i}" for i in range(args.cameras)], t0, t1)
        mbit = put_bytes * 8 / 1e6
        result["putmedia"] = {
            "mbit_per_s": round(mbit / (t1 - t0), 2),
            "server_cpu_s": round(c1 - c0, 2),
            "cpu_ms_per_mbit": round((c1 - c0) * 1000 / mbit, 2) if mbit else None,
            "cores_busy": round((c1 - c0) / (t1 - t0), 2),
            "bench_ingest_report": report,
        }
    finally:
        server.terminate()
        server.wait(timeout=60)
        cam.stdin.close()
        cam.terminate()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
