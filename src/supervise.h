#ifndef Q_SUPERVISE_H
#define Q_SUPERVISE_H
/*
 * The supervisor: the process that runs one attempt of a job, forked by
 * the runner that claimed it (the worker, worker.h).
 *
 * The supervisor holds the job's lock (a descriptor it inherits and
 * keeps open), adopts every process the job starts (it is a child
 * subreaper), enforces the time limit itself (so a stopped runner does
 * not stretch it), and ends only when the command and everything it
 * left behind, in its process group or not, is dead.  The lock is
 * therefore free only when no process of the job is alive.  The command
 * runs only after the runner's go, which the runner sends once the
 * job's `start` event is on disk.
 *
 * The calling sequence, in the runner:
 *
 *  - ignore SIGPIPE (a supervisor that died must not take the runner
 *    with it on a write);
 *  - fill a struct sup and call sup_start() with the descriptors that
 *    hold the job's lock;
 *  - make `start` durable, then write one byte to the go descriptor to
 *    run the command, or close it to end the supervisor with nothing run;
 *  - read struct sup_msg from the rep descriptor (SUP_STARTED, then
 *    SUP_DONE) and reap the supervisor.
 *
 * A supervisor that ends without a SUP_DONE ran nothing (exit status
 * 125) or was killed; one that was killed before it cleaned up leaves
 * what the job started to the runner, which should therefore be a child
 * subreaper too and kill those orphans before it takes the job as over.
 */
#include <stdint.h>
#include <sys/types.h>

/* The most children one scan of /proc collects (proc_children()). */
#define MAX_KIDS 4096

/* What a supervisor tells its worker: each message is one write(2) to a pipe. */
struct sup_msg {
	int kind;               /* SUP_STARTED, SUP_DONE */
	pid_t cmd;              /* SUP_STARTED: the command, leader of its own process group */
	int status;             /* SUP_DONE: the command's wait status */
	int spawn_errno;        /* SUP_DONE: why it could not start, or 0 */
	int timed_out;          /* SUP_DONE: stopped by the time limit */
};
enum { SUP_STARTED = 1, SUP_DONE };

/*
 * One attempt to supervise.  The command runs with path and argv (and
 * env as its whole environment) in cwd, its standard output and error
 * on logfd.  After timeout_ms (0: none) the job is sent SIGTERM, and
 * SIGKILL grace_ms later.  sup_start sets go and rep (the supervisor's
 * ends of its two pipes) and worker (the runner's pid, checked).
 */
struct sup {
	const char *path;       /* what to execute (argv[0] when exec searches PATH) */
	char **argv, **env;
	const char *cwd;
	int search;             /* exec jobs search PATH as a shell would */
	int logfd, go, rep, in; /* in: standard input, or -1 for /dev/null */
	int64_t timeout_ms, grace_ms;
	pid_t worker;
};

/*
 * Start the supervisor of s: two pipes, a fork; the child keeps logfd,
 * in, its pipe ends and the n descriptors of keep (what holds the job's
 * lock), and nothing else.  It waits for the go (sent once `start` is
 * durable), runs the command, enforces the time limit, stops the job on
 * SIGTERM (q cancel), and before it ends, kills and reaps everything
 * the job started: the lock is held until then.  If the runner dies
 * (SIGHUP, by PR_SET_PDEATHSIG) it does the same at once.
 *
 * Returns the supervisor's pid, with *go (write a byte to run the
 * command, close it to run nothing) and *rep (its messages); s->in is
 * closed.  -1 after a message, with nothing left open but s->in.
 */
#define SUP_KEEP_MAX 4

/*
 * How an attempt ended, from its supervisor's last report (done; kind 0
 * when none came) and wait status: *code its exit status (-1: none),
 * *sig the signal that ended it (0: none).  Returns the error of its
 * exit event: NULL (exit 0), spawn_failed, timeout, signal, tempfail,
 * nonzero_exit, or unrun when the command never ran (no go, or a
 * supervisor that could not start).
 */
const char *sup_outcome(const struct sup_msg *done, int status, const char *unrun, int *code,
			int *sig);
pid_t sup_start(struct sup *s, const int *keep, int n, int *go, int *rep);

#endif
