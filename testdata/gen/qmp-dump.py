#!/usr/bin/env python3
"""Drive one QEMU run over QMP: start the paused guest, wait for the guest to
panic (pvpanic -> GUEST_PANICKED), then write one dump-guest-memory file per
requested format and quit QEMU.

usage: qmp-dump.py SOCKET TIMEOUT FORMAT=PATH [FORMAT=PATH...]
FORMAT is a dump-guest-memory format: elf, kdump-zlib, kdump-lzo, kdump-snappy.
Exit status: 0 dumps written, 2 guest stopped without panicking, 3 timeout/QMP error.
"""
import json
import os
import socket
import sys
import time


class QMP:
    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.file = self.sock.makefile("rwb")
        self.deadline = deadline
        self.events = []
        self.read()  # greeting

    def read(self):
        self.sock.settimeout(max(1.0, self.deadline - time.time()))
        line = self.file.readline()
        if not line:
            raise EOFError("QEMU closed the QMP socket")
        return json.loads(line)

    def command(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        while True:
            reply = self.read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"{name}: {reply['error']}")
            return reply.get("return")

    def event(self):
        if self.events:
            return self.events.pop(0)
        while True:
            reply = self.read()
            if "event" in reply:
                return reply


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 3
    path, timeout = sys.argv[1], float(sys.argv[2])
    outputs = [a.split("=", 1) for a in sys.argv[3:]]
    deadline = time.time() + timeout
    try:
        qmp = QMP(path, deadline)
        qmp.command("qmp_capabilities")
        qmp.command("cont")
        while True:
            ev = qmp.event()
            name = ev["event"]
            if name == "GUEST_PANICKED":
                break
            if name in ("SHUTDOWN", "RESET"):
                print(f"qmp-dump: guest {name.lower()} without a panic", file=sys.stderr)
                qmp.command("quit")
                return 2
        print(f"qmp-dump: GUEST_PANICKED {json.dumps(ev.get('data', {}))}", file=sys.stderr)
        for fmt, out in outputs:
            start = time.time()
            qmp.command("dump-guest-memory", paging=False,
                        protocol="file:" + os.path.abspath(out), format=fmt)
            print(f"qmp-dump: {fmt} -> {out} ({os.path.getsize(out)} bytes, "
                  f"{time.time() - start:.1f} s)", file=sys.stderr)
        qmp.command("quit")
        return 0
    except (OSError, EOFError, RuntimeError, ValueError) as err:
        print(f"qmp-dump: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
