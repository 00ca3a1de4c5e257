#!/usr/bin/env python3
"""Checks docs/api.yaml against a running pushd: starts a private
redis-server and pushd (with its HTTP API), sends requests covering every
route and every documented status, and validates each answer (status and
body) against the OpenAPI document. Exit 0 when every answer conforms.

usage: check_openapi.py PUSHD_BINARY API_YAML
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jsonschema
import yaml

KEY = "schema-key-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def call(port, method, path, body=None, key=KEY):
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = "apikey " + key
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.failures = []
        self.checked = 0

    def schema_for(self, method, path, status):
        route = path.split("?")[0]
        op = self.doc["paths"].get(route, {}).get(method.lower())
        if op is None:
            # Unknown paths (and methods) answer the common error object.
            return {"$ref": "#/components/schemas/Error"}, None
        resp = op["responses"].get(str(status))
        if resp is None:
            return None, f"{method} {route}: status {status} is not documented"
        if "$ref" in resp:
            resp = self.resolve(resp["$ref"])
        return resp["content"]["application/json"]["schema"], None

    def resolve(self, ref):
        node = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    def check(self, method, path, status, body, expect_status):
        self.checked += 1
        where = f"{method} {path} -> {status}"
        if status != expect_status:
            self.failures.append(f"{where}: expected status {expect_status}; body {body[:200]}")
            return
        schema, err = self.schema_for(method, path, status)
        if err:
            self.failures.append(err)
            return
        try:
            value = json.loads(body)
        except ValueError:
            self.failures.append(f"{where}: body is not JSON: {body[:200]}")
            return
        # The components travel with the schema, so its $refs resolve.
        root = dict(schema)
        root["components"] = self.doc["components"]
        try:
            jsonschema.validate(value, root)
        except jsonschema.ValidationError as e:
            self.failures.append(f"{where}: {e.message} in {body[:200]}")


def exchanges(redis_port):
    """(method, path, body, key, expected status) covering every route."""
    pub = {"group_id": "g", "sender_id": "svc", "content": "hi", "message_id": "m1"}
    return [
        ("POST", "/api/publish", pub, KEY, 200),
        ("POST", "/api/publish", pub, KEY, 200),  # duplicate
        ("POST", "/api/publish", {"group_id": "g", "sender_id": "svc", "content": "x"}, KEY, 200),
        ("POST", "/api/publish", pub, None, 401),
        ("GET", "/api/publish", None, KEY, 405),
        ("POST", "/api/publish", b"x" * 5000, KEY, 413),
        ("POST", "/api/publish", b"not json", KEY, 400),
        ("POST", "/api/publish", {"group_id": "g"}, KEY, 422),
        ("POST", "/api/notify", {"target": "user:a,b", "data": {"title": "t"}}, KEY, 200),
        ("POST", "/api/notify", {"target": "all", "data": 1}, KEY, 422),
        ("POST", "/api/disconnect", {"user_id": "a", "reason": "r"}, KEY, 200),
        ("POST", "/api/disconnect", {}, KEY, 422),
        ("POST", "/api/revoke", {"user_id": "a", "seconds": 60}, KEY, 200),
        ("POST", "/api/revoke", {"user_id": "a", "seconds": -1}, KEY, 422),
        ("GET", "/api/presence?group=g", None, KEY, 200),
        ("GET", "/api/presence?user=a", None, KEY, 200),
        ("GET", "/api/presence", None, KEY, 422),
        ("GET", "/api/history?group=g", None, KEY, 200),
        ("GET", "/api/history?group=g&limit=1", None, KEY, 200),
        ("GET", "/api/history?group=g&since=0-0&limit=1000", None, KEY, 200),
        ("GET", "/api/history?group=g&limit=0", None, KEY, 422),
        ("POST", "/api/history", {}, KEY, 405),
        ("GET", "/api/unknown", None, KEY, 404),
    ]


def main():
    pushd, api_yaml = sys.argv[1], sys.argv[2]
    with open(api_yaml) as f:
        doc = yaml.safe_load(f)
    checker = Checker(doc)
    tmp = tempfile.mkdtemp(prefix="pushd-openapi-")
    redis_port, ws_port, api_port = free_port(), free_port(), free_port()
    procs = []
    try:
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
        procs.append(redis)
        cfg = os.path.join(tmp, "pushd.yaml")
        with open(cfg, "w") as f:
            f.write(f"Host: 127.0.0.1\nPort: {ws_port}\nRedis: {{Host: \"127.0.0.1:{redis_port}\"}}\n"
                    f"Auth: {{AccessSecret: \"schema-secret-0123456789abcdef-0123\"}}\n"
                    f"Api: {{Listen: \"127.0.0.1:{api_port}\", Keys: [\"{KEY}\"]}}\n"
                    f"Limits: {{MaxMessageBytes: 4096}}\n")
        log = open(os.path.join(tmp, "pushd.log"), "w")
        p = subprocess.Popen([pushd, "-f", cfg], stdout=log, stderr=log)
        procs.append(p)
        if not wait_for(lambda: call(api_port, "GET", "/health", key=None)[0] == 200 if port_open(api_port) else False):
            print("pushd did not become healthy; log:\n" + open(os.path.join(tmp, "pushd.log")).read())
            return 1
        for method, path, body, key, expect in exchanges(redis_port):
            status, text = call(api_port, method, path, body, key)
            checker.check(method, path, status, text, expect)
        # 503: Redis gone, every route answers the error object.
        redis.send_signal(signal.SIGTERM)
        redis.wait(10)
        wait_for(lambda: call(api_port, "GET", "/health", key=None)[0] == 503)
        for method, path, body in [("POST", "/api/publish", {"group_id": "g", "sender_id": "s", "content": "c"}),
                                   ("GET", "/api/history?group=g", None), ("GET", "/api/presence?user=a", None)]:
            status, text = call(api_port, method, path, body)
            checker.check(method, path, status, text, 503)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    for f in checker.failures:
        print("FAIL", f)
    print(f"{checker.checked} answers checked against {api_yaml}: {len(checker.failures)} failure(s)")
    return 1 if checker.failures else 0


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
