#!/usr/bin/python3
"""A test camera: GStreamer's RTSP server (gst-rtsp-server through PyGObject) serving a moving test
pattern (videotestsrc + a running clock) as H.264 or H.265, optionally with AAC audio
(audiotestsrc), with no authentication, Basic or Digest, optionally dropping a fraction of the
video RTP packets after the payloader (`--drop`: a lossy network, seen by the client as sequence
number gaps, over UDP and TCP alike).

Used by tests/edge_rtsp.rs and the RTSP benchmark (docs/BENCHMARKS.md). Needs Debian's
gir1.2-gst-rtsp-server-1.0, python3-gi and gstreamer1.0-plugins-{base,good,bad,ugly} (x264enc,
x265enc, voaacenc); run it with the system interpreter (/usr/bin/python3), where python3-gi lives.

It binds 127.0.0.1 on --port (0 = a free port), prints `PORT <n>` on stdout once it accepts
connections, and serves until stdin closes or it is killed. Every mount is shared: all clients of one
path see the same encoder output (one encoder per path, however many cameras point at it).
"""
import argparse
import random
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def launch_line(codec, audio, width, height, fps, kbps, gop):
    video = (
        f"videotestsrc is-live=true pattern=smpte ! video/x-raw,width={width},height={height},framerate={fps}/1 "
        "! timeoverlay font-desc=\"Sans 24\" ! videoconvert "
    )
    if codec == "h264":
        video += (
            f"! x264enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={gop} "
            "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1"
        )
    else:
        video += (
            f"! x265enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={gop} "
            "! rtph265pay name=pay0 pt=96 config-interval=-1"
        )
    line = video
    if audio:
        line += (
            " audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=48000,channels=1 "
            "! audioconvert ! voaacenc bitrate=64000 ! aacparse ! rtpmp4gpay name=pay1 pt=97"
        )
    return f"( {line} )"


def drop_packets(pay, fraction):
    """Drops each RTP packet leaving `pay` with probability `fraction` (one at a time, also inside
    the buffer lists the payloader pushes for a fragmented NAL unit)."""
    rng = random.Random(0x10557)
    pad = pay.get_static_pad("src")
    repushing = threading.local()

    def probe(pad, info):
        if getattr(repushing, "on", False):
            return Gst.PadProbeReturn.OK
        if info.type & Gst.PadProbeType.BUFFER_LIST:
            packets = info.get_buffer_list()
            repushing.on = True
            try:
                for i in range(packets.length()):
                    if rng.random() >= fraction:
                        pad.push(packets.get(i))
            finally:
                repushing.on = False
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.DROP if rng.random() < fraction else Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, probe)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--codec", choices=["h264", "h265"], default="h264")
    p.add_argument("--audio", action="store_true", help="add an AAC track")
    p.add_argument("--auth", choices=["none", "basic", "digest"], default="none")
    p.add_argument("--user", default="camera")
    p.add_argument("--password", default="secret")
    p.add_argument("--path", default="/cam")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--kbps", type=int, default=1500)
    p.add_argument("--gop", type=int, default=25, help="frames per key frame")
    p.add_argument("--drop", type=float, default=0.0, help="fraction of video RTP packets to drop")
    args = p.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.codec, args.audio, args.width, args.height, args.fps, args.kbps, args.gop))
    factory.set_shared(True)
    if args.drop > 0:
        factory.connect(
            "media-configure", lambda _f, media: drop_packets(media.get_element().get_by_name("pay0"), args.drop)
        )

    if args.auth != "none":
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        if args.auth == "basic":
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        else:
            auth.add_digest(args.user, args.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", "media.factory.access", True)
        perms.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(perms)

    server.get_mount_points().add_factory(args.path, factory)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print("cannot bind", file=sys.stderr)
        sys.exit(1)
    print(f"PORT {server.get_bound_port()}", flush=True)

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            GLib.idle_add(loop.quit)

    if not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, daemon=True).start()
    loop.run()


if __name__ == "__main__":
    main()
