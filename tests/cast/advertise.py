"""Announces a Cast device over mDNS with PyPI `zeroconf` (an implementation
independent of the box's mdns-sd), bound to 127.0.0.1 only.

    python advertise.py --port N [--name "Lobby TV"] [--id ID] [--model M] [--malformed]
    python advertise.py --browse _sos-edge._tcp.local.   (prints what it finds)

Prints one JSON object per line ({"event": "registered"} once announced).
Commands on stdin: `move <port>` (re-announce on another port), `remove`
(goodbye), `quit`.
"""

import argparse
import json
import socket
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

TYPE = "_googlecast._tcp.local."


def emit(event, **kw):
    print(json.dumps({"event": event, "t": int(time.time() * 1000), **kw}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int)
    p.add_argument("--browse", help="service type to look for instead of announcing")
    p.add_argument("--name", default="Lobby TV")
    p.add_argument("--id", default="0123456789abcdef0123456789abcdef")
    p.add_argument("--model", default="Chromecast")
    p.add_argument("--malformed", action="store_true",
                   help="also announce devices with broken TXT records")
    a = p.parse_args()

    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    if a.browse:
        browse(zc, a.browse)
        return
    if a.port is None:
        p.error("--port is required when announcing")

    def info(port, instance, props):
        return ServiceInfo(
            TYPE,
            f"{instance}.{TYPE}",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=port,
            properties=props,
            server=f"{instance}.local.",
        )

    props = {"id": a.id, "fn": a.name, "md": a.model, "ve": "05", "ca": "4101", "st": "0", "rs": ""}
    svc = info(a.port, f"Chromecast-{a.id[:12]}", props)
    zc.register_service(svc)
    extra = []
    if a.malformed:
        # Not UTF-8, control characters, an id with slashes, no fn at all.
        bad = [
            info(a.port + 1 if a.port < 65535 else 1, "Broken-1",
                 {b"fn": b"\xff\xfe\x00bad", b"id": b"../../etc", b"md": b"\x1b[31mred"}),
            info(9, "Broken-2", {b"junk": None, b"": b"x"}),
        ]
        for s in bad:
            try:
                zc.register_service(s)
                extra.append(s)
            except Exception as e:  # noqa: BLE001 - report and keep going
                emit("malformed_refused", error=str(e))
    emit("registered", port=a.port, id=a.id, name=a.name)

    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "move":
            svc.port = int(parts[1])
            zc.update_service(svc)
            emit("moved", port=svc.port)
        elif parts[0] == "remove":
            zc.unregister_service(svc)
            emit("removed")
        elif parts[0] == "quit":
            break
    for s in extra:
        zc.unregister_service(s)
    zc.close()


def browse(zc, service_type):
    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            emit("gone", name=name)
            return
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None:
            return
        props = {
            (k or b"").decode("utf-8", "replace"): (v or b"").decode("utf-8", "replace")
            for k, v in info.properties.items()
        }
        emit("found", name=name, server=info.server, port=info.port,
             addresses=info.parsed_addresses(), properties=props,
             change=state_change.name)

    ServiceBrowser(zc, service_type, handlers=[on_change])
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    zc.close()


if __name__ == "__main__":
    main()
