#!/bin/sh
# -*- mode: python -*-
''''exec python3 -u "$0" "$@" #'''
# tests/faults.sh: the I/O fault suite ("Reliability proof").
#
#	tests/faults.sh [--only NAME[,NAME...]] [--ops open,write,...] [--errnos ENOSPC,EIO]
#	                [--crash] [--step K] [--no-strace] [--max-n 60] [--keep] [--verbose]
#
# A shell script in name only: the first lines hand it to python3.
#
# For each operation (q add, with and without --key, on a new and on an
# existing spool; q worker --once claiming and finishing one job; q cancel of
# a pending job; q retry of a failed one; q gc of a finished one; q hold of
# a pending and of a deferred job; q release; q list; q fsck; an agent
# session's prompt: q prompt, q next --take, q done, q fail, q release),
# each OP of the fault-injection seam (src/file.h: open, write,
# fsync, rename, link, unlink, mkdir) and each ERRNO (ENOSPC, EIO), and
# N = 1, 2, 3, ...: run the operation with Q_FAULT=OP:N:ERRNO on a fresh
# copy of a prepared spool, until it runs clean (exit 0, nothing on stderr)
# three times in a row, or N reaches --max-n.  After each run:
#
#   - failed: exit 3 and one line on stderr, starting "q: "; succeeded:
#     nothing on stderr but "q: warning: ..." lines;
#   - `q fsck` (no fault) exits 0 and prints nothing.  After a failed
#     `q worker`, the documented recovery comes first (`q worker --once`,
#     which fixes a job left in running/ by a worker that gave up).  After
#     the other commands, a spool that needs the crash-recovery rules (e.g.
#     a final event whose move failed) is listed, `q fsck --repair` runs,
#     and fsck must then be clean (--strict: needing the repair is a
#     violation too);
#   - read-only commands (q list, q fsck) never report success while they
#     skipped something: q list shows every job or fails; q fsck on a spool
#     with a problem never exits 0;
#   - a job put back where it was after a failure (a lease, a deferred job)
#     keeps its mtime (the lease's expiry, the job's due time);
#   - the job is wholly present (in exactly one place, with its event log,
#     shown by `q list --json` with valid fields, in a state the operation
#     allows) or wholly absent (no job file, no logs: only q add and q gc
#     may leave it absent); q add leaves no job or exactly one;
#   - a job never runs more often than its start events say;
#   - nothing is left in tmp/.
#
# Runs that exit 0 without a word get a second look under strace: if the
# syscall behind the faulted call is missing compared with a run without a
# fault, the fault was swallowed.  That is reported (a swallowed fsync loses
# durability silently) but only counted as a violation when the outcome
# differs from the fault-free run.
#
# --crash: crash points instead of errors.  Q_FAULT=any:N:KILL kills the
# operation just before its N-th spool call, N = 1, 2, ... until it runs to
# the end; two more operations (a worker expiring a job, and failing one
# whose dependency was cancelled) join the list.  After each run: what q
# fsck reports is only what "Crash recovery" in spool-format.md lists (a
# job in running/ nobody holds, a location its log's verdict disagrees
# with), and after the next worker (q worker --once) fsck is clean; an id
# q add printed is in the spool; a job that exists with --key is the one
# keys/K names; the job is in one place, in a state the operation (or the
# recovery worker) allows; a job a worker finished has its verdict in its
# log (step 6's cancel, expiry, failed dependency, q done and q fail may
# lack theirs, as documented: counted, not a violation); no job ran more
# often than its start events say; nothing but named staging in tmp/.
#
# Summary: "faults: N injected across M operations, V violations"; exit 1
# on any violation.

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no tests/__pycache__ in the tree
import qspool  # noqa: E402
from qspool import FINAL  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Q = os.path.join(TOP, "bin", "q")

STATUS_OF = {"pending": "pending", "deferred": "pending", "waiting": "pending",
             "held": "pending", "offered": "pending", "running": "running",
             "leased": "running", "done": "completed",
             "failed": "failed", "cancelled": "cancelled", "expired": "expired"}
ALL_OPS = ["open", "write", "fsync", "rename", "link", "unlink", "mkdir"]
ALL_ERRNOS = ["ENOSPC", "EIO"]
SYSCALLS = {
    "open": ["open", "openat", "openat2", "creat"],
    "write": ["write", "pwrite64", "writev"],
    "fsync": ["fsync", "fdatasync"],
    "rename": ["rename", "renameat", "renameat2"],
    "link": ["link", "linkat"],
    "unlink": ["unlink", "unlinkat", "rmdir"],
    "mkdir": ["mkdir", "mkdirat"],
}

RUN_JOB = 'echo "$Q_JOB_ID" >>RUNLOG'
SESSION = "faults-session"


class Op:
    """An operation: how to prepare its spool, what to run, what is allowed."""

    def __init__(self, name, prepare, argv, allowed, absent_ok=False, kind=None, quiet_ok=None,
                 extra=None, crash_only=False, session=None):
        self.name = name
        self.extra = extra          # fn(suite, ctx, jid, rc, out, err): more checks
        self.quiet_ok = quiet_ok    # a regex for stderr lines that are not errors
        self.prepare = prepare      # fn(suite, spool) -> job id or None
        self.argv = argv            # fn(job id) -> argv
        self.allowed = allowed      # states the job may be in afterwards
        self.absent_ok = absent_ok  # the job may be wholly absent afterwards
        self.kind = kind or name
        self.crash_only = crash_only  # only with --crash (the error runs cover their calls)
        self.session = session        # Q_SESSION for the run: an agent session's prompts


class Suite:
    def __init__(self, args):
        self.args = args
        self.scratch, self.work = qspool.make_scratch("faults")
        self.run_spool = os.path.join(self.scratch, "run", "spool")
        self.env = qspool.q_env()
        self.injected = 0
        self.runs = 0
        self.violations = []
        self.notes = collections.Counter()
        self.swallowed = []
        self.recoveries = collections.defaultdict(list)
        self.have_strace = shutil.which("strace") is not None and not args.no_strace

    # ------------------------------------------------------------ helpers

    def q(self, spool, *argv, fault=None, strace=None, session=None):
        env = dict(self.env, Q_SPOOL=spool)
        if session:
            env["Q_SESSION"] = session
        if fault:
            env["Q_FAULT"] = fault
        wrapper = ()
        if strace:
            # LeakSanitizer cannot run under ptrace (a SANITIZE=1 build).
            env["ASAN_OPTIONS"] = "detect_leaks=0"
            wrapper = ["strace", "-f", "-qq", "-o", strace, "-e",
                       "trace=" + ",".join(sum(SYSCALLS.values(), []))]
        return qspool.run_q(Q, argv, self.work, env, 60, wrapper=wrapper)

    def must(self, spool, *argv):
        rc, out, err = self.q(spool, *argv)
        if rc != 0:
            raise SystemExit("faults: preparing: q %s: exit %d: %s" % (" ".join(argv), rc, err))
        return out.strip()

    def violation(self, ctx, msg):
        msg = " | ".join(x for x in msg.splitlines() if x.strip())
        self.violations.append("%s: %s" % (ctx, msg))
        print("faults: VIOLATION %s: %s" % (ctx, msg), file=sys.stderr, flush=True)

    @staticmethod
    def walk(spool):
        return qspool.walk(spool)

    @staticmethod
    def events(spool, jid):
        return qspool.read_events(spool, jid)

    @staticmethod
    def logs_of(spool, jid):
        d = qspool.logs_dir(spool, jid)
        return [n for n in (os.listdir(d) if os.path.isdir(d) else []) if n.startswith(jid)]

    # ------------------------------------------------------ preparations

    def prep_new(self, spool):
        shutil.rmtree(os.path.dirname(spool))
        os.makedirs(os.path.dirname(spool), mode=0o700)
        return None

    def prep_empty(self, spool):
        self.must(spool, "status")          # nothing yet
        self.must(spool, "pause")           # creates the spool ...
        self.must(spool, "resume")          # ... and leaves it as it was
        return None

    def prep_key_stale(self, spool):
        jid = self.must(spool, "add", "--key", "K", "--", "sh", "-c", RUN_JOB)
        self.must(spool, "worker", "--once")
        return jid

    def prep_key_live(self, spool):
        return self.must(spool, "add", "--key", "K", "--", "sh", "-c", RUN_JOB)

    def prep_pending(self, spool):
        return self.must(spool, "add", "--", "sh", "-c", RUN_JOB)

    def prep_pending_failing(self, spool):
        return self.must(spool, "add", "--attempts", "2", "--backoff", "1h", "--",
                         "sh", "-c", RUN_JOB + "; exit 1")

    def prep_failed(self, spool):
        jid = self.must(spool, "add", "--", "sh", "-c", RUN_JOB + "; exit 1")
        self.q(spool, "worker", "--once")
        return jid

    def prep_done(self, spool):
        jid = self.must(spool, "add", "--", "sh", "-c", RUN_JOB)
        self.must(spool, "worker", "--once")
        return jid

    def prep_two(self, spool):
        """A completed job (in a bucket) and a pending one: for the readers."""
        self.prep_done(spool)
        return self.must(spool, "add", "--", "sh", "-c", RUN_JOB)

    def prep_fsck_problem(self, spool):
        """A completed job whose file has mode 0644: fsck must say so."""
        jid = self.prep_done(spool)
        os.chmod(os.path.join(spool, "done", jid[:4], jid), 0o644)
        return jid

    def check_list(self, ctx, jid, rc, out, err):
        if rc != 0:
            return
        try:
            jobs = json.loads(out)
        except ValueError as e:
            return self.violation(ctx, "q list --json exit 0 but not JSON: %s" % e)
        where = self.walk(self.run_spool)
        if sorted(j.get("id") for j in jobs) != sorted(where):
            self.violation(ctx, "q list --json exit 0 but shows %s, the spool holds %s"
                           % (sorted(j.get("id") for j in jobs), sorted(where)))

    def check_fsck(self, ctx, jid, rc, out, err):
        if rc == 0:
            self.violation(ctx, "q fsck exit 0 on a spool with a problem (%s)"
                           % (out + err).strip())

    def prep_held(self, spool):
        return self.must(spool, "add", "--hold", "--", "sh", "-c", RUN_JOB)

    def prep_deferred(self, spool):
        return self.must(spool, "add", "--in", "1h", "--", "sh", "-c", RUN_JOB)

    def prep_offered(self, spool):
        return self.must(spool, "prompt", "look at the failing test")

    def prep_leased(self, spool):
        jid = self.prep_offered(spool)
        rc, out, err = self.q(spool, "next", "--take", session=SESSION)
        if rc != 0:
            raise SystemExit("faults: preparing: q next --take: exit %d: %s" % (rc, err))
        return jid

    def prep_expired(self, spool):
        """A pending job past its deadline: the next claim expires it."""
        jid = self.must(spool, "add", "--deadline", "1s", "--", "sh", "-c", RUN_JOB)
        time.sleep(1.1)
        return jid

    def prep_dep_failed(self, spool):
        """A job waiting for a cancelled one: the next worker fails it."""
        dep = self.must(spool, "add", "--hold", "--", "sh", "-c", RUN_JOB)
        jid = self.must(spool, "add", "--after", dep, "--", "sh", "-c", RUN_JOB)
        self.must(spool, "cancel", dep)
        return jid

    def operations(self):
        add = lambda j: ["add", "--", "sh", "-c", RUN_JOB]
        addk = lambda j: ["add", "--key", "K", "--", "sh", "-c", RUN_JOB]
        return [
            Op("add", self.prep_empty, add, {"pending"}, kind="add"),
            Op("add-new-spool", self.prep_new, add, {"pending"}, kind="add"),
            Op("add-key", self.prep_empty, addk, {"pending"}, kind="add"),
            Op("add-key-stale", self.prep_key_stale, addk, {"pending"}, kind="add"),
            Op("add-key-dup", self.prep_key_live, addk, {"pending"}, kind="add",
               quiet_ok=r"^q: duplicate of job [0-9a-z]{14} \(key 'K'\)$"),
            Op("claim", self.prep_pending, lambda j: ["worker", "--once"],
               {"done", "failed"}, kind="claim"),
            Op("claim-retry", self.prep_pending_failing, lambda j: ["worker", "--once"],
               {"pending", "deferred", "failed"}, kind="claim"),
            Op("cancel", self.prep_pending, lambda j: ["cancel", j], {"pending", "cancelled"}),
            Op("retry", self.prep_failed, lambda j: ["retry", j], {"failed", "pending"}),
            Op("gc", self.prep_done, lambda j: ["gc", "--older-than", "0s"], {"done"},
               absent_ok=True, quiet_ok=r"^q: gc removed \d+ finished jobs?$"),
            Op("hold", self.prep_pending, lambda j: ["hold", j], {"pending", "held"}),
            Op("hold-deferred", self.prep_deferred, lambda j: ["hold", j], {"deferred", "held"}),
            Op("release", self.prep_held, lambda j: ["release", j], {"held", "pending"}),
            Op("list", self.prep_two, lambda j: ["list", "--json"], {"pending"},
               extra=self.check_list),
            Op("fsck", self.prep_fsck_problem, lambda j: ["fsck"], {"done"}, kind="fsck",
               extra=self.check_fsck),
            Op("prompt", self.prep_empty, lambda j: ["prompt", "look at the failing test"],
               {"offered"}, kind="add"),
            Op("lease", self.prep_offered, lambda j: ["next", "--take"], {"offered", "leased"},
               session=SESSION),
            Op("prompt-done", self.prep_leased, lambda j: ["done", j, "--note", "fixed"],
               {"leased", "done"}, session=SESSION),
            Op("prompt-fail", self.prep_leased, lambda j: ["fail", j], {"leased", "failed"},
               session=SESSION),
            Op("give-back", self.prep_leased, lambda j: ["release", j], {"leased", "offered"},
               session=SESSION),
            Op("expire", self.prep_expired, lambda j: ["worker", "--once"], {"pending", "expired"},
               crash_only=True),
            Op("dep-fail", self.prep_dep_failed, lambda j: ["worker", "--once"],
               {"waiting", "failed"}, crash_only=True),
        ]

    # --------------------------------------------------------- one run

    def one_place(self, ctx, where):
        for i, locs in where.items():
            if len(locs) != 1:
                self.violation(ctx, "job %s in %d places: %s" % (i, len(locs), locs))

    @staticmethod
    def key_names(spool, where, target):
        """Is keys/K a link to job target?"""
        kp = os.path.join(spool, "keys", "K")
        st, name = where[target][0]
        return os.path.exists(kp) and os.stat(kp).st_ino == os.stat(
            os.path.join(spool, st, name)).st_ino

    def place(self, ctx, op, spool, where, target, allowed):
        """Where job target is, (state, name), if it is in a state directory;
        checks that it is in one of allowed, or that it may be gone (and then
        has no logs left)."""
        locs = where.get(target)
        if not locs:
            if not (op.absent_ok or op.kind == "add"):
                self.violation(ctx, "job %s is gone" % target)
            elif self.logs_of(spool, target):
                self.violation(ctx, "job %s is gone but its logs are left: %s"
                               % (target, self.logs_of(spool, target)))
            return None
        if locs[0][0] not in allowed:
            self.violation(ctx, "job %s is in %s/ (want %s)"
                           % (target, locs[0][0], "|".join(sorted(allowed))))
        return locs[0]

    def check_runs(self, ctx, target, evs):
        """No more runs (RUNLOG lines) than start events."""
        starts = sum(1 for e in evs if e.get("event") == "start")
        with open(os.path.join(self.work, "RUNLOG")) as f:
            runs = sum(1 for x in f if x.strip() == target)
        if runs > starts:
            self.violation(ctx, "job %s ran %d times with %d start events"
                           % (target, runs, starts))

    def fresh(self, template):
        top = os.path.dirname(self.run_spool)
        if os.path.exists(top):
            shutil.rmtree(top)
        os.makedirs(top, mode=0o700)
        if os.path.exists(template):
            # Like cp -a: modes and times as they were (owner: ours).
            shutil.copytree(template, self.run_spool, symlinks=True)
        with open(os.path.join(self.work, "RUNLOG"), "w"):
            pass

    def outcome(self, op, jid, before):
        """A comparable summary of the spool after the operation."""
        where = self.walk(self.run_spool)
        ids = sorted(where)
        return tuple((i if i in before else "NEW", tuple(s for s, _ in where[i])) for i in ids)

    def check_run(self, op, jid, before, fault, rc, out, err, base_outcome):
        """All checks after one faulted run; returns True if the fault showed."""
        ctx = "%s Q_FAULT=%s" % (op.name, fault)
        spool = self.run_spool
        lines = err.splitlines()
        errors = [x for x in lines if not x.startswith("q: warning: ")
                  and not (op.quiet_ok and re.match(op.quiet_ok, x))]
        failed = rc != 0
        if op.extra:
            op.extra(ctx, jid, rc, out, err)
        if op.kind == "fsck":
            # Exit 1 with its report is the normal outcome; an error is exit 3.
            failed = rc == 3 or rc < 0
            lines = [x for x in lines if x.startswith("q: ")]
            errors = [x for x in errors if x.startswith("q: ")]
        if rc < 0:
            self.violation(ctx, "q killed by signal %d: %s" % (-rc, err.strip()))
        elif failed:
            if rc != 3:
                self.violation(ctx, "exit %d, want 3 (runtime error): %s" % (rc, err.strip()))
            if not errors:
                self.violation(ctx, "exit %d without an error message" % rc)
            elif not errors[0].startswith("q: "):
                self.violation(ctx, "error message does not start 'q: ': %r" % errors[0])
            if len(lines) > 1:
                self.notes["failed with %d lines on stderr" % len(lines)] += 1
                self.violation(ctx, "%d lines on stderr, want one: %s" % (len(lines), lines))
        elif errors and (rc == 0 or op.kind != "fsck"):
            self.violation(ctx, "exit 0 but an error on stderr: %s" % errors)
        showed = failed or bool(errors) or any(x.startswith("q: warning: ") for x in lines)

        # fsck right away.  A failed command may leave what a crash at the
        # same point leaves (a job in running/ nobody holds, a final event
        # not yet followed by its move): spool-format.md's recovery rules
        # then apply.  For q worker that recovery is the next worker, and
        # fsck must be clean after it.  For the other commands it is counted
        # and listed, `q fsck --repair` runs, and fsck must be clean after
        # that (with --strict, needing it is a violation too).
        frc, fout, ferr = self.q(spool, "fsck") if op.kind != "fsck" else (0, "", "")
        if frc != 0 or fout or ferr:
            probs = [x for x in (fout + ferr).splitlines()
                     if not re.match(r"fsck: \d+ problems?$", x)]
            if op.kind == "claim":
                if not all("is not locked: its worker died" in x for x in probs):
                    self.violation(ctx, "q fsck after the fault: exit %d: %s"
                                   % (frc, "; ".join(probs)))
                else:
                    self.notes["q worker failed, left its job in running/ for recovery"] += 1
                rrc, rout, rerr = self.q(spool, "worker", "--once")
                rec = "the recovery q worker --once"
            else:
                desc = "; ".join(re.sub(r"[0-9a-z]{14}", "ID", x) for x in probs)
                self.recoveries[(op.name, desc)].append(fault)
                if self.args.strict:
                    self.violation(ctx, "q fsck after the fault: exit %d: %s"
                                   % (frc, "; ".join(probs)))
                # The next worker must not make it worse; fsck --repair fixes it.
                rrc, rout, rerr = self.q(spool, "fsck", "--repair")
                rec = "q fsck --repair"
            frc, fout, ferr = self.q(spool, "fsck")
            if frc != 0 or fout or ferr:
                self.violation(ctx, "q fsck after %s: exit %d: %s%s"
                               % (rec, frc, fout.strip(), ferr.strip()))

        where = self.walk(spool)
        new = [i for i in where if i not in before]
        self.one_place(ctx, where)

        # The job of the operation.
        target = jid
        if op.kind == "add":
            if len(new) > 1:
                self.violation(ctx, "q add left %d jobs: %s" % (len(new), new))
            if op.name == "add-key-dup":
                pass
            elif not failed:
                if len(new) != 1:
                    self.violation(ctx, "q add exit 0 but %d new jobs" % len(new))
                elif out.strip() != new[0]:
                    self.violation(ctx, "q add printed %r, the new job is %s"
                                   % (out.strip(), new[0]))
            elif new:
                self.violation(ctx, "q add failed (exit %d) but job %s exists (%s)"
                               % (rc, new[0], where[new[0]]))
            if op.name == "add-key-dup":
                if new:
                    self.violation(ctx, "q add --key K made job %s while job %s holds key K "
                                   "(exit %d)" % (new[0], jid, rc))
                if not failed and out.strip() != jid:
                    self.violation(ctx, "q add --key K printed %r, want the duplicate %s"
                                   % (out.strip(), jid))
            target = new[0] if new else (jid if op.name == "add-key-dup" else None)
            if op.name in ("add-key", "add-key-stale") and target and not failed:
                if not self.key_names(spool, where, target):
                    self.violation(ctx, "keys/K is not a link to the new job %s" % target)
        # A failed claim may have put its job back before it started.
        allowed = set(op.allowed) | ({"pending"} if op.kind == "claim" and failed else set())
        if target:
            loc = self.place(ctx, op, spool, where, target, allowed)
            if loc:
                st = loc[0]
                if failed and op.kind != "claim" and [loc] == before.get(target) and \
                        st in ("deferred", "leased"):
                    # Put back as it was: a lease keeps its expiry, a retry its time.
                    mt = [os.stat(os.path.join(d, st, loc[1])).st_mtime_ns // 1000000
                          for d in (self.template, spool)]
                    if mt[0] != mt[1]:
                        self.violation(ctx, "job %s is back in %s/ with mtime %d, was %d"
                                       % (target, st, mt[1], mt[0]))
                evs = self.events(spool, target)
                # gc removes the logs before the job file (spool-format.md,
                # "Crash recovery"): a gc that failed in between may leave a
                # finished job without logs, its status still its directory's.
                if st in FINAL and evs is None and op.kind not in ("fsck", "gc"):
                    self.violation(ctx, "job %s in %s/ has no event log" % (target, st))
                evs = evs or []
                if op.kind == "claim" and st == "failed":
                    finals = [e for e in evs if e.get("event") in ("completed", "failed")]
                    if not finals or finals[-1].get("error") not in ("worker_died", "nonzero_exit"):
                        self.violation(ctx, "job %s failed with %s"
                                       % (target, finals[-1] if finals else "no verdict"))
                self.check_runs(ctx, target, evs)
                lrc, lout, lerr = self.q(spool, "list", "--json")
                try:
                    jobs = {j["id"]: j for j in json.loads(lout)}
                    j = jobs[target]
                    bad = []
                    if j.get("status") != STATUS_OF[st]:
                        bad.append("status %r in %s/" % (j.get("status"), st))
                    if j.get("type") != "prompt" and not (isinstance(j.get("argv"), list)
                                                          and j["argv"]):
                        bad.append("argv %r" % j.get("argv"))
                    if not isinstance(j.get("attempts"), int) or j["attempts"] < 0:
                        bad.append("attempts %r" % j.get("attempts"))
                    if not isinstance(j.get("max_attempts"), int) or j["max_attempts"] < 1:
                        bad.append("max_attempts %r" % j.get("max_attempts"))
                    if isinstance(j.get("attempts"), int) and j["attempts"] > j.get("max_attempts", 0):
                        bad.append("attempts %d > max_attempts %d" % (j["attempts"], j["max_attempts"]))
                    if not isinstance(j.get("history"), list):
                        bad.append("history %r" % j.get("history"))
                    if bad:
                        self.violation(ctx, "q list --json: job %s: %s" % (target, ", ".join(bad)))
                except (ValueError, KeyError, TypeError) as e:
                    self.violation(ctx, "q list --json (exit %d) does not show job %s: %s %s"
                                   % (lrc, target, e, lerr.strip()))
        tmp = os.path.join(spool, "tmp")
        if os.path.isdir(tmp) and os.listdir(tmp):
            self.violation(ctx, "files left in tmp/: %s" % os.listdir(tmp))
        if not showed and base_outcome is not None:
            if self.outcome(op, jid, before) != base_outcome:
                self.violation(ctx, "exit 0 and silent, but the outcome differs from a "
                               "run without fault: %s vs %s"
                               % (self.outcome(op, jid, before), base_outcome))
        return showed

    VERDICT_DIR = {"completed": "done", "failed": "failed", "cancelled": "cancelled",
                   "expired": "expired"}

    @classmethod
    def verdict_dir(cls, evs):
        """The directory the log's verdict names (spool-format.md: the first
        final event after the last retry), or None."""
        v = None
        for e in evs:
            if e.get("event") == "retry":
                v = None
            elif v is None and e.get("event") in cls.VERDICT_DIR:
                v = cls.VERDICT_DIR[e["event"]]
        return v

    def check_crash(self, op, jid, before, fault, rc, out, err):
        """--crash: the checks after a run killed at one call (Q_FAULT
        any:N:KILL) and the recovery spool-format.md documents for it.
        Returns True if the kill happened."""
        ctx = "%s Q_FAULT=%s" % (op.name, fault)
        spool = self.run_spool
        killed = rc == -9
        before_rec = self.walk(spool)
        new = [i for i in before_rec if i not in before]
        if op.kind == "add" and out.strip():
            # An id printed is durable: the job is there, killed or not.
            if out.strip() not in before_rec and op.name != "add-key-dup":
                self.violation(ctx, "q add printed %s, which is not in the spool" % out.strip())
        # What a crash may leave is what "Crash recovery" in spool-format.md
        # lists, and the next worker mends it (it recovers running/ as it
        # starts, and a claim moves a job to its log's verdict).
        recovered = False
        frc, fout, ferr = self.q(spool, "fsck")
        if op.kind != "fsck" and (frc != 0 or fout or ferr):
            probs = [x for x in (fout + ferr).splitlines()
                     if not re.match(r"fsck: \d+ problems?$", x)]
            other = [x for x in probs if not re.search(
                r"is not locked: its worker died$|': event log says \w+$", x)]
            if other:
                self.violation(ctx, "q fsck after the crash: %s" % "; ".join(other))
            desc = "; ".join(re.sub(r"[0-9a-z]{14}", "ID", x) for x in probs)
            self.recoveries[(op.name, desc)].append(fault)
            self.q(spool, "worker", "--once")
            recovered = True
            frc, fout, ferr = self.q(spool, "fsck")
            if frc != 0 or fout or ferr:
                self.violation(ctx, "q fsck after the recovery q worker --once: exit %d: %s%s"
                               % (frc, fout.strip(), ferr.strip()))
        where = self.walk(spool)
        self.one_place(ctx, where)
        new = [i for i in where if i not in before]
        target = jid
        if op.kind == "add":
            if len(new) > 1:
                self.violation(ctx, "q add left %d jobs: %s" % (len(new), new))
            target = new[0] if new else None
            if op.name == "add-key-dup" and new:
                self.violation(ctx, "q add --key K made job %s while job %s holds key K"
                               % (new[0], jid))
            if op.name in ("add-key", "add-key-stale") and target:
                # The job exists, so it runs: a later add with its key must
                # find it, acknowledged or not.
                if not self.key_names(spool, where, target):
                    self.violation(ctx, "job %s exists but keys/K does not name it" % target)
        allowed = set(op.allowed) | ({"pending"} if op.kind == "claim" else set())
        if recovered:
            # The recovery worker may have run it, or moved it to its verdict.
            allowed |= FINAL
        if target:
            loc = self.place(ctx, op, spool, where, target, allowed)
            if loc:
                st = loc[0]
                evs = self.events(spool, target) or []
                v = self.verdict_dir(evs)
                if st in FINAL and v is None and op.kind not in ("gc", "fsck"):
                    # Step 6 (rename, then event: cancel, expiry, a failed
                    # dependency, q done and q fail) may leave this; a worker
                    # finishing a job appends its verdict before its rename.
                    if op.kind == "claim":
                        self.violation(ctx, "job %s in %s/ has no verdict in its log"
                                       % (target, st))
                    else:
                        self.notes["a crash left a job in %s/ without its event (%s)"
                                   % (st, op.name)] += 1
                self.check_runs(ctx, target, evs)
                lrc, lout, lerr = self.q(spool, "list", "--json")
                try:
                    if target not in {j["id"] for j in json.loads(lout)}:
                        raise KeyError(target)
                except (ValueError, KeyError, TypeError) as e:
                    self.violation(ctx, "q list --json (exit %d) does not show job %s: %s %s"
                                   % (lrc, target, e, lerr.strip()))
        tmp = os.path.join(spool, "tmp")
        left = os.listdir(tmp) if os.path.isdir(tmp) else []
        if [x for x in left if not re.match(r"^[0-9a-z]{14}\.\d+$", x)]:
            self.violation(ctx, "files left in tmp/: %s" % left)
        elif left:
            self.notes["a crash left a named staging file in tmp/ (%s)" % op.name] += 1
        if not killed and rc != (1 if op.kind == "fsck" else 0) and op.kind != "claim":
            self.violation(ctx, "not killed, but exit %d: %s" % (rc, err.strip()))
        return killed

    def syscall_count(self, op, template, jid, fault, opname):
        self.fresh(template)
        trace = os.path.join(self.scratch, "strace.out")
        self.q(self.run_spool, *op.argv(jid), fault=fault, strace=trace, session=op.session)
        names = set(SYSCALLS[opname])
        n = 0
        with open(trace) as f:
            for ln in f:
                m = re.match(r"^\d+\s+(\w+)\(", ln)
                if m and m.group(1) in names and "= -1" not in ln:
                    # Count the calls on the spool's files only.
                    if opname == "write" or self.run_spool in ln or "AT_FDCWD" not in ln:
                        n += 1
        return n

    # --------------------------------------------------------------- main

    def main(self):
        a = self.args
        ops = [o for o in self.operations() if a.crash or not o.crash_only]
        if a.only:
            want = a.only.split(",")
            ops = [o for o in ops if o.name in want]
        fops = a.ops.split(",") if a.ops else ALL_OPS
        errnos = a.errnos.split(",") if a.errnos else ALL_ERRNOS
        if a.crash:
            # Every call is a crash point: "any" counts them all.
            fops, errnos = ["any"], ["KILL"]
        tdir = os.path.join(self.scratch, "templates")
        os.mkdir(tdir)
        t0 = time.monotonic()
        combos = 0
        per_op = collections.Counter()
        for op in ops:
            template = os.path.join(tdir, op.name, "spool")
            os.makedirs(os.path.dirname(template), mode=0o700)
            jid = op.prepare(template)
            rc, out, err = self.q(template, "fsck") if os.path.exists(template) else (0, "", "")
            if (rc or out or err) and op.kind != "fsck":
                raise SystemExit("faults: template %s not clean: %s%s" % (op.name, out, err))
            before = self.walk(template) if os.path.exists(template) else {}
            self.template = template
            # The outcome without a fault.
            self.fresh(template)
            rc, out, err = self.q(self.run_spool, *op.argv(jid), session=op.session)
            if rc != (1 if op.kind == "fsck" else 0) or any(not (op.quiet_ok and re.match(op.quiet_ok, x))
                              for x in err.splitlines()):
                raise SystemExit("faults: %s without a fault: exit %d: %s" % (op.name, rc, err))
            base = self.outcome(op, jid, before)
            for fop in fops:
                base_calls = None
                for e in errnos:
                    combos += 1
                    clean_streak = 0
                    n = 0
                    while clean_streak < 3 and n < a.max_n:
                        n += a.step if n else 1
                        fault = "%s:%d:%s" % (fop, n, e)
                        self.fresh(template)
                        rc, out, err = self.q(self.run_spool, *op.argv(jid), fault=fault,
                                              session=op.session)
                        self.runs += 1
                        if e == "KILL":
                            showed = self.check_crash(op, jid, before, fault, rc, out, err)
                        else:
                            showed = self.check_run(op, jid, before, fault, rc, out, err, base)
                        if a.verbose:
                            print("# %s %s: exit %d %s" % (op.name, fault, rc,
                                                           err.strip().replace("\n", " | ")))
                        if showed:
                            self.injected += 1
                            per_op[op.name] += 1
                            clean_streak = 0
                            continue
                        clean_streak += 1
                        # Silent success: was the call there at all?
                        if self.have_strace and e == errnos[0] and e != "KILL":
                            if base_calls is None:
                                base_calls = self.syscall_count(op, template, jid, None, fop)
                            got = self.syscall_count(op, template, jid, fault, fop)
                            if got < base_calls:
                                self.injected += 1
                                per_op[op.name] += 1
                                self.swallowed.append("%s Q_FAULT=%s (%s calls: %d, without "
                                                      "fault %d)" % (op.name, fault, fop, got,
                                                                     base_calls))
                    if n >= a.max_n and clean_streak < 3:
                        self.violation("%s Q_FAULT=%s:N:%s" % (op.name, fop, e),
                                       "still failing at N=%d" % n)
        dt = time.monotonic() - t0
        for k, v in sorted(self.notes.items()):
            print("# %s: %d" % (k, v))
        if self.violations:
            # The same fault at different N is usually one bug: group them.
            groups = collections.OrderedDict()
            for v in self.violations:
                m = re.match(r"(\S+) Q_FAULT=(\w+):(\d+|N):(\w+): (.*)", v)
                if not m:
                    groups.setdefault(v, []).append("")
                    continue
                name, fop, n, e, msg = m.groups()
                msg = re.sub(r"[0-9a-z]{14}", "ID", msg)
                msg = re.sub(r"'logs/[0-9a-z]{4}|'(done|failed|cancelled|expired)/[0-9a-z]{4}'",
                             lambda x: x.group(0)[:-4] + "B" if x.group(0).startswith("'logs")
                             else x.group(0)[:-5] + "B'", msg)
                msg = msg.replace("No space left on device", "ERRNO").replace(
                    "Input/output error", "ERRNO")
                groups.setdefault("%s %s: %s" % (name, fop, msg), []).append(
                    "%s:%s:%s" % (fop, n, e))
            print("# violations, grouped:")
            for k, faults in groups.items():
                print("#   %dx %s   [e.g. Q_FAULT=%s]" % (len(faults), k, faults[0]))
        for (name, desc), faults in sorted(self.recoveries.items()):
            print("# needed %s after a failed %s (%d runs, e.g. Q_FAULT=%s): %s"
                  % ("the next worker" if a.crash else "fsck --repair", name, len(faults),
                     faults[0], desc))
        for s in self.swallowed:
            print("# swallowed silently (exit 0, no message): %s" % s)
        print("# %d runs, %d combinations of operation, OP and ERRNO, per operation: %s, %.0f s"
              % (self.runs, combos, ", ".join("%s %d" % kv for kv in sorted(per_op.items())), dt))
        print("faults: %d injected across %d operations, %d violations"
              % (self.injected, len(ops), len(self.violations)), flush=True)
        if a.keep or self.violations:
            print("faults: scratch directory kept: %s" % self.scratch, file=sys.stderr)
        else:
            subprocess.run(["chmod", "-R", "u+rwx", self.scratch])
            shutil.rmtree(self.scratch, ignore_errors=True)
        return 1 if self.violations else 0


def parse_args():
    p = argparse.ArgumentParser(prog="tests/faults.sh", description="q I/O fault suite")
    p.add_argument("--q", metavar="PATH", help="the q binary (default: bin/q)")
    p.add_argument("--only", help="operations, comma-separated: add,add-new-spool,add-key,"
                   "add-key-stale,claim,claim-retry,cancel,retry,gc,hold,release")
    p.add_argument("--ops", help="fault OPs, comma-separated (default all)")
    p.add_argument("--errnos", help="ENOSPC,EIO (default both)")
    p.add_argument("--max-n", type=int, default=60)
    p.add_argument("--step", type=int, default=1, metavar="K",
                   help="N = 1, 1+K, 1+2K, ...: every K-th call (a shorter run)")
    p.add_argument("--no-strace", action="store_true",
                   help="skip the second look under strace at silent successes")
    p.add_argument("--crash", action="store_true",
                   help="crash points instead of errors: Q_FAULT=any:N:KILL, N = 1, 2, ...")
    p.add_argument("--strict", action="store_true",
                   help="a failed command that leaves work for fsck --repair is a violation")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args()


if __name__ == "__main__":
    _a = parse_args()
    Q = qspool.q_binary(_a.q, Q, "faults")
    sys.exit(Suite(_a).main())
