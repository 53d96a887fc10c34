"""The web app: each GET / records a visit in PostgreSQL and queues a job on Redis;
the answer is what the database holds (visits, and jobs the worker has done)."""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis

DB = dict(host=os.environ.get("DATABASE_HOST", "db"), user="app", dbname="postgres")
QUEUE = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"))


def connect():
    for _ in range(60):
        try:
            return psycopg2.connect(**DB)
        except psycopg2.OperationalError:
            time.sleep(0.5)
    return psycopg2.connect(**DB)


with connect() as conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz"
                " DEFAULT now(), path text)")
    cur.execute("CREATE TABLE IF NOT EXISTS jobs (id serial PRIMARY KEY, visit int, "
                "done_by text)")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"ok": True})
            return
        with connect() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO visits (path) VALUES (%s) RETURNING id", (self.path,))
            visit = cur.fetchone()[0]
            QUEUE.rpush("jobs", json.dumps({"visit": visit}))
            cur.execute("SELECT count(*) FROM visits")
            visits = cur.fetchone()[0]
            cur.execute("SELECT count(*), max(done_by) FROM jobs")
            jobs, worker = cur.fetchone()
        self._send(200, {"visit": visit, "visits": visits, "jobs_done": jobs,
                         "worker": worker, "served_by": os.uname().nodename})

    def _send(self, code, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("web:", fmt % args, flush=True)


print("web: listening on :8000", flush=True)
ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
