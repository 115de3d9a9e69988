#ifndef Q_SPOOL_INTERNAL_H
#define Q_SPOOL_INTERNAL_H
/*
 * What the files of src/spool/ share and nothing else sees: the
 * spool's directory descriptors, one loop over a directory, reading a
 * job file, and the transitions that recovery and fsck reuse.
 *
 *   setup.c    finding, checking and creating the spool; settings
 *   dir.c      directory descriptors, buckets, dir_each
 *   log.c      event logs, output logs, progress and results
 *   lookup.c   finding a job by id or prefix
 *   move.c     lock, move, transition, quarantine
 *   add.c      enqueue and keys
 *   claim.c    scanning pending/ and claiming
 *   lease.c    prompts leased to agent sessions, renewed, given back, reaped
 *   session.c  agent sessions' directories
 *   promote.c  deferred and waiting jobs becoming runnable
 *   recover.c  jobs of dead workers; verdicts their place disagrees with
 *   gc.c       retention, keys, staging files, slots, pause
 *   fsck.c     the invariants of spool-format.md
 */
#include <sys/stat.h>

#include "file.h"
#include "spool.h"

/* ------------------------------------------------------- directories */

/* Is fd a directory of ours that nobody else can write?  0, or -1 after a message. */
int spool_check_dir(int fd, const char *what);
/*
 * Is fd a directory of ours that nobody else can enter (mode & 077 is
 * 0, as q creates them)?  A git checkout (0755) is not.  0, or -1 after
 * a message.
 */
int dir_trusted(int fd, const char *what);

/* The descriptor of state s's directory (opened on first use), or -1. */
int state_fd(struct spool *sp, enum state s);
/* The same for tmp/, logs/, keys/, quarantine/, slots/. */
int named_fd(struct spool *sp, int *cache, const char *name);
#define TMP_FD(sp) named_fd(sp, &(sp)->tmpfd, "tmp")
#define LOGS_FD(sp) named_fd(sp, &(sp)->logsfd, "logs")
#define KEYS_FD(sp) named_fd(sp, &(sp)->keysfd, "keys")
#define QUAR_FD(sp) named_fd(sp, &(sp)->quarfd, "quarantine")
#define SLOTS_FD(sp) named_fd(sp, &(sp)->slotsfd, "slots")
#define LOCKS_FD(sp) named_fd(sp, &(sp)->locksfd, "locks")
#define NOTIFY_FD(sp) named_fd(sp, &(sp)->notifyfd, "notify")
#define SESSIONS_FD(sp) named_fd(sp, &(sp)->sessionsfd, "sessions")

/*
 * The directory holding ref's file and the name in it.  For final
 * states that is the bucket (opened, created when create is set; the
 * caller closes *owned).  -1 on error (errno ENOENT: no such bucket).
 */
int ref_dir(struct spool *sp, const struct jobref *ref, int create, int *owned, char *name,
	    size_t n);
/* The logs/B directory of id (created when create is set), or -1. */
int logs_bucket(struct spool *sp, const char *id, int create);
/*
 * Replace logs/B/ID.EXT (d: logs/B) with text: a new file, synced,
 * renamed over it (the directory is the caller's to sync).  0, or -1
 * after a message.
 */
int log_replace(int d, const char *id, const char *ext, const struct buf *text);

/* Parse a pending/deferred name "P-ID" into ref->prio and ref->id. */
int parse_prio_name(const char *name, struct jobref *ref);
/* Parse a name of state s's directory into ref; -1 if not a job's name. */
int parse_name(enum state s, const char *name, struct jobref *ref);

/* Lock the open fd as spool_lock_file does: 0 locked, -2 busy (said, unless wait_ms is 0). */
int lock_wait(int fd, const char *what, int64_t wait_ms);
/* How long adds wait for keys/.lock or add.lock before giving up. */
#define ADD_LOCK_WAIT_MS 5000

/* Order jobrefs by id (for qsort). */
int jobref_cmp(const void *a, const void *b);

/*
 * Call fn(name, arg) for each entry of directory d (what names it in
 * messages) except those starting with '.'.  Sorted by name (the names
 * are then held in memory) or in directory order with flat memory.
 * Returns -1 if the directory cannot be read, else the first non-zero
 * value fn returned (which stops the walk), else 0.
 */
int dir_each(int d, const char *what, int sorted, int (*fn)(const char *name, void *arg),
	     void *arg);

/* spool_each for the jobs whose id starts with prefix (buckets skipped by name). */
int spool_each_prefix(struct spool *sp, enum state s, int sorted, const char *prefix,
		      int (*fn)(struct spool *, const struct jobref *, void *), void *data);

/* -------------------------------------------------------------- jobs */

/*
 * Is the job file described by st one a worker may run?  Only a regular
 * file of ours that nobody else can read or write: a file planted by
 * another user or checked out from a repository (0644) is not.  NULL
 * if fine, else why (in buf).
 */
const char *job_file_untrusted(const struct stat *st, char *buf, size_t n);
/*
 * Open a job file for reading without touching its atime, which holds
 * the time a deferral was decided (promote.c).
 */
int open_job_file(int d, const char *name);
/*
 * Read and parse the job file open at fd: 0, JOB_FOREIGN (job.h), or
 * -1 with why.  It need not be trusted: only claim decides to run it.
 */
int read_job(int fd, struct job *job, char *why, size_t whylen);
#define event_simple spool_event_simple

/*
 * Key K's file name: bytes outside [A-Za-z0-9_.-] and a leading '.' as
 * %XX; past KEY_NAME_MAX bytes, cut and ended with ~ and a 64-bit hash
 * of the whole key.  (Queue names use the same.)
 */
#define KEY_NAME_MAX 200
void key_name(const char *key, char *out, size_t n);
/* Is the job named in key file keyfd still live?  1 yes, 0 no, -1 error. */
int key_live(struct spool *sp, int keyfd, char dup[ID_LEN + 1]);

/* Note (set) or drop the job.on_finish call a job owes (notify/ID). */
int notify_mark(struct spool *sp, const char *id, int set);

/* A locked job whose log has a verdict its place disagrees with: move it. */
int reconcile(struct spool *sp, struct jobref *ref, int fd, const struct jobstate *st);
/* A job in running/ whose worker died (we hold its lock): requeue or fail it. */
int recover_one(struct spool *sp, struct jobref *ref, int fd);
/* Expire a locked job (one whose log has a verdict goes where it says). */
int expire(struct spool *sp, struct jobref *ref, int fd);

#endif
