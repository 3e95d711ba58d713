"""What the Python benches read of this machine: a free loopback port and a process's CPU time
from /proc. Imported by benches/detection_load.py and benches/rtsp_cameras.py (run from any
directory: Python puts the script's own folder on the import path)."""

import os
import socket

CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """utime + stime of a process in seconds; None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except OSError:
        return None
