#ifndef Q_VIEW_H
#define Q_VIEW_H
/*
 * The view of a job that front ends show: `q show --json`, `q list
 * --json`, `q result --json`, and later the MCP server and hooks.  Its
 * fields are an interface, documented in q.1 and README.md.
 */
#include "event.h"
#include "json.h"
#include "spool.h"

struct view {
	struct jobref ref;
	struct job job;
	struct jobstate st;     /* with the last progress report */
	struct buf result;      /* the stored result (JSON), empty if none */
	int64_t due;            /* deferred: when it becomes runnable; else -1 */
};

/* Load job, events, progress and result; SP_OK, SP_NOJOB (vanished) or SP_ERR. */
int view_load(struct spool *sp, const struct jobref *ref, struct view *v);
void view_release(struct view *v);

/*
 * Why the job did not complete: null while it may still, else the
 * verdict's error (timeout, dependency_failed, worker_died, cancelled,
 * expired) or the last attempt's (nonzero_exit, signal, tempfail).
 */
const char *view_error(const struct view *v);
/* The last progress report: {"pct", "message", "at"}, or null. */
void view_progress_json(struct jw *w, const struct jobstate *st);
/* The JSON object of a job. */
void view_json(struct jw *w, const struct view *v);

#endif
