#!/usr/bin/env python3
"""Drives a realistic API mix at the capture-making nginx (make-captures.sh): several keep-alive
sessions browsing users, orders, search and static files, posting orders, a few errors, some
one-shot connections. Deterministic (seeded), bounded in count. Usage: shop_client.py ADDR PORT N"""
import http.client
import json
import random
import sys
import threading
import time

addr, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng_seed = 20261129
etags = {}


def session(sid, count):
    rng = random.Random(rng_seed + sid)
    c = http.client.HTTPConnection(addr, port, timeout=5)
    for _ in range(count):
        r = rng.random()
        headers = {"User-Agent": f"shop-app/3.{sid}", "Accept": "application/json",
                   "X-Request-Id": "%032x" % rng.getrandbits(128)}
        body = None
        if r < 0.30:
            method, target = "GET", f"/api/users/{rng.randint(1, 5000)}"
        elif r < 0.45:
            method, target = "GET", f"/api/users/{rng.randint(1, 5000)}/orders"
        elif r < 0.55:
            q = rng.choice(["shoes", "red+hat", "caf%C3%A9", "laptop", "gift"])
            method, target = "GET", f"/api/search?q={q}&page={rng.randint(1, 9)}"
        elif r < 0.65:
            method, target = "POST", "/api/orders"
            body = json.dumps({"user": rng.randint(1, 5000), "items": [rng.randint(1, 99) for _ in range(rng.randint(1, 6))],
                               "note": "x" * rng.randint(0, 300)}).encode()
            headers["Content-Type"] = "application/json"
        elif r < 0.70:
            method, target = "GET", "/api/orders"
        elif r < 0.80:
            f = rng.choice(["app.js", "style.css", "logo.png"])
            method, target = "GET", f"/static/{f}"
            if f in etags and rng.random() < 0.6:
                headers["If-None-Match"] = etags[f]
        elif r < 0.84:
            method, target = "HEAD", "/static/app.js"
        elif r < 0.88:
            method, target = "GET", "/health"
        elif r < 0.91:
            method, target = "DELETE", f"/api/users/{rng.randint(1, 5000)}"
        elif r < 0.94:
            method, target = "GET", "/api/admin"
        elif r < 0.97:
            method, target = "GET", "/api/legacy"
        else:
            method, target = "GET", f"/api/missing/{rng.randint(1, 50)}"
        c.request(method, target, body=body, headers=headers)
        resp = c.getresponse()
        resp.read()
        if resp.getheader("ETag") and target.startswith("/static/"):
            etags[target.rsplit("/", 1)[1]] = resp.getheader("ETag")
        time.sleep(rng.uniform(0.0, 0.2))
    c.close()


per = total // 8
threads = [threading.Thread(target=session, args=(i, per)) for i in range(6)]
for t in threads:
    t.start()
# one-shot connections, as from scripts and health checkers
rng = random.Random(rng_seed)
for i in range(total - 6 * per):
    c = http.client.HTTPConnection(addr, port, timeout=5)
    c.request("GET", rng.choice(["/health", f"/api/users/{rng.randint(1, 5000)}", "/api/orders"]),
              headers={"User-Agent": "curl/7.88.1", "Accept": "*/*"})
    c.getresponse().read()
    c.close()
    time.sleep(0.05)
for t in threads:
    t.join()
