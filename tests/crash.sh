#!/bin/sh
# -*- mode: python -*-
''''exec python3 -u "$0" "$@" #'''
# tests/crash.sh: the crash suite ("Reliability proof").
#
#	tests/crash.sh [--rounds N] [--jobs M] [--seed S] [--chaos] [--stay] [--keep] [--verbose]
#
# A shell script in name only: the first lines hand it to python3, which
# drives hundreds of short-lived q processes with less overhead than bash.
#
# Per round, on one scratch spool reused across rounds (Q_SYNC_MODE=manual,
# Q_WORKER_MAX=4): 1-2 enqueuers run `q add` back to back (jobs that append
# their id to RUNLOG; some with --attempts 2-3, some sleeping a few ms, some
# with a priority, a --key or an --after), 2-3 workers run
# `q worker --once -j 2`, and every 0-50 ms a random one of them (the
# enqueuer's q add in flight, or a worker) gets SIGKILL; fresh workers
# replace the dead ones.  Then recovery: `q worker --once` until nothing
# is pending or running.  Then the checks:
#
#   - `q fsck` exits 0 and prints nothing;
#   - every id q add printed is in exactly one place (walking the spool as
#     spool-format.md lays it out): none lost;
#   - every job is completed, or failed with error worker_died (its
#     attempts spent) or dependency_failed (a dependency did not complete);
#   - runs (lines in RUNLOG) <= attempts (start events) <= max_attempts;
#     a completed job ran at least once; a job never ran before its
#     dependency did;
#   - no two runs of a job overlapped (each run holds flock on a file named
#     after the job: a run that finds it taken logs a concurrency error);
#   - no job's processes outlive the round (a dead worker's job is killed).
#
# --chaos adds, during each round: an operator thread running `q cancel`,
# `q retry`, `q hold` and `q release` on random jobs of the round, `q gc`
# and `q fsck`, itself killed at random like the others; and jobs that
# leave a detached child (setsid, holding the job's run lock) behind.
# It then checks also that
#
#   - no cancel that exited 0 was erased: unless a later retry exited 0 (or
#     was killed, its retry event perhaps written),
#     the job ends cancelled, and it never ran after the cancel;
#   - a detached child of a run never outlives it (it holds the run's
#     lock: the next run would find it taken).
#
# --stay runs the workers as `q worker --stay -j 2` with worker.stay 30ms
# instead of `--once`: they stay for new jobs (slots/idle), let go when
# busy and start detached workers of their own, which are not killed; the
# round waits for every worker slot to be free before it checks.
#
# Every few rounds `q gc --older-than 0s` empties the spool of finished jobs
# (and must leave none behind).  Counters are cumulative; the last line is
# the summary, e.g.
#   crash: 1000 rounds, 3456 kills, 98765 jobs, 0 lost, 0 run twice concurrently, fsck clean
# and the exit status is non-zero on any violation.  --seed replays the
# same random choices (kill timing still depends on the scheduler).

import argparse
import fcntl
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no tests/__pycache__ in the tree
import qspool  # noqa: E402
from qspool import FINAL, ID_RE  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Q = os.path.join(TOP, "bin", "q")

# The job: take the job's run lock (a second run while the first is alive
# finds it taken), record the run, maybe sleep.
# With a second argument, it leaves a detached child holding the lock.
JOB_SH = ('exec 9>>"locks/$Q_JOB_ID"; '
          'flock -n 9 || echo "C $Q_JOB_ID" >>RUNLOG; '
          'echo "R $Q_JOB_ID $Q_ATTEMPT $(date +%s%N)" >>RUNLOG; '
          '[ -z "$2" ] || setsid sleep "$2" & '
          '[ -z "$1" ] || sleep "$1"')


def parse_args():
    p = argparse.ArgumentParser(prog="tests/crash.sh", description="q crash suite")
    p.add_argument("--q", metavar="PATH", help="the q binary (default: bin/q)")
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--jobs", type=int, default=30,
                   help="jobs added per round, on average (default 30)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--verbose", "-v", action="store_true")
    p.add_argument("--chaos", action="store_true",
                   help="concurrent cancel/retry/hold/release/gc/fsck, detached children")
    p.add_argument("--stay", action="store_true",
                   help="workers stay for new jobs (q worker --stay, worker.stay 30ms)")
    p.add_argument("--gc-every", type=int, default=8,
                   help="run q gc --older-than 0s every N rounds (default 8)")
    return p.parse_args()


class Suite:
    def __init__(self, args):
        self.args = args
        self.seed = qspool.pick_seed(args.seed)
        self.rng = random.Random(self.seed)
        self.scratch, self.work = qspool.make_scratch("crash")
        self.spool = os.path.join(self.scratch, "spool")
        self.env = qspool.q_env(Q_SPOOL=self.spool, Q_WORKER_MAX="4")
        if args.stay:
            self.env["Q_WORKER_STAY"] = "30ms"
        # cumulative counters
        self.rounds = 0
        self.kills = 0
        self.acked = 0
        self.runs = 0
        self.lost = 0
        self.dups = 0       # runs that overlapped another run of the same job
        self.fsck_fail = 0
        self.violations = []
        self.unacked_found = 0
        self.worker_died = 0
        self.completed = 0
        self.add_killed = 0
        self.repairs = 0
        self.phantom_dups = 0
        self.verdict_repairs = 0    # fsck --repair: a verdict outside its directory
        self.erased = 0     # cancels that exited 0 but did not hold
        self.ops = 0        # operator commands that exited 0
        self.cancelled = 0
        # per job of the round: [(monotonic ns, "cancel"|"retry"|"try-cancel")]
        self.opslog = {}
        # jobs tracked until gc: id -> dict(after=..., round=...)
        self.tracked = {}
        self.printed = set()

    # ------------------------------------------------------------ helpers

    def log(self, msg):
        if self.args.verbose:
            print("# " + msg, flush=True)

    def violation(self, msg):
        self.violations.append("round %d: %s" % (self.rounds, msg))
        print("crash: VIOLATION round %d (seed %d): %s" % (self.rounds, self.seed, msg),
              file=sys.stderr, flush=True)

    def q(self, *argv, timeout=60):
        return qspool.run_q(Q, argv, self.work, self.env, timeout)

    def popen(self, *argv):
        return subprocess.Popen([Q] + list(argv), cwd=self.work, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    # ---------------------------------------------------- spool walking

    def walk(self):
        """id -> list of (state, name) as found in the spool directories
        (a stray entry in a final state's directory as "?NAME")."""
        return qspool.walk(self.spool, strays=True)

    def job_file(self, state, name):
        with open(os.path.join(self.spool, state, name)) as f:
            return json.load(f)

    def events(self, jid):
        evs = qspool.read_events(self.spool, jid, bad_line=lambda ln: self.violation(
            "job %s: bad event line %r" % (jid, ln)))
        return [] if evs is None else evs

    @staticmethod
    def derive(evs):
        """starts, attempts, interrupts and verdict per spool-format.md.

        An attempt whose worker died (a start with no exit, followed by
        another start or a requeued worker_died) costs no attempt; the
        verdict is the first final event after the last retry."""
        last_retry = max([i for i, e in enumerate(evs) if e.get("event") == "retry"],
                         default=-1)
        starts = attempts = interrupts = 0
        open_start = False
        verdict = None
        for e in evs[last_retry + 1:]:
            ev = e.get("event")
            if ev == "start":
                if open_start:
                    interrupts += 1
                starts += 1
                open_start = True
            elif ev == "exit" and open_start:
                open_start = False
                if e.get("error") != "tempfail":
                    attempts += 1
            elif ev == "requeued" and e.get("reason") == "worker_died" and open_start:
                interrupts += 1
                open_start = False
            elif ev in ("completed", "failed", "cancelled", "expired") and verdict is None:
                verdict = e
        return starts, attempts, interrupts, open_start, verdict

    def job_pids(self):
        """Processes whose working directory is the jobs' directory."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                if os.readlink("/proc/%s/cwd" % p) == self.work:
                    with open("/proc/%s/stat" % p) as f:
                        st = f.read().rsplit(")", 1)[1].split()[0]
                    if st not in ("Z", "X"):
                        pids.append(int(p))
            except OSError:
                pass
        return pids

    # ------------------------------------------------------------- round

    def make_add_argv(self, rng, round_ids):
        argv = ["add"]
        r = rng.random()
        if r < 0.35:
            argv += ["--attempts", str(rng.choice([2, 3]))]
        if rng.random() < 0.25:
            argv += ["-p", str(rng.randrange(10))]
        if rng.random() < 0.08:
            argv += ["--key", "k%d" % rng.randrange(4)]
        if round_ids and rng.random() < 0.10:
            argv += ["--after", rng.choice(round_ids)]
        sleep = ""
        if rng.random() < 0.4:
            sleep = "0.00%d" % rng.randrange(1, 10)
        detach = ""
        if self.args.chaos and rng.random() < 0.3:
            detach = "0.0%d" % rng.randrange(2, 9)
            if rng.random() < 0.3:
                argv[1:1] = ["--timeout", "30ms", "--retry-timeout", "--backoff", "1ms:2ms"]
        argv += ["--", "sh", "-c", JOB_SH, "job", sleep, detach]
        return argv

    def operator(self, rng, round_ids, lock, stop, current):
        """--chaos: cancel, retry, hold, release, gc and fsck while it all runs."""
        while not stop.is_set():
            time.sleep(rng.uniform(0, 0.020))
            with lock:
                if not round_ids:
                    continue
                jid = rng.choice(round_ids)
                r = rng.random()
                argv = (["cancel", jid] if r < 0.30 else ["retry", jid] if r < 0.45 else
                        ["hold", jid] if r < 0.60 else ["release", jid] if r < 0.80 else
                        ["gc"] if r < 0.90 else ["fsck"])
                if argv[0] == "cancel":
                    self.opslog.setdefault(jid, []).append((time.time_ns(), "try-cancel"))
                p = self.popen(*argv)
                current[0] = p
            out, err = p.communicate()
            with lock:
                current[0] = None
                rc = p.returncode
                if rc == 0 and argv[0] in ("cancel", "retry"):
                    self.opslog.setdefault(jid, []).append((time.time_ns(), argv[0]))
                # A retry killed after its durable retry event has taken effect:
                # like one that exited 0, it excuses a run after an earlier cancel.
                if rc == -signal.SIGKILL and argv[0] == "retry":
                    self.opslog.setdefault(jid, []).append((time.time_ns(), "retry"))
                if rc == 0:
                    self.ops += 1
                # Refused (1: final already, not held...), busy (3 with a
                # message), killed: all fine; a crash or a hang is not.
                if rc not in (0, 1, 3, -signal.SIGKILL) or (rc == 3 and not err.strip()):
                    self.violation("q %s: exit %s: %s" % (" ".join(argv), rc, err.strip()))

    def run_round(self):
        rng = random.Random((self.seed << 20) ^ self.rounds)
        runlog = os.path.join(self.work, "RUNLOG")
        open(runlog, "w").close()
        shutil.rmtree(os.path.join(self.work, "locks"), ignore_errors=True)
        os.mkdir(os.path.join(self.work, "locks"))

        n_enq = rng.randint(1, 2)
        n_wrk = rng.randint(2, 3)
        per_enq = [max(1, int(rng.triangular(1, 2 * self.args.jobs / n_enq)))
                   for _ in range(n_enq)]
        lock = threading.Lock()
        round_ids = []
        current = [None] * n_enq       # q add in flight, per enqueuer
        stop = threading.Event()
        add_errors = []

        def enqueuer(k, seed):
            erng = random.Random(seed)
            for _ in range(per_enq[k]):
                if stop.is_set():
                    return
                with lock:
                    argv = self.make_add_argv(erng, round_ids)
                    p = self.popen(*argv)
                    current[k] = p
                out, err = p.communicate()
                with lock:
                    current[k] = None
                    jid = out.strip()
                    if ID_RE.match(jid):
                        self.printed.add(jid)
                        if jid not in self.tracked:
                            self.tracked[jid] = {"after": None, "round": self.rounds}
                        if "--after" in argv:
                            self.tracked[jid]["after"] = argv[argv.index("--after") + 1]
                        round_ids.append(jid)
                        if p.returncode == 0:
                            self.acked += 1
                    if p.returncode == -signal.SIGKILL:
                        self.add_killed += 1
                    elif p.returncode != 0 or (err and "duplicate of job" not in err):
                        add_errors.append((argv, p.returncode, err.strip()))

        threads = [threading.Thread(target=enqueuer, args=(k, rng.getrandbits(32)))
                   for k in range(n_enq)]
        workers = []
        opcur = [None]
        opstop = threading.Event()
        opthread = None
        if self.args.chaos:
            opthread = threading.Thread(target=self.operator,
                                        args=(random.Random(rng.getrandbits(32)), round_ids,
                                              lock, opstop, opcur))
            opthread.start()

        def top_up():
            workers[:] = [w for w in workers if w.poll() is None or self.reap(w)]
            while len(workers) < n_wrk:
                workers.append(self.popen("worker", "--stay" if self.args.stay else "--once",
                                          "-j", "2"))

        top_up()
        for t in threads:
            t.start()
        min_kills = rng.randint(2, 8)
        kills = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0, 0.050))
            adding = any(t.is_alive() for t in threads)
            with lock:
                victims = [w for w in workers if w.poll() is None]
                victims += [p for p in current + opcur if p is not None and p.poll() is None]
            # Done adding: stop after min_kills, or once the workers ran out of work.
            if not adding and (kills >= min_kills or not victims):
                break
            with lock:
                if victims:
                    v = rng.choice(victims)
                    try:
                        v.send_signal(signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
            top_up()
        stop.set()
        for t in threads:
            t.join()
        opstop.set()
        if opthread:
            opthread.join()
        self.kills += kills
        # Let the last workers finish (or kill one more at random).
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 0.050))
            live = [w for w in workers if w.poll() is None]
            if live:
                rng.choice(live).send_signal(signal.SIGKILL)
                self.kills += 1
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.violation("worker %d did not exit within 60 s" % w.pid)
                w.kill()
                w.wait()
            self.reap(w)
        # Workers the stayers started are detached: wait until every slot is free.
        if self.args.stay:
            end = time.monotonic() + 60
            while self.slots_busy():
                if time.monotonic() > end:
                    self.violation("a worker slot was still held 60 s after the round")
                    break
                time.sleep(0.01)
        for argv, rc, err in add_errors:
            self.violation("q %s: exit %s: %s" % (" ".join(argv[:-4]), rc, err))
        return runlog

    def slots_busy(self):
        """Is any worker slot (slots/N) locked?"""
        d = os.path.join(self.spool, "slots")
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if not name.isdigit():
                continue
            try:
                fd = os.open(os.path.join(d, name), os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
        return False

    def reap(self, w):
        """A worker that exited: complain about errors (not about SIGKILL)."""
        if getattr(w, "_reaped", False):
            return False
        w._reaped = True
        out, err = w.communicate()
        if w.returncode not in (0, -signal.SIGKILL) or (w.returncode == 0 and err.strip()):
            self.violation("q worker --once: exit %s: %s" % (w.returncode, err.strip()))
        return False

    def recover(self):
        """q worker --once until nothing is pending or running.

        In some rounds `q fsck --repair` goes first: it applies the same
        crash-recovery rules to running/ (it reports what it repairs, and
        exits 1 when it found anything)."""
        if random.Random((self.seed << 20) ^ self.rounds ^ 0x5a5a).random() < 0.25:
            rc, out, err = self.q("fsck", "--repair")
            self.repairs += 1
            if rc not in (0, 1) or err.strip():
                self.violation("q fsck --repair: exit %d: %s" % (rc, err.strip()))
            # Expected: the unlocked jobs in running/, a second pass after the
            # repair.  Also tolerated, but counted: the first pass reports the
            # jobs it has just moved out of running/ a second time, in their
            # new directory ("is both running and done"), a false duplicate.
            # Also expected: a job not yet final whose log has a verdict (a
            # retry killed between its rename and its event, spool-format.md
            # "Crash recovery"); the plain fsck after recovery checks that
            # none is left.
            unlocked = set(re.findall(r"'running/([0-9a-z]{14})' is not locked", out))
            for ln in out.splitlines():
                m = re.match(r"fsck: job '([0-9a-z]{14})' is both running and \w+$", ln)
                if m and m.group(1) in unlocked:
                    self.phantom_dups += 1
                elif re.match(r"fsck: '(pending/\d-|deferred/\d-|waiting/|held/)[0-9a-z]{14}': "
                              r"event log says \w+$", ln):
                    self.verdict_repairs += 1
                elif not ("is not locked: its worker died" in ln or
                          re.match(r"fsck: \d+ problems? found; checking again after repair$", ln)):
                    self.violation("q fsck --repair found: %s" % ln)
        # Jobs the operator held would wait for ever: release them.
        for jid, locs in self.walk().items():
            if any(s == "held" for s, _ in locs):
                self.q("release", jid)
        for i in range(30):
            where = self.walk()
            live = [i for i, locs in where.items()
                    if any(s not in FINAL for s, _ in locs)]
            if not live:
                return True
            rc, out, err = self.q("worker", "--once", "-j", "4")
            if rc != 0 or err.strip():
                self.violation("recovery q worker --once: exit %d: %s" % (rc, err.strip()))
        self.violation("recovery: still not finished after 30 workers: %s" % live[:5])
        return False

    def check(self, runlog):
        # The killed workers' jobs must be gone by now.
        end = time.monotonic() + 5
        while True:
            pids = self.job_pids()
            if not pids or time.monotonic() > end:
                break
            time.sleep(0.01)
        if pids:
            self.violation("job processes outlived their workers: %s" % pids)
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass

        rc, out, err = self.q("fsck")
        if rc != 0 or out or err:
            self.fsck_fail += 1
            self.violation("q fsck: exit %d: %s%s" % (rc, out, err))

        runs = {}
        order = {}
        started = {}        # id -> start times (ns) of its runs
        with open(runlog) as f:
            for n, ln in enumerate(f):
                parts = ln.split()
                if len(parts) >= 2 and parts[0] == "R":
                    runs[parts[1]] = runs.get(parts[1], 0) + 1
                    order.setdefault(parts[1], n)
                    if len(parts) >= 4 and parts[3].isdigit():
                        started.setdefault(parts[1], []).append(int(parts[3]))
                    self.runs += 1
                elif len(parts) >= 2 and parts[0] == "C":
                    self.dups += 1
                    self.violation("job %s: two runs at once" % parts[1])
                else:
                    self.violation("RUNLOG: bad line %r" % ln)

        where = self.walk()
        for jid in list(where):
            if not ID_RE.match(jid):
                self.violation("not a job id in the spool: %r %s" % (jid, where[jid]))
                del where[jid]
        for jid in self.printed:
            if jid not in where:
                self.lost += 1
                self.violation("LOST job %s (q add printed it)" % jid)
        for jid, locs in where.items():
            if len(locs) != 1:
                self.violation("job %s is in %d places: %s" % (jid, len(locs), locs))
                continue
            if jid not in self.tracked:
                # a q add killed before it printed: fine if whole.
                self.unacked_found += 1
                self.tracked[jid] = {"after": None, "round": self.rounds}
            state, name = locs[0]
            try:
                job = self.job_file(state, name)
            except (OSError, ValueError) as e:
                self.violation("job %s: unreadable job file %s/%s: %s" % (jid, state, name, e))
                continue
            evs = self.events(jid)
            starts, attempts, interrupts, open_start, verdict = self.derive(evs)
            all_starts = sum(1 for e in evs if e.get("event") == "start")
            ops = self.opslog.get(jid, [])
            done_ops = [o for o in ops if o[1] in ("cancel", "retry")]
            if done_ops and done_ops[-1][1] == "cancel":
                # The last word was a cancel that exited 0: it must hold.
                t = done_ops[-1][0]
                if state != "cancelled":
                    self.erased += 1
                    self.violation("job %s: a cancel exited 0 but the job is %s" % (jid, state))
                if any(s > t for s in started.get(jid, [])):
                    self.erased += 1
                    self.violation("job %s ran after a cancel that exited 0" % jid)
            nruns = runs.get(jid, 0)
            maxa = job.get("max_attempts", 1)
            maxi = job.get("max_interrupts", 3)
            if job.get("id") != jid:
                self.violation("job %s: file says id %s" % (jid, job.get("id")))
            if nruns > all_starts:
                self.violation("job %s ran %d times with %d start events"
                               % (jid, nruns, all_starts))
            if attempts + open_start > maxa:
                self.violation("job %s: %d attempts > max_attempts %d"
                               % (jid, attempts + open_start, maxa))
            if interrupts + open_start > maxi:
                self.violation("job %s: %d interrupted attempts > max_interrupts %d"
                               % (jid, interrupts + open_start, maxi))
            if self.tracked[jid]["round"] != self.rounds:
                if nruns:
                    self.violation("job %s of round %d ran again in round %d"
                                   % (jid, self.tracked[jid]["round"], self.rounds))
                continue
            if state == "cancelled":
                if not any(o[1] == "try-cancel" for o in ops):
                    self.violation("job %s is cancelled, and nobody cancelled it" % jid)
                self.cancelled += 1
                continue
            if state == "done":
                self.completed += 1
                if not verdict or verdict.get("event") != "completed":
                    self.violation("job %s in done/ with verdict %s" % (jid, verdict))
                if nruns < 1:
                    self.violation("job %s completed without running" % jid)
            elif state == "failed":
                err = verdict.get("error") if verdict else None
                # A worker killed between the rename of a failed dependent
                # and its event leaves it in failed/ without a verdict: its
                # status is its directory's (spool-format.md, step 6).
                if not verdict and job.get("after") and not nruns:
                    err = "dependency_failed"
                elif not verdict or verdict.get("event") != "failed":
                    self.violation("job %s in failed/ with verdict %s" % (jid, verdict))
                    continue
                if err == "worker_died":
                    self.worker_died += 1
                    if interrupts + open_start != maxi:
                        self.violation("job %s failed worker_died after %d of %d interrupts"
                                       % (jid, interrupts + open_start, maxi))
                elif err == "timeout" and job.get("timeout_ms"):
                    pass
                elif err == "dependency_failed":
                    deps = job.get("after") or []
                    bad = [d for d in deps
                           if d in where and where[d][0][0] != "done"]
                    retried = [d for d in deps
                               if any(o[1] == "retry" for o in self.opslog.get(d, []))]
                    if not bad and not retried:
                        self.violation("job %s failed dependency_failed but its "
                                       "dependencies completed: %s" % (jid, deps))
                    if nruns:
                        self.violation("job %s failed dependency_failed after running" % jid)
                else:
                    self.violation("job %s failed with error %s" % (jid, err))
            else:
                self.violation("job %s is %s after recovery" % (jid, state))
            # A dependent never runs before its dependency.
            for d in job.get("after") or []:
                if jid in order and (d not in order or order[d] > order[jid]):
                    self.violation("job %s ran before its dependency %s" % (jid, d))
        self.printed.clear()
        self.opslog.clear()

        tmp = os.listdir(os.path.join(self.spool, "tmp"))
        if tmp:
            self.violation("files left in tmp/: %s" % tmp)

    def gc(self):
        rc, out, err = self.q("gc", "--older-than", "0s")
        if rc != 0:
            self.violation("q gc --older-than 0s: exit %d: %s" % (rc, err.strip()))
        where = self.walk()
        if where:
            self.violation("q gc --older-than 0s left %d jobs, e.g. %s"
                           % (len(where), list(where.items())[:3]))
        self.tracked.clear()

    # --------------------------------------------------------------- main

    def main(self):
        a = self.args
        print("crash: seed %d, %d rounds, ~%d jobs a round, spool %s"
              % (self.seed, a.rounds, a.jobs, self.spool), flush=True)
        t0 = time.monotonic()
        try:
            for r in range(a.rounds):
                self.rounds = r + 1
                t1 = time.monotonic()
                runlog = self.run_round()
                t2 = time.monotonic()
                self.recover()
                t3 = time.monotonic()
                self.check(runlog)
                t4 = time.monotonic()
                if t4 - t1 > 5 or a.verbose:
                    print("# round %d: %.2f s run, %.2f s recovery, %.2f s checks"
                          % (self.rounds, t2 - t1, t3 - t2, t4 - t3), flush=True)
                if a.gc_every and self.rounds % a.gc_every == 0:
                    self.gc()
                if self.rounds % 50 == 0 or a.verbose:
                    print("# round %d: %d kills, %d jobs, %d runs, %d violations (%.0f s)"
                          % (self.rounds, self.kills, self.acked, self.runs,
                             len(self.violations), time.monotonic() - t0), flush=True)
                if len(self.violations) > 50:
                    print("crash: too many violations, stopping", file=sys.stderr)
                    break
        finally:
            for p in self.job_pids():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        other = len(self.violations) - self.lost - self.dups - self.fsck_fail - self.erased
        summary = ("crash: %d rounds, %d kills, %d jobs, %d runs, %d lost, "
                   "%d run twice concurrently, %s%s%s"
                   % (self.rounds, self.kills, self.acked, self.runs, self.lost, self.dups,
                      "fsck clean" if not self.fsck_fail else "%d fsck failures" % self.fsck_fail,
                      ", %d cancels (%d ops), %d erased" % (self.cancelled, self.ops, self.erased)
                      if a.chaos else "",
                      ", %d other violations" % other if other else ""))
        print("# %d completed, %d failed worker_died, %d q add killed, %d unprinted jobs found, "
              "%d recoveries by fsck --repair (%d false duplicates reported, %d verdicts "
              "moved), %d violations, %.0f s"
              % (self.completed, self.worker_died, self.add_killed, self.unacked_found,
                 self.repairs, self.phantom_dups, self.verdict_repairs,
                 len(self.violations), time.monotonic() - t0))
        print(summary, flush=True)
        if self.violations:
            print("crash: FAILED: %d violations (seed %d); first: %s"
                  % (len(self.violations), self.seed, self.violations[0]), file=sys.stderr)
        if a.keep or self.violations:
            print("crash: scratch directory kept: %s" % self.scratch, file=sys.stderr)
        else:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return 1 if self.violations else 0


if __name__ == "__main__":
    _a = parse_args()
    Q = qspool.q_binary(_a.q, Q, "crash")
    sys.exit(Suite(_a).main())
