#ifndef Q_CMD_H
#define Q_CMD_H
/*
 * Commands: one file each, the only code (with q.c) that prints
 * results or exits.  Each returns an exit status (util.h).
 */
#include "spool.h"
#include "util.h"
#include "view.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;   /* identical to q.1's SYNOPSIS line */
	const char *help;    /* one line for `q --help` */
	const char *options; /* one line per option, for q help COMMAND and completion */
};

extern const struct cmd commands[];
/* q's version (q.c). */
extern const char q_version[];

/*
 * Options: a table of {long name, short letter, has argument, id}.
 * opt_next returns the id of the next option (its argument in *arg), 0
 * at the first operand or after "--" (*i then indexes it), or -1 after
 * printing a usage error.
 */
struct opt {
	const char *name;
	char letter;
	int has_arg;
	int id;
};
int opt_next(int argc, char **argv, int *i, const struct opt *opts, const char **arg,
	     const char *cmd);
/*
 * Like opt_next for commands whose operands (ids) may stand before,
 * between or after options: returns OPT_OPERAND with *arg set for each.
 */
#define OPT_OPERAND 1000
int opt_mixed(int argc, char **argv, int *i, const struct opt *opts, const char **arg,
	      const char *cmd);
/* Usage error for cmd: one line "q: MSG (see 'q help CMD')"; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the spool for reading (a missing spool reads as empty: *missing). */
int cmd_open(struct spool *sp, int create, int *missing);
/* Resolve an id argument: EXIT_OK, EXIT_USAGE, EXIT_NOJOB or EXIT_RUNTIME. */
int cmd_find(struct spool *sp, const char *arg, struct jobref *ref);
/*
 * Check the id argument, open the spool (a missing one holds no job)
 * and find the job.  On EXIT_OK the spool is open; else it is released
 * and the status says why.
 */
int cmd_open_job(struct spool *sp, const char *arg, struct jobref *ref);
/* The same for a command whose only operand is one id (argv[1]). */
int cmd_one_job(int argc, char **argv, const char *cmd, struct spool *sp, struct jobref *ref);
/* Print a buffer to stdout. */
void out_buf(const struct buf *b);
/*
 * The states a --state word selects, as a bit mask (1 << state): a
 * state (deferred, held, ...), or pending for every not-yet-running
 * state; -1 if unknown.
 */
int state_select(const char *s);
/*
 * Check every id argument ("@" too), open the spool and find each job,
 * into *refs (args->n of them; the caller frees).  On EXIT_OK the
 * spool is open; else it is released and the status says why.
 */
int cmd_open_jobs(struct spool *sp, const struct strv *args, struct jobref **refs);
/* The worse of two exit statuses, for commands on several jobs. */
int exit_worse(int a, int b);
/*
 * After printing a new job's id: EXIT_OK if it reached standard output;
 * else the job is withdrawn (or said to be queued when a worker has it
 * already) and EXIT_RUNTIME.
 */
int cmd_id_printed(struct spool *sp, const struct job *job, enum state initial);
/* The exit status of an operation's result (ops.h). */
int op_status(int r);
/*
 * Copy the jobs' logs/B/ID.EXT to stdout (several: each under a
 * "==> ID <==" line); follow: until every job is final or removed.
 */
int print_logs(struct spool *sp, const struct jobref *refs, int n, const char *ext, int follow);
/* One q result line of a job ("ID STATUS [exit N|signal N] [error E]"). */
void result_line(struct buf *b, const struct view *v);
/* The result of each job (json: one object, or an array of several); the worst status. */
int print_results(struct spool *sp, struct jobref *refs, int n, int json);
/* Exit status of a final or unfinished job (0, 1 or 5). */
int job_exit_status(enum state s);

/* q add's options (add.c), shared with its fuzz target. */
enum add_option {
	A_PRIO = 1, A_ATTEMPTS, A_BACKOFF, A_TIMEOUT, A_RETRY_TIMEOUT, A_AT, A_IN, A_DEADLINE,
	A_AFTER, A_KEY, A_SECRET, A_ENV, A_HOLD, A_SYNC, A_ASYNC, A_MANUAL, A_JSON, A_BATCH, A_LABEL,
	A_QUEUE, A_LAST
};
extern const struct opt add_options[];
/* q add --batch (batch.c): the jobs on standard input, with job's options. */
int add_batch(struct spool *sp, struct job *job, int hold, int json);

/*
 * The job options of q add, shared with the commands that queue typed
 * jobs (q git).  jobopts_set applies one option of add_options as q add
 * does (a usage error names cmd); jobopts_submit queues the job (the
 * caller has set its argv, or its type and args) with the current
 * directory and our environment, prints its id and runs it as the mode
 * says.  Both return an exit status.
 */
struct jobopts {
	struct job job;
	struct strv after, keep;
	int mode, json, hold, batch, when;
	int64_t now;
	/* A job type's defaults, applied with the settings at hand (may be NULL). */
	void (*defaults)(const struct config *cfg, struct job *job);
};
void jobopts_init(struct jobopts *o);
void jobopts_release(struct jobopts *o);
int jobopts_set(struct jobopts *o, int id, const char *arg, const char *cmd);
int jobopts_submit(struct jobopts *o, const char *cmd);

int cmd_add(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_remote(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_progress(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_git(int argc, char **argv);
int cmd_gh(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_mcp(int argc, char **argv);

/*
 * GitHub jobs in q push and q status (sync.c).  Before a push: hosts
 * waiting for a token we now have are unparked, and deferred GitHub
 * jobs run now unless their host is rate limited; returns how many
 * GitHub jobs are to be sent (-1 on an error).  During it: a progress
 * line after every sync.batch_size GitHub jobs sent.  After it: one
 * line per GitHub job not sent (and why); returns how many.  q status:
 * a line for failures, blocks and wanted tokens (with w, JSON members).
 */
struct worker_done;
struct sync_push {
	long total;     /* GitHub jobs to send when the push began */
	long sent, ended;
};
long sync_push_prepare(struct spool *sp);
void sync_push_progress(struct spool *sp, const struct worker_done *d, struct sync_push *p);
long sync_push_unsent(struct spool *sp);
void sync_status_line(struct spool *sp, struct jw *w);
int cmd_hook(int argc, char **argv);
int cmd_prompt(int argc, char **argv);
int cmd_next(int argc, char **argv);
int cmd_done(int argc, char **argv);
int cmd_fail(int argc, char **argv);

#endif
