#ifndef Q_WORKER_H
#define Q_WORKER_H
/*
 * The worker: claim jobs in order, run them, record what happened.
 *
 * A worker takes one of worker.max slot locks (or exits at once),
 * recovers jobs whose worker died, then claims pending jobs in name
 * order (priority, then age) and runs up to opts->jobs at once.
 *
 * Each attempt runs under a supervisor process that the worker forks.
 * The supervisor holds the job's lock (a second descriptor of the same
 * open file), adopts every process the job starts (it is a child
 * subreaper), enforces the time limit itself (so a stopped worker does
 * not stretch it), and ends only when the command and everything it
 * left behind, in its process group or not, is dead.  The lock is
 * therefore free only when no process of the job is alive: recovery
 * can never start a job whose first run is still running.  The
 * command runs only after its `start` event is on disk.
 *
 * Exec jobs run their argv; helper jobs run $Q_EXEC_PATH/q-TYPE (else
 * the compiled-in libexec directory) with the job's args on standard
 * input (spool-format.md, "Helpers").  Jobs this q cannot run (an
 * unknown type, a missing helper) are left pending, noted once in
 * spool.log.
 *
 * When nothing is runnable the worker exits, sleeps for a deferred job
 * due within worker.linger, or (--watch) waits on inotify.  Before
 * exiting it frees its slot and looks at pending/ once more, so a job
 * added at that instant is not stranded.
 */
#include "spool.h"

/* What one finished attempt came to, for a front end that shows it. */
struct worker_done {
	const struct job *job;
	enum state to;           /* where the job went (ST_DEFERRED: a retry) */
	int exit_code, signal;   /* -1, 0 when none */
	const char *error;       /* as in the exit event, or NULL */
	int64_t elapsed_ms;
};

struct worker_opts {
	int once;           /* exit when nothing is runnable now */
	int watch;          /* wait for new jobs until worker.idle */
	int jobs;           /* jobs at once */
	int push;           /* foreground: no slot, no pause */
	const char *only;   /* run just this job id (q add --sync) */
	int only_retries;   /* and stay for its retries while it is deferred */
	int slot;           /* a worker slot already locked for us (q add's), or -1 */
	int stay;           /* nothing to run: watch for new jobs for worker.stay (slots/idle) */
	const char *key;    /* with stay: what runs jobs here (op_worker_key) */
	/* Start another worker (for jobs a busy stayer cannot run); may be NULL. */
	void (*kick)(struct spool *sp);
	/* Called after each attempt (may be NULL). */
	void (*done)(const struct worker_done *d, void *arg);
	void *arg;
};

struct worker_stats {
	long completed, failed;
};

/* Returns 0, or -1 on an error that stopped the worker. */
int worker_run(struct spool *sp, const struct worker_opts *o, struct worker_stats *stats);

/* The directory helpers run from: $Q_EXEC_PATH, else $(LIBEXECDIR)/q. */
const char *worker_exec_dir(void);

/*
 * What a runner of jobs shares with the worker (q-remote runs jobs the
 * same way).  worker_environ: an attempt's environment, NULL-terminated
 * (the job's env, the secrets named from ours, the Q_* variables;
 * progress, when set, is Q_PROGRESS instead of the spool's file);
 * worker_environ_free releases it.  worker_backoff: the wait before
 * retry n.  From a result left by a tempfail: worker_retry_after, when
 * to try again (its retry_after, else now); worker_no_retry, whether it
 * says "retry": false.
 */
char **worker_environ(struct spool *sp, const struct job *job, int attempt, const char *progress);
void worker_environ_free(char **env);
int64_t worker_backoff(const struct job *job, int n);
int64_t worker_retry_after(const struct buf *res, int64_t now);
int worker_no_retry(const struct buf *res);

#endif
