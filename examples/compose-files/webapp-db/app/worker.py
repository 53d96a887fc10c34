"""The worker: takes jobs off the Redis queue the web app fills and records each in
PostgreSQL (the web app's page shows how many were done, and by whom)."""

import json
import os
import time

import psycopg2
import redis

DB = dict(host=os.environ.get("DATABASE_HOST", "db"), user="app", dbname="postgres")
QUEUE = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"))
NAME = os.uname().nodename

for _ in range(60):
    try:
        conn = psycopg2.connect(**DB)
        break
    except psycopg2.OperationalError:
        time.sleep(0.5)
conn.autocommit = True
try:  # the web app makes it too; whoever is first wins
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS jobs (id serial PRIMARY KEY, visit int, "
                    "done_by text)")
except psycopg2.Error:
    pass
print(f"worker {NAME}: waiting for jobs", flush=True)
while True:
    _, raw = QUEUE.blpop("jobs")
    job = json.loads(raw)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO jobs (visit, done_by) VALUES (%s, %s)", (job["visit"], NAME))
    print(f"worker {NAME}: did visit {job['visit']}", flush=True)
