"""Loaded by every Python process started with this folder on PYTHONPATH (the app, and the training
and export processes it starts): records each name lookup and outbound connection to the file named
by TUNER_NET_AUDIT, one JSON line each, so that a test can show that nothing left the machine."""
import json
import os
import sys

_audit_path = os.environ.get("TUNER_NET_AUDIT")


def _write(event, target):
    with open(_audit_path, "a", encoding="utf-8") as audit:
        audit.write(json.dumps({"event": event, "target": repr(target), "pid": os.getpid(),
                                "argv": sys.argv[:3]}) + "\n")


def _record(event, args):
    if event == "socket.connect":
        target = args[1]
    elif event == "socket.getaddrinfo":
        target = args[0]
    else:
        return
    _write(event, target)


if _audit_path:
    sys.addaudithook(_record)
    _write("audit started", None)  # proof that this process was watched
