#ifndef Q_OPS_H
#define Q_OPS_H
/*
 * Operations: what the front ends (the commands, the agent hooks, the
 * MCP server) do to jobs, over the spool API.  The rules that are not
 * the spool's own live here once: the defaults q add fills in from the
 * settings, the environment a job keeps, the cancel protocol, where
 * retry, hold and release send a job, waiting for a verdict, reading a
 * job's files from an offset, and starting a detached worker.
 *
 * Like the spool, operations print their errors (error(), to stderr or
 * error_hook) and return a status; they never write to stdout.
 */
#include "spool.h"

enum {
	OP_OK = 0,
	OP_ERR = -1,      /* an I/O error or a bad spool (said) */
	OP_NOJOB = -2,    /* no such job (said) */
	OP_REFUSED = -3,  /* the job's state does not allow it (said) */
	OP_FULL = -4,     /* queue.max_pending reached (said) */
};

/*
 * The environment a job keeps: ours, less the variables q sets for each
 * attempt and those whose names look like secrets (TOKEN, SECRET,
 * PASSWORD, PASSWD, KEY, CREDENTIAL, AUTH, case-insensitive, or named
 * in job->secret_env); the names left out go to job->env_dropped.
 * Names in keep are kept whatever they look like.
 */
void op_capture_env(struct job *job, const struct strv *keep);
/* Does a variable called name (len bytes) look like a secret? */
int op_secret_name(const char *name, size_t len);

/*
 * Queue job (argv or args, cwd, env set; fields left negative take
 * the settings' defaults).  hold parks it.  Returns OP_OK with job->id
 * set and *initial the state it went to; 1 when a live job has its key
 * (that job's id in dup); OP_FULL; OP_ERR.
 */
int op_add(struct spool *sp, struct job *job, int hold, enum state *initial,
	   char dup[ID_LEN + 1]);
/* What op_add does before it enqueues: the defaults, and the first state. */
void op_prepare(struct spool *sp, struct job *job, int hold, enum state *initial);

/*
 * Cancel a job: a pending one at once; a running one by recording the
 * cancel and stopping its supervisor (only if the job's lock proves its
 * worker alive, and only the very process its start event names).
 * OP_REFUSED when the job is final already.
 */
int op_cancel(struct spool *sp, struct jobref *ref);
/* A failed, cancelled or expired job back to pending (attempts reset). */
int op_retry(struct spool *sp, struct jobref *ref);
/* Park a pending job (a held job stays held). */
int op_hold(struct spool *sp, struct jobref *ref);
/*
 * Unpark: to waiting/ if it has after, deferred/ if run_at is ahead,
 * else pending/ (offered/ for a prompt).  A leased prompt goes back to
 * offered/: its session gives it back.
 */
int op_release(struct spool *sp, struct jobref *ref);

/*
 * Prompts (jobs that agent sessions lease, spool.h).  op_session is the
 * agent session this process acts for ($Q_SESSION), or NULL for a
 * shell.  A session acts only on prompts it holds (or that nobody
 * holds); a shell on any.  op_prompt_finish records a prompt's outcome
 * (q done: completed, q fail: failed with error agent_failed), with
 * note (may be NULL) as its result, a JSON string.
 */
const char *op_session(void);
int op_prompt_finish(struct spool *sp, struct jobref *ref, int completed, const char *note);

/*
 * Wait until the job is final or timeout_ms passes (-1 forever); stop
 * early when stop (may be NULL) returns non-zero.  0 final (ref
 * updated), 1 timed out or stopped, -1 the job vanished.
 */
int op_wait(struct spool *sp, struct jobref *ref, int64_t timeout_ms, int (*stop)(void *),
	    void *arg);

/*
 * Read the job's file logs/B/ID.EXT (out, events) from *off, appending
 * at most max bytes to out and advancing *off.  A negative *off counts
 * from the end of the file (-4096: its last 4 KiB, or all of a shorter
 * one).  0 (nothing new or no file yet is fine), -1 on error.
 */
int op_read(struct spool *sp, const char *id, const char *ext, off_t *off, struct buf *out,
	    size_t max);

/*
 * Start a detached worker (double fork, new session, no fds of ours)
 * unless one would find the job anyway (every slot taken, or a worker
 * staying for new jobs with our key); op_spawn_worker_anyway: whether a
 * worker stays or not (for a job a stayer may pass over: one with a
 * queue); op_kick: that, only in async mode and while the spool is not
 * paused (jobs a queue or a pause held back).
 * op_worker_key: 16 hex digits naming what decides which jobs a worker
 * can run (its binary, its helpers' directory, a remote).
 */
void op_kick(struct spool *sp);
void op_spawn_worker(struct spool *sp);
void op_spawn_worker_anyway(struct spool *sp);
void op_worker_key(struct spool *sp, char key[17]);
/* Start a detached q notify, to make the job.on_finish calls jobs owe. */
void op_spawn_notifier(struct spool *sp);
/*
 * Run the helper q-remote with argv (argc words: its command, then its
 * arguments) in place of this process, telling it this q's path
 * ($Q_BIN).  Returns only when it cannot (EXIT_RUNTIME, said).
 */
int op_remote_exec(int argc, char **argv);
/*
 * With a remote and jobs in forwarded/: bring back the verdicts the
 * database has for them (q remote sync --verdicts; at most 3 s, quiet:
 * an unreachable remote leaves the spool as it is).  For readers that
 * show forwarded jobs (q list, q status, q result).
 */
void op_remote_refresh(struct spool *sp);
/*
 * The q those start: this executable when NULL; a helper that is not q
 * (q-remote) sets it to bin/q's path, which bin/q passes in $Q_BIN.
 */
extern const char *op_q_path;

#endif
