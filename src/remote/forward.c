/*
 * forward.c: jobs to the remote (forwarded/, then q.enqueue) and their
 * verdicts back (q remote sync).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "remote/remote.h"

#define FINAL_STATES "('completed', 'failed', 'cancelled', 'expired')"
/* The job of origin $1 and id $2 is in the remote, and not only as a run whose verdict came back. */
#define SENT_ALREADY "EXISTS (SELECT 1 FROM q.job WHERE origin = $1 AND id = $2 " \
	"AND NOT (mirrored AND state IN " FINAL_STATES "))"

/* --------------------------------------------------------- forward */

/* The job's cwd relative to the spool's top (the repository), or NULL when outside it. */
static const char *cwd_rel(const struct remote *r, const char *cwd)
{
	size_t n = strlen(r->sp.top);

	if (strncmp(cwd, r->sp.top, n) || (cwd[n] && cwd[n] != '/'))
		return NULL;
	return cwd[n] ? cwd + n + 1 : ".";
}

/* May job be forwarded now?  Commands, with any dependency forwarded already. */
static int forwardable(struct remote *r, const struct job *job, enum state s)
{
	if (!job->type || job->partial || job->type->run != RUN_EXEC)
		return 0;
	for (int i = 0; s == ST_WAITING && i < job->after.n; i++) {
		struct jobref dep;

		if (spool_locate(&r->sp, job->after.v[i], &dep) || dep.state != ST_FORWARDED)
			return 0;
	}
	return 1;
}

/*
 * The dependencies the remote must know: those it has (forwarded/), and
 * those that did not complete (a verdict that came back, which the
 * remote has too).  One that completed here needs nothing: a job ran
 * here (q add --sync, a git job, before the remote) is in no database.
 */
static void remote_deps(struct remote *r, const struct job *job, struct strv *deps)
{
	for (int i = 0; i < job->after.n; i++) {
		struct jobref dep;

		if (!spool_locate(&r->sp, job->after.v[i], &dep) &&
		    (dep.state == ST_FORWARDED || (state_final(dep.state) && dep.state != ST_DONE)))
			strv_push(deps, job->after.v[i]);
	}
}

/* Postgres array literal of ids ({a,b}): ids are base32, nothing to quote. */
static void id_array(struct buf *b, const struct strv *ids)
{
	buf_addc(b, '{');
	for (int i = 0; i < ids->n; i++)
		buf_addf(b, "%s%s", i ? "," : "", ids->v[i]);
	buf_addc(b, '}');
}

/*
 * Send one job (ref, in forwarded/ and locked as fd; text its file) to
 * the remote.  A key the remote finds held by a live job makes this
 * one a duplicate: cancelled here, naming the holder.  The verdict is
 * appended before the move, not after it (as other decisions outside a
 * worker do): killed in between, the job stays in forwarded/ with its
 * verdict, and the next resend (spool_reconcile) finishes the move,
 * where the other order would leave a cancelled job with no word of
 * why.  0 or -1.
 */
static int send_one(struct remote *r, struct jobref *ref, int fd, const struct buf *text,
		    const struct job *job)
{
	char prio[8], att[16], intr[16], dl[TIME_LEN];
	struct buf after = BUF_INIT;
	struct strv deps = { NULL, 0 };
	struct pgrows rows;
	const char *outcome, *p[10];
	int ret = -1;

	snprintf(prio, sizeof(prio), "%d", job->priority);
	snprintf(att, sizeof(att), "%d", job->max_attempts);
	snprintf(intr, sizeof(intr), "%d", job->max_interrupts);
	if (job->deadline >= 0)
		time_format(job->deadline, dl);
	remote_deps(r, job, &deps);
	id_array(&after, &deps);
	p[0] = r->origin;
	p[1] = job->id;
	p[2] = text->s;
	p[3] = prio;
	p[4] = job->key;
	p[5] = job->deadline >= 0 ? dl : NULL;
	p[6] = att;
	p[7] = intr;
	p[8] = after.s;
	p[9] = cwd_rel(r, job->cwd);
	if (pg_exec(r->pg, "cannot forward a job",
		    "SELECT * FROM q.enqueue($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, p, &rows))
		goto out;
	outcome = pgrows_get(&rows, 0, 0);
	ret = 0;
	if (outcome && !strcmp(outcome, "duplicate")) {
		struct buf line = BUF_INIT;
		struct jw w;

		event_begin(&w, &line, "cancelled");
		jw_key(&w, "error");
		jw_str(&w, "duplicate");
		jw_key(&w, "duplicate_of");
		jw_str(&w, pgrows_get(&rows, 0, 1));
		event_end(&w);
		ret = spool_event(&r->sp, ref->id, &line, 1) ||
		      spool_move(&r->sp, ref, ST_CANCELLED, fd, 0) ? -1 : 0;
		buf_release(&line);
		if (!ret)
			spool_note(&r->sp, "job %s: key '%s' is held by job %s on the remote: "
				   "cancelled as its duplicate", ref->id, job->key,
				   pgrows_get(&rows, 0, 1));
	}
	pgrows_release(&rows);
out:
	buf_release(&after);
	strv_clear(&deps);
	return ret;
}

/* Read and parse the locked job file fd: 0, or -1 (said). */
static int read_job(int fd, const struct jobref *ref, struct buf *text, struct job *job)
{
	char why[200];

	if (lseek(fd, 0, SEEK_SET) || f_read_all(fd, JOB_MAX_SIZE, text))
		return error_errno("cannot read job '%s'", ref->id);
	if (job_parse(job, text->s ? text->s : "", text->len, why, sizeof(why)))
		return error("job '%s': %s", ref->id, why);
	return 0;
}

struct fwd {
	struct remote *r;
	enum state s;
	int errors;
	struct strv ids;        /* forwarded/: ids to look for in the remote */
};

/*
 * Forward one job: move it to forwarded/ (durable, with its event),
 * then send it.  Moved first, so nothing here (q cancel, a local
 * worker) can act on it as local once the remote may have it; a crash
 * before the send leaves it in forwarded/ unsent, and the next pass
 * sends it (resend_all).
 */
static int forward_fn(struct spool *sp, const struct jobref *ref0, void *arg)
{
	struct fwd *f = arg;
	struct jobref ref = *ref0;
	struct buf text = BUF_INIT;
	struct job job;
	int fd = spool_lock(sp, &ref), settled;

	if (fd == -2)
		return 0; /* someone else has it now */
	if (fd < 0) {
		f->errors++;
		return 0;
	}
	job_init(&job);
	if (read_job(fd, &ref, &text, &job)) {
		f->errors++;
	} else if (!forwardable(f->r, &job, f->s)) {
		/* Left to local workers, whose claim looks at its log. */
	} else if ((settled = spool_reconcile(sp, &ref, fd))) {
		/* Its log has a verdict (a retry killed before its event): as a claim would. */
		f->errors += settled < 0;
	} else if (spool_transition(sp, &ref, fd, ST_FORWARDED, 0, "forwarded", NULL) ||
		   send_one(f->r, &ref, fd, &text, &job)) {
		f->errors++;
	} else {
		f->r->forwarded++;
	}
	job_release(&job);
	buf_release(&text);
	close(fd);
	/* A lost connection ends the pass: the rest waits for the next one. */
	return !pg_alive(f->r->pg);
}

static int collect_fn(struct spool *sp, const struct jobref *ref, void *arg)
{
	strv_push(&((struct fwd *)arg)->ids, ref->id);
	return 0;
}

/*
 * Send what is in forwarded/ but not in the remote (a crash cut a forward
 * short), or there only with a verdict brought back already: a retried
 * job's earlier run, which q.enqueue starts over.
 */
int remote_resend(struct remote *r)
{
	struct fwd f = { r, ST_FORWARDED, 0, { NULL, 0 } };

	if (spool_each(&r->sp, ST_FORWARDED, 0, collect_fn, &f))
		return -1;
	for (int i = 0; i < f.ids.n && !f.errors; i += 500) {
		struct strv part = { f.ids.v + i, f.ids.n - i < 500 ? f.ids.n - i : 500 };
		struct buf arr = BUF_INIT;
		const char *p[2] = { r->origin, NULL };
		struct pgrows rows;

		id_array(&arr, &part);
		p[1] = arr.s;
		if (pg_exec(r->pg, "cannot look for forwarded jobs",
			    "SELECT x FROM unnest($2::text[]) x WHERE NOT EXISTS "
			    "(SELECT 1 FROM q.job WHERE origin = $1 AND id = x AND NOT (mirrored "
			    "AND state IN " FINAL_STATES "))", 2, p, &rows)) {
			buf_release(&arr);
			f.errors++;
			break;
		}
		for (int k = 0; k < rows.nrows; k++) {
			struct jobref ref;
			struct buf text = BUF_INIT;
			struct pgrows again;
			struct job job;
			const char *q[2] = { r->origin, NULL };
			int fd, settled, sent;

			if (spool_locate(&r->sp, pgrows_get(&rows, k, 0), &ref) ||
			    ref.state != ST_FORWARDED)
				continue;
			fd = spool_lock(&r->sp, &ref);
			if (fd < 0) {
				f.errors += fd == -1;
				continue; /* its forwarder is sending it */
			}
			/* Sent meanwhile by another process, which held the lock? */
			q[1] = ref.id;
			if (pg_exec(r->pg, "cannot look for a forwarded job", "SELECT " SENT_ALREADY,
				    2, q, &again)) {
				f.errors++;
				close(fd);
				continue;
			}
			sent = !strcmp(pgrows_get(&again, 0, 0), "t");
			pgrows_release(&again);
			if (sent) {
				close(fd);
				continue;
			}
			job_init(&job);
			/* A duplicate's verdict may be in its log already (send_one). */
			settled = spool_reconcile(&r->sp, &ref, fd);
			if (settled > 0)
				spool_note(&r->sp, "job %s: its verdict was in its log: moved to %s/",
					   ref.id, states[ref.state].dir);
			if (settled < 0 || (!settled && (read_job(fd, &ref, &text, &job) ||
							 send_one(r, &ref, fd, &text, &job))))
				f.errors++;
			job_release(&job);
			buf_release(&text);
			close(fd);
		}
		pgrows_release(&rows);
		buf_release(&arr);
	}
	strv_clear(&f.ids);
	return f.errors ? -1 : 0;
}

/* Forward what is runnable (pending/) and what waits on forwarded jobs (waiting/). */
int remote_forward(struct remote *r)
{
	struct fwd f = { r, ST_PENDING, 0, { NULL, 0 } };

	if (r->resend) {
		if (remote_resend(r))
			return -1;
		r->resend = 0;
	}
	/* A paused spool sends nothing (what it sent already stays the remote's). */
	if (spool_paused(&r->sp))
		return 0;
	/* Due scheduled jobs and met dependencies become pending here first. */
	if (spool_promote(&r->sp, &r->local_due, NULL) < 0)
		f.errors++;
	if (spool_each(&r->sp, ST_PENDING, 1, forward_fn, &f))
		f.errors++;
	f.s = ST_WAITING;
	if (pg_alive(r->pg) && spool_each(&r->sp, ST_WAITING, 1, forward_fn, &f))
		f.errors++;
	if (f.errors)
		r->resend = 1;
	return f.errors || !pg_alive(r->pg) ? -1 : 0;
}

/* ---------------------------------------------------------- mirror */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* bytea's text form (\x...) into out. */
void remote_unhex(struct buf *out, const char *s)
{
	if (!s || s[0] != '\\' || s[1] != 'x')
		return;
	for (s += 2; s[0] && s[1]; s += 2) {
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0)
			return;
		buf_addc(out, (char)(hi << 4 | lo));
	}
}

enum state remote_state(const char *s)
{
	int st = s ? state_parse(s) : -1;

	return st < 0 ? ST_PENDING : (enum state)st;
}

/* The events, output and result of job n: what a reader of the spool would find. */
int remote_fetch(struct remote *r, const char *n, struct buf *events, struct buf *out)
{
	const char *p[1] = { n };
	struct pgrows rows;

	if (pg_exec(r->pg, "cannot read a job's events",
		    "SELECT line FROM q.event WHERE n = $1 ORDER BY seq", 1, p, &rows))
		return -1;
	for (int i = 0; i < rows.nrows; i++) {
		buf_adds(events, pgrows_get(&rows, i, 0));
		buf_addc(events, '\n');
	}
	pgrows_release(&rows);
	if (out) {
		if (pg_exec(r->pg, "cannot read a job's output",
			    "SELECT data FROM q.output WHERE n = $1 ORDER BY attempt, off", 1, p, &rows))
			return -1;
		for (int i = 0; i < rows.nrows; i++)
			remote_unhex(out, pgrows_get(&rows, i, 0));
		pgrows_release(&rows);
	}
	return 0;
}

/*
 * Mark row n brought back, if it is still the run that was (version: its
 * updated_at as text): a retry forwarded anew since then starts a new run,
 * whose verdict must come back in its turn.  0 or -1.
 */
static int mark_mirrored(struct remote *r, const char *n, const char *version)
{
	const char *p[2] = { n, version };
	struct pgrows rows;

	if (pg_exec(r->pg, "cannot record a mirrored verdict",
		    "UPDATE q.job SET mirrored = true WHERE n = $1 AND NOT mirrored "
		    "AND updated_at::text = $2 AND state IN " FINAL_STATES " RETURNING n",
		    2, p, &rows))
		return -1;
	r->mirrored += rows.nrows;
	pgrows_release(&rows);
	return 0;
}

/*
 * Bring back the verdicts of rows (n, id, updated_at as text): how many
 * failed.  A job still in forwarded/ is locked, then its row read again:
 * since the list was read, another process may have brought the verdict
 * back, and a retry may have forwarded the job anew.
 */
static int mirror_rows(struct remote *r, const struct pgrows *rows)
{
	int errors = 0;

	for (int i = 0; i < rows->nrows; i++) {
		const char *n = pgrows_get(rows, i, 0), *id = pgrows_get(rows, i, 1);
		const char *p[1] = { n };
		struct buf ev = BUF_INIT, out = BUF_INIT, result = BUF_INIT;
		struct pgrows now;
		struct jobref ref;
		int fd, found = spool_locate(&r->sp, id, &ref);

		if (found == SP_ERR) {
			errors++;
			continue;
		}
		if (found != SP_OK || ref.state != ST_FORWARDED) {
			/* Mirrored before a crash, removed by gc, or never here: nothing to bring. */
			errors += mark_mirrored(r, n, pgrows_get(rows, i, 2)) != 0;
			continue;
		}
		fd = spool_lock(&r->sp, &ref);
		if (fd < 0) {
			errors += fd == -1;
			continue; /* moving: the next pass */
		}
		if (pg_exec(r->pg, "cannot read a verdict",
			    "SELECT state, result, updated_at::text FROM q.job WHERE n = $1 "
			    "AND NOT mirrored AND state IN " FINAL_STATES, 1, p, &now)) {
			errors++;
		} else {
			if (now.nrows) {
				const char *res = pgrows_get(&now, 0, 1);

				if (res)
					buf_adds(&result, res);
				if (remote_fetch(r, n, &ev, &out) ||
				    spool_mirror(&r->sp, &ref, fd, remote_state(pgrows_get(&now, 0, 0)),
						 &ev, &out, &result) ||
				    mark_mirrored(r, n, pgrows_get(&now, 0, 2)))
					errors++;
			}
			pgrows_release(&now);
		}
		/* Held until marked: a q retry of the job waits for it. */
		close(fd);
		buf_release(&ev);
		buf_release(&out);
		buf_release(&result);
	}
	return errors;
}

/* Bring back the verdicts of this origin's final jobs; how many, -1 on error. */
int remote_mirror(struct remote *r)
{
	char last[ID_LEN + 1] = "";
	int errors = 0, more = 1;

	/* 500 at a time, in id order, until none is left. */
	while (more) {
		const char *p[2] = { r->origin, last };
		struct pgrows rows;

		if (pg_exec(r->pg, "cannot read verdicts",
			    "SELECT n, id, updated_at::text FROM q.job WHERE origin = $1 "
			    "AND NOT mirrored AND state IN " FINAL_STATES " AND id > $2 "
			    "ORDER BY id LIMIT 500", 2, p, &rows))
			return -1;
		more = rows.nrows == 500;
		if (rows.nrows)
			snprintf(last, sizeof(last), "%s", pgrows_get(&rows, rows.nrows - 1, 1));
		errors += mirror_rows(r, &rows);
		pgrows_release(&rows);
	}
	return errors ? -1 : 0;
}


int remote_sync(struct remote *r, int verdicts_only)
{
	int ret = EXIT_OK;

	if (remote_ready(r))
		return EXIT_RUNTIME;
	if ((!verdicts_only && remote_forward(r)) || remote_mirror(r))
		ret = EXIT_RUNTIME;
	printf("remote: %ld forwarded, %ld verdict%s brought back\n", r->forwarded, r->mirrored,
	       r->mirrored == 1 ? "" : "s");
	return ret;
}
