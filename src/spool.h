#ifndef Q_SPOOL_H
#define Q_SPOOL_H
/*
 * The spool: the only module that knows the directory layout and the
 * state machine.  spool-format.md is the contract; in short:
 *
 *  - A job is one JSON file written once.  Its status is the directory
 *    it is in; everything that happens to it is appended to its event
 *    log.  Every transition is one rename of that file.
 *  - Enqueue: write to an unnamed file in tmp/, fsync, link it into its
 *    first directory (link never replaces), fsync the directory.
 *  - Claim: open pending/P-ID, flock(LOCK_EX|LOCK_NB), check the locked
 *    inode is still at that name, rename to running/ID, keep the lock.
 *  - Liveness comes from locks: an unlocked file in running/ belonged to
 *    a worker that died, and spool_recover() puts it back or fails it.
 *
 * Functions print their own errors and return -1 (SP_ERR); lookups
 * return SP_NOJOB (-2) for unknown or ambiguous ids.
 */
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "event.h"
#include "job.h"

enum { SP_OK = 0, SP_ERR = -1, SP_NOJOB = -2, SP_FULL = -3 };

enum state {
	ST_PENDING, ST_DEFERRED, ST_WAITING, ST_HELD, ST_RUNNING,
	ST_DONE, ST_FAILED, ST_CANCELLED, ST_EXPIRED,
	ST_OFFERED, ST_LEASED,  /* prompts: waiting for an agent session, leased to one */
	ST_FORWARDED,           /* handed to the remote (q remote): it owns the job now */
	ST_NSTATES
};

/* The one table of states (src/spool/setup.c). */
struct state_info {
	const char *dir;     /* its directory in the spool */
	const char *name;    /* the state: pending, deferred, waiting, held, running, completed, ... */
	const char *status;  /* the status: pending covers deferred, waiting and held */
	int final;           /* completed, failed, cancelled, expired */
	int prio_named;      /* files are named P-ID (pending/, deferred/, offered/) */
	int timed;           /* the file's mtime is a time: deferred/ (due), leased/ (expiry) */
};
extern const struct state_info states[ST_NSTATES];

/* Final states live in buckets: DIR/B/ID, B = the id's first 4 chars. */
#define BUCKET_LEN 4
#define state_final(s) (states[s].final)
#define state_dir(s) (states[s].dir)
#define state_status(s) (states[s].status)
#define state_name(s) (states[s].name)
/* The state of a state name (pending, deferred, ..., completed); -1 if none. */
int state_parse(const char *name);
enum state verdict_state(enum verdict v);
/*
 * Where a job goes when it may be taken now: pending/ for workers, or
 * offered/ for a prompt (a type that agent sessions lease, job.h).
 */
enum state ready_state(const struct job *job);

/* Where one job's file is. */
struct jobref {
	char id[ID_LEN + 1];
	enum state state;
	int prio;           /* for pending/ and deferred/ names */
};

struct spool {
	char *path;         /* the spool directory, absolute */
	char *top;          /* the directory holding .idlergear */
	int fd;             /* the spool directory */
	int dfd[ST_NSTATES];
	int tmpfd, logsfd, keysfd, quarfd, slotsfd, locksfd, lastfd, notifyfd;
	int sessionsfd;
	int notified;               /* a job became final: job.on_finish calls are owed */
	int lbfd;                   /* the last logs/B opened, kept for the next file */
	char lbname[BUCKET_LEN];
	struct config cfg;
};

/*
 * Find the spool (Q_SPOOL, else .idlergear/spool at the top of the git
 * repository around the current directory, else in it), check its owner
 * and mode, create it when create is set, and load settings.
 * Returns SP_OK, or SP_ERR after a message; *missing is set (when not
 * creating) if the spool does not exist yet, which readers treat as
 * an empty spool.
 */
int spool_open(struct spool *sp, int create, int *missing);
/*
 * The directory that holds .idlergear for dir (malloc'd): the top of
 * the repository around dir (the main worktree's top for a linked
 * worktree, the common directory for a worktree of a bare repository),
 * else dir.  Every worktree of one repository gives the same answer.
 */
char *spool_find_top(const char *dir);
void spool_release(struct spool *sp);

/* The name of ref's file relative to its state directory. */
void jobref_name(const struct jobref *ref, char *out, size_t n);

/* When a deferred job becomes runnable (its file's mtime), or -1. */
int64_t spool_due(struct spool *sp, const struct jobref *ref);

/* Find a job by id or unique prefix. */
int spool_find(struct spool *sp, const char *prefix, struct jobref *ref);
/* Find a job by whole id, without messages; SP_NOJOB if absent. */
int spool_locate(struct spool *sp, const char *id, struct jobref *ref);
/* The same among final jobs only (four looks): SP_NOJOB while it is not final. */
int spool_locate_final(struct spool *sp, const char *id, struct jobref *ref);

/*
 * Read the job file (job may be NULL) and the event log (st may be
 * NULL).  A job file this q cannot run (job.h, JOB_FOREIGN) loads.
 */
int spool_load(struct spool *sp, const struct jobref *ref, struct job *job, struct jobstate *st);
/* Fold the event log; an absent log is empty, one over EVENTS_MAX_SIZE an error. */
int spool_load_events(struct spool *sp, const char *id, struct jobstate *st);
/* The same from the open log fd; *size (may be NULL) gets the bytes folded. */
int spool_fold_events_fd(int fd, const char *id, struct jobstate *st, off_t *size);
/* Append an event line; sync: fdatasync it. */
int spool_event(struct spool *sp, const char *id, struct buf *line, int sync);
/* Append event ev, with one string field key=val when key is set. */
int spool_event_simple(struct spool *sp, const char *id, const char *ev, const char *key,
		       const char *val, int sync);
/*
 * Append one event line to the open log fd as one write(2), first
 * ending a line a failed write left torn; sync: fdatasync it.
 * -1 with errno (no message).
 */
int event_append(int fd, const struct buf *line, int sync);
/*
 * Open a job's file logs/B/ID.EXT (out, events, progress, result),
 * each path component without following symbolic links; created 0600
 * with O_CREAT.  Anything but a regular file of ours is refused.  -1
 * with errno ENOENT (and no message) when absent.
 */
int spool_open_log(struct spool *sp, const char *id, const char *ext, int flags);

/*
 * Rewrite the event log of a job (locked by the caller) without its
 * torn lines (q fsck --repair): a new file, synced, renamed over it.
 */
int spool_events_rewrite(struct spool *sp, const char *id);

/*
 * Progress lives apart from the event log (logs/B/ID.progress, JSON
 * lines), so however much a job reports, its lifecycle events stay
 * small; only the last line counts, and the file starts over once past
 * PROGRESS_MAX_SIZE.
 */
#define PROGRESS_MAX_SIZE (64 << 10)
#define PROGRESS_LINE_MAX 4096
int spool_progress_write(struct spool *sp, const char *id, int pct, const char *msg);
/*
 * Put the last report into st (progress_*) when newer than what st has;
 * a report without a percentage (pct -1: a prompt's session) has
 * progress_at set and progress_pct -1.
 */
int spool_progress_load(struct spool *sp, const char *id, struct jobstate *st);

/*
 * Results (logs/B/ID.result): JSON of at most RESULT_MAX_SIZE bytes.  A
 * job writes it to its staging file tmp/ID.result (the path in
 * $Q_RESULT); the worker takes it when the attempt ends and stores it
 * durably before the verdict.
 */
#define RESULT_MAX_SIZE (64 << 10)
const char *spool_result_staging(struct spool *sp, const char *id, struct buf *path);
int spool_result_take(struct spool *sp, const char *id, struct buf *out, char *why, size_t n);
int spool_result_store(struct spool *sp, const char *id, const struct buf *text);
int spool_result_remove(struct spool *sp, const char *id);
/* The stored result into out (left empty when there is none). */
int spool_result_load(struct spool *sp, const char *id, struct buf *out);

/*
 * A note for whoever looks later (spool.log: workers started by hooks
 * and timers have no terminal): one line, with the time and our pid.
 */
#define SPOOL_LOG_MAX (1 << 20)
void spool_note(struct spool *sp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Enqueue a job whose fields are set (id is assigned here), into state
 * ST_PENDING or ST_OFFERED (ready_state), ST_DEFERRED (due at
 * job->run_at), ST_WAITING or ST_HELD.
 * With job->key: if a live job holds the key, copy its id to dup and
 * return 1.  SP_FULL when queue.max_pending is reached.
 */
int spool_add(struct spool *sp, struct job *job, enum state initial, char dup[ID_LEN + 1]);
/*
 * Group commit (q add --batch): spool_batch_add stages a job (its id
 * drawn, its file written, not yet synced or visible); all of a batch
 * go to one state directory.  spool_batch_commit syncs the file system
 * once, links every file into place, syncs the directory once, and
 * returns how many jobs, in order from the first, now exist durably
 * (-1 after a message when none do).  Keys are not allowed in a batch.
 */
struct staged {
	int fd;
	char tmpname[64];
	struct jobref ref;
	struct buf text;
	int64_t run_at, created_at;
};
struct spool_batch {
	struct staged *v;
	int n, cap;
	enum state initial;
	int capfd;              /* add.lock, held while queue.max_pending counts */
	long room;              /* jobs queue.max_pending still allows; -1 unknown */
};
void spool_batch_init(struct spool_batch *b);
int spool_batch_add(struct spool *sp, struct spool_batch *b, struct job *job, enum state initial);
int spool_batch_commit(struct spool *sp, struct spool_batch *b);
void spool_batch_release(struct spool *sp, struct spool_batch *b);
int spool_sync_state(struct spool *sp, enum state s);

/*
 * Take back a job just added (q add could not print its id): 0 it is
 * gone, 1 a worker has it already, -1 error.
 */
int spool_withdraw(struct spool *sp, const struct job *job, enum state initial);

/*
 * Make the job (its file locked as fd) the holder of its key again, as
 * q retry does: 0 done (or it still was), 1 another live job holds the
 * key (its id in dup), -1 error.
 */
int spool_key_take(struct spool *sp, const struct job *job, int fd, char dup[ID_LEN + 1]);

/*
 * Move a job, by rename, from ref->state to `to` (a deferred or leased
 * job gets mtime until_ms).  fd, when >= 0, is the job's locked descriptor.
 * Updates ref on success.
 */
int spool_move(struct spool *sp, struct jobref *ref, enum state to, int fd, int64_t until_ms);
/*
 * The same without syncing the directory: for a worker that makes the
 * job's verdict durable right after (step 4 of spool-format.md).
 */
int spool_move_nosync(struct spool *sp, struct jobref *ref, enum state to, int fd,
		      int64_t until_ms);

/*
 * Should the log of ref's job (locked as fd) have a verdict, move the
 * job to its directory, as a claim does: 1 when it went there, 0 when
 * the log has none, -1 on error.
 */
int spool_reconcile(struct spool *sp, struct jobref *ref, int fd);

/*
 * A transition decided outside a worker (cancel, expire, a failed
 * dependency, retry, hold, release): with ref's file locked as fd, move
 * it to `to` (a deferred job due at until), then append event ev (with error err, or NULL) durably.
 * If the event cannot be written the move is undone, so the job is
 * wholly as before or wholly moved.
 */
int spool_transition(struct spool *sp, struct jobref *ref, int fd, enum state to, int64_t until,
		     const char *ev, const char *err);

/*
 * spool_transition with the event line given (built with event_begin
 * and event_end); sync: the move and the event are durable on return,
 * else the caller syncs the file system (many returns at once).
 */
int transition_line(struct spool *sp, struct jobref *ref, int fd, enum state to, int64_t until,
		    struct buf *line, int sync);

/* Open and flock(LOCK_EX|LOCK_NB) ref's file: fd, -1 error, -2 locked or gone. */
int spool_lock(struct spool *sp, const struct jobref *ref);

/* A claimed job: the locked descriptor, and what it says. */
struct claim {
	int fd;                 /* the job file, locked */
	int evfd;               /* its event log, open for appending; -1: none yet */
	off_t events_size;      /* bytes of the log folded into st */
	struct jobref ref;
	struct job job;
	struct jobstate st;
	char why[200];          /* CLAIM_SKIP: why this q leaves it */
};
enum { CLAIM_NONE = 0, CLAIM_OK = 1, CLAIM_SKIP = 2, CLAIM_BUSY = 3 };
/*
 * Claim pending/name: lock it, read and check it, then rename it to
 * running/.  Everything is decided under the lock before the rename,
 * so a job this q cannot run stays where it is: CLAIM_SKIP with c->why
 * for a job of a type this q does not know, a newer version, or one
 * runnable() (when set) refuses (returns 0); CLAIM_BUSY when runnable()
 * returns -1: not now (its queue is full).  CLAIM_OK: claimed (c filled; the
 * caller calls claim_release).  CLAIM_NONE: another worker won, the
 * file was quarantined, or the job was final or expired already.  -1
 * on error.
 */
int spool_claim(struct spool *sp, const char *name, struct claim *c,
		int (*runnable)(const struct job *job, void *arg, char *why, size_t n), void *arg);
void claim_release(struct claim *c);

/*
 * Read the names in pending/ and return the n smallest (the next to
 * run, in order) in names[][NAME_LEN], leaving out those skip (when
 * set) says to; returns how many, -1 on error.  *total receives the
 * number of entries seen.
 */
#define NAME_LEN 24
int spool_scan_pending(struct spool *sp, char (*names)[NAME_LEN], int n, long *total,
		       int (*skip)(const char *name, void *arg), void *arg);

/*
 * Promote due deferred jobs and waiting jobs whose dependencies are
 * met; fail waiting jobs whose dependencies failed; expire jobs past
 * their deadline.  *next_due gets the earliest future due time (-1:
 * none); *waiting (may be NULL) how many jobs are left in waiting/.
 * Returns how many jobs became runnable, -1 on error.
 */
int spool_promote(struct spool *sp, int64_t *next_due, int *waiting);
/* The mtime (ns) of state s's directory: it changes when a job comes or goes. */
int spool_dir_mtime(struct spool *sp, enum state s, int64_t *ms);

/*
 * Apply the crash-recovery rules (spool-format.md) to running/: jobs
 * whose lock is free are requeued or failed.  Returns how many.
 */
int spool_recover(struct spool *sp);

/*
 * Quarantine dir/name with a reason.  dirfd is the directory's fd,
 * label the directory's name for the quarantine name.
 */
int spool_quarantine(struct spool *sp, int dirfd, const char *label, const char *name,
		     const char *reason);

/* Worker slots: fd of a free slot (locked), -2 none free, -1 error. */
int spool_slot(struct spool *sp, int max);
/*
 * Take over fd, a slot locked by the q add that started us: fd if it
 * is one of slots/0 .. max-1 (and locked by us), else -1 (closed).
 */
int spool_slot_adopt(struct spool *sp, int fd, int max);
/*
 * The staying worker (slots/idle): at most one worker that has just run
 * jobs holds it while it watches the spool for new jobs (see
 * spool-format.md), so q add has nothing to start.  spool_idle_lock:
 * the locked fd (our pid and key written in: what runs jobs here, see
 * op_worker_key), -2 another worker holds it, -1 error.  spool_stayer:
 * the stayer's pid, 0 when there is none; its key into key (n bytes;
 * key may be NULL).
 */
int spool_idle_lock(struct spool *sp, const char *key);
long spool_stayer(struct spool *sp, char *key, size_t n);
/*
 * A slot of a job queue (locks/NAME.N, N < max): jobs that share a
 * queue run at most max at once, whichever workers run them.  fd of a
 * free slot (locked), -2 none free, -1 error.
 */
int spool_queue_slot(struct spool *sp, const char *queue, int max);
/*
 * The spool's waiter (waiter.lock): at most one worker sleeps, holding
 * no slot, until the next scheduled job is due.  spool_waiter_lock: the
 * locked fd, -2 another worker waits, -1 error.  spool_waiter: the
 * waiter's pid, 0 when there is none.  spool_watch_schedule: an
 * inotify descriptor on deferred/ and waiting/, -1 if unavailable.
 * spool_watch_arrivals: one on arrivals in pending/, deferred/ and
 * waiting/ and on the spool's own entries going, -1 (errno) if
 * unavailable.
 */
int spool_waiter_lock(struct spool *sp);

/*
 * Lock d/name (created 0600), waiting at most wait_ms while another
 * process holds it: the fd; -2 busy (said, unless wait_ms is 0); -1 on
 * error (said).
 */
int spool_lock_file(int d, const char *name, const char *what, int64_t wait_ms);
long spool_waiter(struct spool *sp);
int spool_watch_schedule(struct spool *sp);
int spool_watch_arrivals(struct spool *sp);
/*
 * The last job a session added (last/SESSION), for the "@" shorthand:
 * the session is $Q_SESSION if set (an agent's session), else the
 * terminal session id (getsid).  spool_last_get: SP_OK, SP_NOJOB, SP_ERR.
 */
int spool_last_set(struct spool *sp, const char *id);  /* -1 with errno, no message */
int spool_last_get(struct spool *sp, char id[ID_LEN + 1]);
/*
 * job.on_finish: a job that becomes final (by any process: worker,
 * cancel, expiry, recovery) is noted in notify/ID before its move.
 * spool_notify_next returns the next noted job nobody is calling for
 * (and skip, when set, does not skip), locked (the fd; its id in id),
 * or -2 when none is left; the caller runs the command, then
 * spool_notify_done removes the note and closes the fd.  A note is
 * made before the move: a job not final yet is on its way, and the
 * process moving it starts a q notify once it is there.  A note whose caller died is unlocked, and taken again: a
 * call is made at least once, and once unless a crash cuts it short.
 */
int spool_notify_next(struct spool *sp, char id[ID_LEN + 1],
		      int (*skip)(const char *id, void *arg), void *arg);
int spool_notify_done(struct spool *sp, const char *id, int fd);
/* Are calls owed (notify/ holds notes skip, when set, does not skip)? */
int spool_notify_pending(struct spool *sp, int (*skip)(const char *id, void *arg), void *arg);
/*
 * Set by a front end: called by spool_release when this process made
 * a job final and job.on_finish is set (q starts a q notify).
 */
extern void (*spool_notify_hook)(struct spool *sp);
/* Is the spool paused? */
int spool_paused(struct spool *sp);
int spool_set_paused(struct spool *sp, int paused);

/*
 * Prompts and their leases (spool-format.md, "Prompts and sessions").
 * A prompt waits in offered/P-ID.  A session leases it like a claim:
 * lock the file, rename it to leased/ID with mtime = when the lease
 * expires, then append a durable `leased` event naming the session,
 * which is the owner of record.  The holder renews the lease (a new
 * mtime, set under the lock), finishes the prompt (q done, q fail) or
 * gives it back.  A lease whose time has passed goes back to offered/
 * when any q looks (spool_leases_reap), or fails the prompt with
 * lease_expired once its attempts are spent: a session killed without
 * a word loses nothing, and two sessions never hold one prompt.
 */
/* Lease the next offered prompt to session until `until`: SP_OK (ref set), SP_NOJOB none, SP_ERR. */
int spool_lease_next(struct spool *sp, const char *session, const char *agent, int64_t until,
		     struct jobref *ref);
/*
 * Does session hold the lease of prompt id?  If so, renew it to until
 * (unless until is 0): 1 held, 0 not held (any more), -1 error.
 */
int spool_lease_renew(struct spool *sp, const char *id, const char *session, int64_t until);
/*
 * Give back a leased prompt (ref, locked as fd) to offered/, with a
 * `returned` event saying why (released, session_end, expired).
 * sync: durable on return; else the caller syncs the file system.
 */
int spool_lease_return(struct spool *sp, struct jobref *ref, int fd, const char *reason, int sync);
/* Leases whose time has passed: back to offered/, or failed; how many, -1 on error. */
int spool_leases_reap(struct spool *sp);
/* Give back every lease session holds, with one sync at the end; how many, -1 on error. */
int spool_leases_return_all(struct spool *sp, const char *session);

/*
 * Agent sessions: sessions/NAME/ (NAME: the session id, escaped as keys
 * are) holds `state`, a JSON object the hooks keep (written whole to a
 * new file renamed over the old; not synced: it is a record of what the
 * hooks told the session, not of jobs), and `jobs`, the ids of jobs q
 * add queued under Q_SESSION, one a line.  Whoever reads and rewrites
 * the state holds flock on the directory.
 *
 * spool_session_open: the session's directory, locked (waiting at most
 * a second); created when create is set, else -2 when the session is
 * not registered; -1 on error.  spool_session_read: a file of it
 * (state or jobs) from offset off, at most max bytes, into out (a
 * missing file is empty).  spool_session_write: the new state.
 * spool_session_remove: the session and its files (sd is closed).
 */
int spool_session_open(struct spool *sp, const char *session, int create);
int spool_session_read(int sd, const char *file, off_t off, size_t max, struct buf *out);
int spool_session_write(int sd, const struct buf *state);
int spool_session_remove(struct spool *sp, const char *session, int sd);
/* q add under Q_SESSION: note job id in the session's jobs (quiet: a hint). */
void spool_session_job(struct spool *sp, const char *id);
/* Remove sessions whose state has not changed for a week (a lease left expires by itself). */
int spool_sessions_gc(struct spool *sp);

/*
 * Forwarded jobs (q remote; spool-format.md, "Forwarded jobs").  A job
 * handed to the remote moves to forwarded/ID with a `forwarded` event
 * (spool_transition).  Its verdict comes back with spool_mirror: with
 * ref (in forwarded/) locked as fd, the output log is replaced by out,
 * result (when not empty) stored, the event log replaced by its lines
 * up to the last `forwarded` event followed by events (the remote's
 * event lines), all synced, and the job moved to final state `to`.
 * Repeating it after a crash gives the same files.
 */
int spool_mirror(struct spool *sp, struct jobref *ref, int fd, enum state to,
		 const struct buf *events, const struct buf *out, const struct buf *result);

/* Count jobs per state; returns SP_OK. */
int spool_count(struct spool *sp, long counts[ST_NSTATES]);

/*
 * Call fn for every job in state s, sorted by name within each
 * directory when sorted is set (the names are then held in memory), else
 * in directory order with flat memory.  fn returns non-zero to stop.
 */
int spool_each(struct spool *sp, enum state s, int sorted,
	       int (*fn)(struct spool *, const struct jobref *, void *), void *data);

/*
 * Remove final jobs older than their retention (older_ms >= 0
 * overrides), calling removed (when set) for each.
 */
int spool_gc(struct spool *sp, int64_t older_ms,
	     void (*removed)(const struct jobref *ref, void *arg), void *arg);
/* Run gc if gc.interval has passed since the last one; -1 on errors. */
int spool_gc_maybe(struct spool *sp);

/*
 * Check every invariant; repair what can be repaired.  Each problem is
 * passed to report (one line, no newline).  Returns the number found.
 */
int spool_fsck(struct spool *sp, int repair, void (*report)(const char *msg, void *arg), void *arg);

/* Environment entry "Q_SPOOL=..." for children. */
const char *spool_env(struct spool *sp);

#endif
