#ifndef Q_WORKER_H
#define Q_WORKER_H
/*
 * The worker: claim jobs in order, run them, record what happened.
 *
 * A worker takes one of worker.max slot locks (or exits at once),
 * recovers jobs whose worker died, then claims pending jobs in name
 * order (priority, then age) and runs up to opts->jobs at once.  Each
 * job runs under a small supervisor process that leads the job's
 * process group and dies with the worker (PR_SET_PDEATHSIG), taking
 * the group with it; the command itself runs only after its `start`
 * event is on disk.  When nothing is runnable the worker exits, sleeps
 * for a deferred job due within worker.linger, or (--watch) waits on
 * inotify.  Before exiting it frees its slot and looks at pending/ once
 * more, so a job added at that instant is not stranded.
 *
 * Dispatch is by job type (the table in worker.c); typed jobs (git,
 * GitHub, agent prompts) will run helper executables the same way.
 */
#include "spool.h"

struct worker_opts {
	int once;           /* exit when nothing is runnable now */
	int watch;          /* wait for new jobs until worker.idle */
	int jobs;           /* jobs at once */
	int push;           /* foreground: a line per job, no slot */
	const char *only;   /* run just this job id (q add --sync) */
};

struct worker_stats {
	long completed, failed;
};

/* Returns 0, or -1 on an error that stopped the worker. */
int worker_run(struct spool *sp, const struct worker_opts *o, struct worker_stats *stats);

/* Signal a running job's process group: TERM, then KILL after grace. */
int worker_kill_group(int pgid, int64_t grace_ms);

#endif
