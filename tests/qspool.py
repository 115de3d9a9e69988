"""Helpers shared by the Python test drivers tests/crash.sh, tests/stress.sh
and tests/faults.sh: the scratch directory and environment a driver runs q
in, running q, and reading a spool as spool-format.md lays it out.

The drivers import it from their own directory (they insert it into
sys.path first), so they run from anywhere.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

# The spool's state directories (spool-format.md, "Tree"); the final ones
# hold a bucket directory B per id prefix: STATE/B/ID.
STATES = ["pending", "deferred", "waiting", "held", "running", "offered", "leased",
          "forwarded", "done", "failed", "cancelled", "expired"]
FINAL = {"done", "failed", "cancelled", "expired"}
ID_RE = re.compile(r"^[0-9a-hjkmnp-tv-z]{14}$")
PRIO_RE = re.compile(r"^([0-9])-([0-9a-hjkmnp-tv-z]{14})$")


def q_binary(opt, default, name):
    """The q binary a driver runs: --q PATH (made absolute) or default.

    Exits with "NAME: PATH is not built (make)" if it is not executable."""
    q = os.path.abspath(opt) if opt else default
    if not os.access(q, os.X_OK):
        sys.exit("%s: %s is not built (make)" % (name, q))
    return q


def pick_seed(seed):
    """seed, or a random 32-bit one when seed is None."""
    return seed if seed is not None else int.from_bytes(os.urandom(4), "big")


def make_scratch(name):
    """A new scratch directory q-NAME.XXXX under $TMPDIR (or /tmp).

    Mode 0700, its real path (no symbolic links), with an empty directory
    work/ in it, the jobs' working directory.  Returns (scratch, work)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    scratch = os.path.realpath(tempfile.mkdtemp(prefix="q-%s." % name, dir=base))
    os.chmod(scratch, 0o700)
    work = os.path.join(scratch, "work")
    os.mkdir(work)
    return scratch, work


def q_env(**extra):
    """The environment to run q in: ours without Q_* variables and without
    GH_TOKEN and GITHUB_TOKEN, with Q_SYNC_MODE=manual, LC_ALL=C.UTF-8, TZ=UTC
    and the variables given as keyword arguments (e.g. Q_SPOOL)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("Q_") and k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    env.update(Q_SYNC_MODE="manual", LC_ALL="C.UTF-8", TZ="UTC")
    env.update(extra)
    return env


def run_q(q, argv, cwd, env, timeout, wrapper=()):
    """Run q ARGV (behind the command wrapper, e.g. strace, if given) in cwd
    with env, stdin from /dev/null; returns (exit status, stdout, stderr).

    A run that takes longer than timeout seconds is killed and returns
    (124, "", "q ARGV: hung for TIMEOUT s (killed)")."""
    try:
        r = subprocess.run(list(wrapper) + [q] + list(argv), cwd=cwd, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", "q %s: hung for %d s (killed)" % (" ".join(argv), timeout)
    return r.returncode, r.stdout, r.stderr


def walk(spool, strays=False):
    """{id: [(state, name), ...]}: every job file found in the spool's state
    directories, name relative to the state directory (P-ID, ID or B/ID).

    A job in more than one place has more than one entry.  An entry of a
    final state's directory that cannot be listed as a bucket (not a
    directory, or gone) is skipped, or with strays=True recorded under the
    key "?" + its name, as (state, name)."""
    where = {}
    for s in STATES:
        d = os.path.join(spool, s)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            continue
        if s in FINAL:
            for b in names:
                try:
                    inner = os.listdir(os.path.join(d, b))
                except (NotADirectoryError, FileNotFoundError):
                    if strays:
                        where.setdefault("?" + b, []).append((s, b))
                    continue
                for n in inner:
                    where.setdefault(n, []).append((s, b + "/" + n))
        else:
            for n in names:
                m = PRIO_RE.match(n)
                where.setdefault(m.group(2) if m else n, []).append((s, n))
    return where


def logs_dir(spool, jid):
    """The directory of job jid's logs: SPOOL/logs/B (B = its first four
    characters)."""
    return os.path.join(spool, "logs", jid[:4])


def read_events(spool, jid, bad_line=None):
    """Job jid's event log as a list of JSON objects; None if it has none.

    A line that is not JSON raises ValueError, or, if bad_line is given, is
    passed to bad_line(line) and left out."""
    p = os.path.join(logs_dir(spool, jid), jid + ".events")
    try:
        with open(p) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    if bad_line is None:
        return [json.loads(ln) for ln in lines]
    out = []
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except ValueError:
            bad_line(ln)
    return out
