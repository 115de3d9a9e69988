#ifndef Q_REMOTE_H
#define Q_REMOTE_H
/*
 * q-remote: the helper that shares a queue across hosts through
 * PostgreSQL (remote-format.md).  Only src/remote/pg.c includes
 * libpq-fe.h; bin/q never links libpq and runs this helper for
 * `q remote ...` and, when remote.url is set, after `q worker`.
 *
 *   main.c     the commands' dispatch
 *   setup.c    origin, connection, schema and migrations (init)
 *   forward.c  jobs to the remote, verdicts back (sync)
 *   run.c      the worker: claim, supervise, finish
 *   query.c    cancel, show, log, status, fsck
 *   schema.c   the migrations
 *   pg.c       libpq
 */
#include <stdint.h>
#include <sys/types.h>

#include "remote/pg.h"
#include "spool.h"
#include "supervise.h"

#define MAX_RUN 256
#define CHUNK (64 << 10)
#define ORIGIN_LEN 32

struct rjob {
	int64_t n;
	int attempt, tries;
	char origin[ORIGIN_LEN + 1];
	struct job job;
	pid_t sup;
	int rep, logfd;
	int64_t uploaded;       /* output bytes sent so far */
	int capped;             /* past remote.output_max: the rest is dropped */
	int cancelling;
	struct sup_msg done;
	int got_done, sup_status;
	const char *refused;    /* not run: invalid (fails), or for another q (back later) */
};

struct remote {
	struct spool sp;
	struct pg *pg;          /* the session: queries, and the locks of the jobs we run */
	struct pg *lpg;         /* LISTEN only (a stopped worker must not lose pg to it) */
	char origin[ORIGIN_LEN + 1];
	char me[160];           /* this worker: host/pid/backend pid */
	struct rjob run[MAX_RUN];
	int nrun, jobs, lost;
	int resend;             /* forwarded/ may hold unsent jobs: look (at start, after errors) */
	int64_t local_due;      /* when the spool's next scheduled job is due (wall ms), or -1 */
	int64_t gc_at;          /* when this process last asked for the remote's gc (mono ms) */
	long forwarded, mirrored;   /* by this process (q remote sync says so) */
};

/* The schema's migrations, in order, NULL-terminated (schema.c). */
extern const char *const remote_migrations[];

/* A usage error: one line, EXIT_USAGE (fmt takes arg). */
int remote_usage(const char *fmt, const char *arg);

/* setup.c.  Each returns 0, or an exit status / -1 after a message. */
int remote_open(struct remote *r);          /* the spool, its settings and origin */
int remote_connect(struct remote *r);
int remote_schema_version(struct pg *pg);   /* -1 none, -2 error */
int remote_nmigrations(void);
int remote_ready(struct remote *r);         /* connected, and the schema is this q's */
int remote_init(struct remote *r);          /* q remote init */

/* forward.c: -1 on errors (said). */
int remote_resend(struct remote *r);        /* forwarded/ jobs the remote lacks */
int remote_forward(struct remote *r);       /* promote, then forward pending/ and waiting/ */
int remote_mirror(struct remote *r);        /* bring this origin's verdicts back */
/* Job n's event lines and (when out is set) output, as the database has them. */
int remote_fetch(struct remote *r, const char *n, struct buf *events, struct buf *out);
void remote_unhex(struct buf *out, const char *s);  /* bytea's text form */
enum state remote_state(const char *s);     /* a q.state name as a spool state */
int remote_sync(struct remote *r, int verdicts_only);   /* q remote sync [--verdicts] */

/* run.c: q remote worker. */
struct wopts {
	int once, watch, jobs;
};
int remote_worker(struct remote *r, const struct wopts *o);

/* query.c */
int remote_cancel(struct remote *r, int argc, char **argv);
int remote_hold(struct remote *r, int argc, char **argv);
int remote_release(struct remote *r, int argc, char **argv);
int remote_show(struct remote *r, int argc, char **argv);
int remote_log(struct remote *r, int argc, char **argv);
int remote_status(struct remote *r, int json);
int remote_fsck(struct remote *r);

#endif
