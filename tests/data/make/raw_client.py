#!/usr/bin/env python3
"""Sends exact request bytes over one connection and reads until the server has answered them all
(or closes). Usage: raw_client.py ADDR PORT FILE [--pipeline] [--expect-wait]. FILE holds the
requests separated by a line `=====`; \\n in FILE becomes \\r\\n. Used only to make test captures."""
import socket
import sys
import time

addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pipeline = "--pipeline" in sys.argv
text = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
requests = [r.lstrip(b"\r\n") for r in text.split(b"=====\r\n") if r.strip()]
s = socket.create_connection((addr, port))
s.settimeout(2.0)


def drain(min_wait=0.3):
    got = b""
    deadline = time.time() + min_wait
    while time.time() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        got += d
    return got


if pipeline:
    s.sendall(b"".join(requests))
    drain(1.0)
else:
    for r in requests:
        if b"Expect: 100-continue" in r:
            head, body = r.split(b"\r\n\r\n", 1)
            s.sendall(head + b"\r\n\r\n")
            drain(0.3)
            s.sendall(body)
        else:
            s.sendall(r)
        drain(0.3)
s.close()
