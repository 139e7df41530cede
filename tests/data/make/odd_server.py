#!/usr/bin/env python3
"""A small HTTP/1.1 server on raw sockets that answers with the legal-but-unusual responses
GoReplay is known to mishandle. Used only to make reel's test captures (make-captures.sh).

Paths: /no-content-cl (204 with Content-Length), /not-modified-cl (304 with Content-Length),
/close-delimited (body ends at connection close), /two-100 (two 100s with unusual reason phrases
before the final response), /chunked-trailers (chunk extensions and trailers), anything else:
200 with Content-Length. HEAD gets Content-Length and no body. Writes an access log line per
request: conn, request number in the connection, client port, method, target, status.
"""
import socket
import sys
import threading

ADDR, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log_lock = threading.Lock()
conn_seq = [0]


def log(line):
    with log_lock, open(LOG, "a") as f:
        f.write(line + "\n")


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def read_body(sock, headers, buf):
    te = headers.get("transfer-encoding", "")
    if "chunked" in te:
        out = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while not buf.startswith(b"\r\n") and b"\r\n\r\n" not in buf:
                    buf += sock.recv(65536)
                buf = buf[2:] if buf.startswith(b"\r\n") else buf.split(b"\r\n\r\n", 1)[1]
                return out, buf
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            out += buf[:size]
            buf = buf[size + 2 :]
    n = int(headers.get("content-length", "0"))
    while len(buf) < n:
        buf += sock.recv(65536)
    return buf[:n], buf[n:]


def handle(sock, port):
    with log_lock:
        conn_seq[0] += 1
        conn = conn_seq[0]
    buf = b""
    count = 0
    while True:
        head, buf = read_head(sock, buf)
        if head is None:
            break
        count += 1
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for h in lines[1:]:
            k, v = h.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        path = target.split("?")[0]
        if path == "/two-100" and headers.get("expect", "").lower() == "100-continue":
            sock.sendall(b"HTTP/1.1 100 Go Ahead Please\r\n\r\n")
            sock.sendall(b"HTTP/1.1 100 Still Listening\r\n\r\n")
        body, buf = read_body(sock, headers, buf)
        close = False
        if path == "/no-content-cl":
            status, resp = 204, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
        elif path == "/not-modified-cl":
            status, resp = 304, b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n'
        elif path == "/close-delimited":
            status, close = 200, True
            resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + b"line of a body with no length\n" * 200
        elif path == "/chunked-trailers":
            status = 200
            resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                    b"10;name=first\r\n0123456789abcdef\r\n"
                    b"5\r\nhello\r\n0;last\r\nX-Checksum: 42\r\n\r\n")
        else:
            status = 200
            payload = b'{"received":%d}\n' % len(body)
            resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
            if method != "HEAD":
                resp += payload
        sock.sendall(resp)
        log(f"{conn} {count} {port} {method} {target} {status}")
        if close or headers.get("connection", "").lower() == "close":
            break
    sock.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ADDR, PORT))
srv.listen(64)
while True:
    s, (_, p) = srv.accept()
    threading.Thread(target=handle, args=(s, p), daemon=True).start()
