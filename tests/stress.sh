#!/bin/sh
# -*- mode: python -*-
''''exec python3 -u "$0" "$@" #'''
# tests/stress.sh: the concurrency suite ("Reliability proof").
#
#	tests/stress.sh [--jobs 20000] [--workers 8] [--enqueuers 4] [--chains 100]
#	                [--chain-len 5] [--prio-jobs 400] [--seed S] [--keep]
#
# A shell script in name only: the first lines hand it to python3.
#
# First --prio-jobs jobs with random priorities 0-9 are added while no worker
# runs.  Then --workers workers (`q worker -j 1`, Q_WORKER_MAX = --workers;
# one that exits while work remains is replaced) and --enqueuers enqueuers
# (`q add` back to back) run at once; the enqueuers add --chains chains of
# --chain-len jobs (job k `--after` job k-1) among plain jobs, up to --jobs
# in all.  Every job appends its id to LOG (O_APPEND, one short write: lines
# never mix).  Checks:
#
#   - every job ran exactly once: each id once in LOG, --jobs lines;
#   - every job completed (q status, q list --json), `q fsck` is clean;
#   - chains ran in order: a dependent started (its start event) no earlier
#     than its dependency finished, and its LOG line comes later;
#   - priorities: when a job of priority p started, every job of the first
#     batch with a smaller priority had started, except at most workers-1
#     claimed by other workers but not yet started (a worker holds one
#     claim at a time).
#
# Prints "stress: N jobs, W workers, E enqueuers: each ran once, all
# completed, chains in order, priorities in order, fsck clean" and exits 0,
# or lists what went wrong and exits 1.

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no tests/__pycache__ in the tree
import qspool  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Q = os.path.join(TOP, "bin", "q")
JOB = ["sh", "-c", 'echo "$Q_JOB_ID" >>LOG']


def parse_args():
    p = argparse.ArgumentParser(prog="tests/stress.sh", description="q concurrency suite")
    p.add_argument("--q", metavar="PATH", help="the q binary (default: bin/q)")
    p.add_argument("--jobs", type=int, default=20000)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--enqueuers", type=int, default=4)
    p.add_argument("--chains", type=int, default=100)
    p.add_argument("--chain-len", type=int, default=5)
    p.add_argument("--prio-jobs", type=int, default=400)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--timeout", type=int, default=1800, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true")
    return p.parse_args()


def ms(t):
    """RFC 3339 with milliseconds (UTC) -> ms since the epoch."""
    import calendar
    date, clock = t.rstrip("Z").split("T")
    y, mo, d = map(int, date.split("-"))
    hh, mm, ss = clock.split(":")
    sec, _, frac = ss.partition(".")
    return (calendar.timegm((y, mo, d, int(hh), int(mm), int(sec))) * 1000
            + int((frac + "000")[:3]))


class Stress:
    def __init__(self, a):
        self.a = a
        self.seed = qspool.pick_seed(a.seed)
        self.rng = random.Random(self.seed)
        self.scratch, self.work = qspool.make_scratch("stress")
        self.spool = os.path.join(self.scratch, "spool")
        self.env = qspool.q_env(Q_SPOOL=self.spool, Q_WORKER_MAX=str(a.workers))
        self.errors = []
        self.lock = threading.Lock()
        self.prio = {}        # id -> priority, the jobs added before the workers
        self.chains = []      # lists of ids
        self.added = []       # every id q add printed

    def fail(self, msg):
        with self.lock:
            self.errors.append(msg)
        print("stress: FAIL: %s" % msg, file=sys.stderr, flush=True)

    def q(self, *argv):
        return qspool.run_q(Q, argv, self.work, self.env, 300)

    def add(self, *argv):
        rc, out, err = self.q("add", *argv)
        jid = out.strip()
        if rc != 0 or err or len(jid) != 14:
            self.fail("q add %s: exit %d: %s%s" % (" ".join(argv), rc, out, err.strip()))
            return None
        with self.lock:
            self.added.append(jid)
        return jid

    def enqueuer(self, k, plan, seed):
        rng = random.Random(seed)
        for item in plan:
            if item == "chain":
                prev = None
                chain = []
                for i in range(self.a.chain_len):
                    argv = (["--after", prev] if prev else []) + ["--"] + JOB
                    prev = self.add(*argv)
                    if not prev:
                        break
                    chain.append(prev)
                with self.lock:
                    self.chains.append(chain)
            else:
                self.add("--", *JOB)

    def main(self):
        a = self.a
        print("stress: seed %d, %d jobs, %d workers, %d enqueuers, %d chains of %d, %d "
              "prioritised jobs, spool %s" % (self.seed, a.jobs, a.workers, a.enqueuers,
                                               a.chains, a.chain_len, a.prio_jobs, self.spool),
              flush=True)
        t0 = time.monotonic()
        # 1. The prioritised batch, before any worker.
        for i in range(a.prio_jobs):
            p = self.rng.randrange(10)
            jid = self.add("-p", str(p), "--", *JOB)
            if jid:
                self.prio[jid] = p
        t1 = time.monotonic()
        # 2. Plans for the enqueuers: chains spread among plain jobs.
        rest = a.jobs - a.prio_jobs - a.chains * a.chain_len
        if rest < 0:
            sys.exit("stress: --jobs too small for the chains and the prioritised batch")
        items = ["chain"] * a.chains + ["job"] * rest
        self.rng.shuffle(items)
        plans = [items[k::a.enqueuers] for k in range(a.enqueuers)]
        threads = [threading.Thread(target=self.enqueuer, args=(k, plans[k], self.rng.random()))
                   for k in range(a.enqueuers)]
        workers = []
        restarts = 0
        for _ in range(a.workers):
            workers.append(subprocess.Popen([Q, "worker", "-j", "1"], cwd=self.work,
                                            env=self.env, stdin=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True))
        for t in threads:
            t.start()
        deadline = time.monotonic() + a.timeout
        log = os.path.join(self.work, "LOG")
        while time.monotonic() < deadline:
            time.sleep(0.1)
            adding = any(t.is_alive() for t in threads)
            done = not adding and not self.unfinished()
            live = []
            for w in workers:
                if w.poll() is None:
                    live.append(w)
                    continue
                err = w.stderr.read()
                if w.returncode != 0 or err.strip():
                    self.fail("q worker -j 1: exit %d: %s" % (w.returncode, err.strip()))
            workers = live
            if done and not workers:
                break
            if not done:
                while len(workers) < a.workers:
                    restarts += 1
                    workers.append(subprocess.Popen([Q, "worker", "-j", "1"], cwd=self.work,
                                                    env=self.env, stdin=subprocess.DEVNULL,
                                                    stderr=subprocess.PIPE, text=True))
        else:
            self.fail("not finished after %d s" % a.timeout)
            for w in workers:
                w.kill()
        for t in threads:
            t.join()
        t2 = time.monotonic()
        print("# added %d jobs; all ran in %.0f s (%d worker restarts)"
              % (len(self.added), t2 - t1, restarts), flush=True)
        self.check(log)
        print("# checks took %.0f s" % (time.monotonic() - t2))
        if self.errors:
            print("stress: FAILED: %d problems (seed %d); first: %s"
                  % (len(self.errors), self.seed, self.errors[0]), file=sys.stderr)
            print("stress: scratch directory kept: %s" % self.scratch, file=sys.stderr)
            return 1
        print("stress: %d jobs, %d workers, %d enqueuers: each ran once, all completed, "
              "%d chains in order, priorities in order, fsck clean (%.0f s)"
              % (len(self.added), a.workers, a.enqueuers, len(self.chains),
                 time.monotonic() - t0))
        if not a.keep:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return 0

    @staticmethod
    def lines(path):
        try:
            with open(path, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def unfinished(self):
        n = 0
        for s in ("pending", "deferred", "waiting", "held", "running"):
            try:
                n += len(os.listdir(os.path.join(self.spool, s)))
            except FileNotFoundError:
                pass
        return n

    def check(self, log):
        a = self.a
        with open(log) as f:
            lines = f.read().splitlines()
        count = {}
        pos = {}
        for i, ln in enumerate(lines):
            count[ln] = count.get(ln, 0) + 1
            pos.setdefault(ln, i)
        added = set(self.added)
        if len(added) != len(self.added):
            self.fail("q add printed the same id twice")
        if len(lines) != len(self.added):
            self.fail("LOG has %d lines, %d jobs were added" % (len(lines), len(self.added)))
        twice = [i for i, c in count.items() if c > 1]
        if twice:
            self.fail("%d jobs ran more than once, e.g. %s" % (len(twice), twice[:5]))
        never = [i for i in self.added if i not in count]
        if never:
            self.fail("%d jobs never ran, e.g. %s" % (len(never), never[:5]))
        strange = [i for i in count if i not in added]
        if strange:
            self.fail("LOG names jobs nobody added: %s" % strange[:5])

        rc, out, err = self.q("fsck")
        if rc != 0 or out or err:
            self.fail("q fsck: exit %d: %s%s" % (rc, out.strip()[:2000], err.strip()))
        rc, out, err = self.q("status")
        want = "0 pending, 0 running, %d completed, 0 failed, 0 cancelled, 0 expired" % len(added)
        if out.strip() != want:
            self.fail("q status: %r, want %r" % (out.strip(), want))
        rc, out, err = self.q("list", "--json")
        try:
            jobs = {j["id"]: j for j in json.loads(out)}
        except (ValueError, KeyError) as e:
            self.fail("q list --json: exit %d: %s %s" % (rc, e, err.strip()))
            return
        notdone = [i for i in self.added if jobs.get(i, {}).get("status") != "completed"]
        if notdone:
            def why(i):
                j = jobs.get(i)
                if not j:
                    return "%s missing" % i
                deps = ", ".join("%s %s" % (d, jobs.get(d, {}).get("status")) for d in j["after"])
                return "%s %s (%s)%s" % (i, j["status"], j.get("error"),
                                         " after " + deps if deps else "")
            self.fail("%d jobs not completed: %s%s" % (len(notdone), "; ".join(
                why(i) for i in notdone[:5]), "; ..." if len(notdone) > 5 else ""))
        once = [i for i in self.added if i in jobs and jobs[i].get("status") == "completed"
                and jobs[i].get("attempts") != 1]
        if once:
            self.fail("%d jobs with attempts != 1, e.g. %s" % (len(once), once[:5]))

        # Chains.
        bad = 0
        for chain in self.chains:
            for dep, job in zip(chain, chain[1:]):
                d, j = jobs.get(dep), jobs.get(job)
                if not d or not j or not d.get("finished_at") or not j.get("started_at"):
                    continue
                if ms(j["started_at"]) < ms(d["finished_at"]) or pos.get(job, -1) < pos.get(dep, -1):
                    bad += 1
                    if bad <= 5:
                        self.fail("chain out of order: %s started %s (LOG line %s), its "
                                  "dependency %s finished %s (LOG line %s)"
                                  % (job, j["started_at"], pos.get(job), dep, d["finished_at"],
                                     pos.get(dep)))
        if bad > 5:
            self.fail("%d chain links out of order in all" % bad)
        if any(len(c) != a.chain_len for c in self.chains):
            self.fail("some chains were not added whole")

        # Priorities: started before a job of higher priority (smaller number)
        # that was already pending -- at most workers-1 such, per job.
        starts = sorted((ms(jobs[i]["started_at"]), p, i) for i, p in self.prio.items()
                        if i in jobs and jobs[i].get("started_at"))
        worst = 0
        for k, (t, p, i) in enumerate(starts):
            later_higher = sum(1 for (t2, p2, i2) in starts[k + 1:] if p2 < p and t2 > t)
            if later_higher > worst:
                worst = later_higher
            if later_higher > a.workers - 1:
                self.fail("priority inversion: job %s (priority %d) started at %s before %d "
                          "jobs of higher priority that were pending"
                          % (i, p, jobs[i]["started_at"], later_higher))
                break
        print("# priorities: at most %d higher-priority jobs started after a lower one "
              "(bound: %d, the other workers' claims)" % (worst, a.workers - 1))


if __name__ == "__main__":
    _a = parse_args()
    Q = qspool.q_binary(_a.q, Q, "stress")
    sys.exit(Stress(_a).main())
