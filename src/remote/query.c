/* query.c: q remote cancel, show, log, status and fsck. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "remote/remote.h"
#include "view.h"

/* ------------------------------------------------- cancel, show, log */

/* The forwarded job an id argument names here: 0 found (ref set), else an exit status. */
static int find_forwarded(struct remote *r, const char *arg, struct jobref *ref)
{
	int f;

	if (!id_prefix_valid(arg))
		return remote_usage("bad job id '%s'", arg);
	f = spool_find(&r->sp, arg, ref);
	if (f == SP_NOJOB)
		return EXIT_NOJOB;
	if (f)
		return EXIT_RUNTIME;
	return EXIT_OK;
}

/*
 * q.cancel, q.hold or q.release (what) of forwarded jobs, with the
 * outcomes that are success; the verdicts reached at once come back.
 */
static int act(struct remote *r, int argc, char **argv, const char *what, const char *ok1,
	       const char *ok2)
{
	char sql[64];
	int ret = EXIT_OK, rr;

	if (argc < 1)
		return remote_usage("%s", "no job id given");
	if (remote_ready(r))
		return EXIT_RUNTIME;
	/* What a crash kept from being sent (a retried job's new run too) is sent first. */
	if (remote_resend(r))
		ret = EXIT_RUNTIME;
	snprintf(sql, sizeof(sql), "SELECT q.%s($1, $2)", what);
	for (int i = 0; i < argc; i++) {
		struct jobref ref;
		struct pgrows rows;
		const char *p[2] = { r->origin, NULL }, *out;

		if ((rr = find_forwarded(r, argv[i], &ref))) {
			ret = ret ? ret : rr;
			continue;
		}
		if (ref.state != ST_FORWARDED) {
			error("job %s is %s here, not forwarded: use q %s", ref.id,
			      state_name(ref.state), what);
			ret = ret ? ret : EXIT_NO;
			continue;
		}
		p[1] = ref.id;
		if (pg_exec(r->pg, "cannot reach the job", sql, 2, p, &rows)) {
			ret = EXIT_RUNTIME;
			continue;
		}
		out = pgrows_get(&rows, 0, 0);
		if (!out && !remote_resend(r)) {
			/* Forwarded but not sent yet (a crash cut it short): sent now. */
			pgrows_release(&rows);
			if (pg_exec(r->pg, "cannot reach the job", sql, 2, p, &rows)) {
				ret = EXIT_RUNTIME;
				continue;
			}
			out = pgrows_get(&rows, 0, 0);
		}
		if (!out) {
			error("job %s is forwarded but the remote has no such job (q remote fsck)", ref.id);
			ret = ret ? ret : EXIT_RUNTIME;
		} else if (strcmp(out, ok1) && (!ok2 || strcmp(out, ok2))) {
			if (!strcmp(what, "hold"))
				error("job %s is %s: only pending jobs can be held", ref.id, out);
			else if (!strcmp(what, "release"))
				error("job %s is not held", ref.id);
			else
				error("job %s is already %s", ref.id, out);
			ret = ret ? ret : EXIT_NO;
		}
		pgrows_release(&rows);
	}
	if (remote_mirror(r))
		ret = ret ? ret : EXIT_RUNTIME;
	return ret;
}

int remote_cancel(struct remote *r, int argc, char **argv)
{
	return act(r, argc, argv, "cancel", "cancelled", "requested");
}

int remote_hold(struct remote *r, int argc, char **argv)
{
	return act(r, argc, argv, "hold", "held", NULL);
}

int remote_release(struct remote *r, int argc, char **argv)
{
	return act(r, argc, argv, "release", "released", NULL);
}

/* The remote's row of a forwarded job: n, state, attempt, worker, error, result, spec. */
static int remote_row(struct remote *r, const char *id, struct pgrows *rows)
{
	const char *p[2] = { r->origin, id };

	if (pg_exec(r->pg, "cannot read the job",
		    "SELECT n, state, attempt, worker, error, result, spec, tries, max_attempts, "
		    "  cancel_requested FROM q.job WHERE origin = $1 AND id = $2", 2, p, rows))
		return -1;
	if (!rows->nrows) {
		pgrows_release(rows);
		return error("job %s is forwarded but the remote has no such job (q remote fsck)", id);
	}
	return 0;
}

int remote_show(struct remote *r, int argc, char **argv)
{
	int json = 0, rr, ret = EXIT_OK;
	const char *arg = NULL;
	struct buf ev = BUF_INIT, out = BUF_INIT;
	struct pgrows rows;
	struct jobref ref;
	struct view v;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] == '-')
			return remote_usage("unknown option '%s'", argv[i]);
		else if (arg)
			return remote_usage("unexpected argument '%s'", argv[i]);
		else
			arg = argv[i];
	}
	if (!arg)
		return remote_usage("%s", "no job id given");
	if ((rr = find_forwarded(r, arg, &ref)))
		return rr;
	if (ref.state != ST_FORWARDED) {
		error("job %s is %s here, not forwarded: use q show", ref.id, state_name(ref.state));
		return EXIT_NO;
	}
	memset(&v, 0, sizeof(v));
	if (view_load(&r->sp, &ref, &v))
		return EXIT_RUNTIME;
	if (remote_ready(r) || remote_row(r, ref.id, &rows)) {
		/* Offline: what this spool knows (state forwarded), after the error. */
		rows = (struct pgrows)PGROWS_INIT;
		if (!json) {
			printf("%-10s %s\n%-10s forwarded (the remote is out of reach)\n", "id",
			       v.job.id, "state");
			goto out;
		}
	} else if (remote_fetch(r, pgrows_get(&rows, 0, 0), &ev, NULL)) {
		ret = EXIT_RUNTIME;
		goto out;
	} else {
		/* The job as the remote knows it: its state, and the events of its attempts. */
		jobstate_fold(&v.st, ev.s ? ev.s : "", ev.len);
		v.ref.state = remote_state(pgrows_get(&rows, 0, 1));
		if (pgrows_get(&rows, 0, 5)) {
			buf_reset(&v.result);
			buf_adds(&v.result, pgrows_get(&rows, 0, 5));
		}
	}
	if (json) {
		struct buf b = BUF_INIT;
		struct jw w;

		jw_init(&w, &b);
		view_json(&w, &v);
		buf_addc(&b, '\n');
		fwrite(b.s, 1, b.len, stdout);
		buf_release(&b);
	} else {
		const struct attempt *a = jobstate_last(&v.st);
		struct buf d = BUF_INIT;

		job_describe(&d, &v.job, 0);
		printf("%-10s %s\n", "id", v.job.id);
		printf("%-10s %s (on the remote), attempt %d of %d%s\n", "state",
		       pgrows_get(&rows, 0, 1), v.st.attempts, v.job.max_attempts,
		       !strcmp(pgrows_get(&rows, 0, 9), "t") ? ", cancel requested" : "");
		printf("%-10s %s\n", "command", d.s);
		if (pgrows_get(&rows, 0, 3))
			printf("%-10s %s\n", "worker", pgrows_get(&rows, 0, 3));
		if (a && a->exited)
			printf("%-10s %d\n", "exit", a->exit_code);
		if (pgrows_get(&rows, 0, 4))
			printf("%-10s %s\n", "error", pgrows_get(&rows, 0, 4));
		buf_release(&d);
	}
out:
	pgrows_release(&rows);
	view_release(&v);
	buf_release(&ev);
	buf_release(&out);
	return ret;
}

int remote_log(struct remote *r, int argc, char **argv)
{
	struct buf out = BUF_INIT;
	struct pgrows rows;
	struct jobref ref;
	int rr;

	if (argc != 1)
		return remote_usage("%s", argc ? "one job id, please" : "no job id given");
	if ((rr = find_forwarded(r, argv[0], &ref)))
		return rr;
	if (ref.state != ST_FORWARDED) {
		error("job %s is %s here, not forwarded: use q log", ref.id, state_name(ref.state));
		return EXIT_NO;
	}
	if (remote_ready(r) || remote_row(r, ref.id, &rows))
		return EXIT_RUNTIME;
	{
		const char *p[1] = { pgrows_get(&rows, 0, 0) };
		struct pgrows o;

		if (pg_exec(r->pg, "cannot read the output",
			    "SELECT data FROM q.output WHERE n = $1 ORDER BY attempt, off", 1, p, &o)) {
			pgrows_release(&rows);
			return EXIT_RUNTIME;
		}
		for (int i = 0; i < o.nrows; i++)
			remote_unhex(&out, pgrows_get(&o, i, 0));
		pgrows_release(&o);
	}
	fwrite(out.s ? out.s : "", 1, out.len, stdout);
	buf_release(&out);
	pgrows_release(&rows);
	return EXIT_OK;
}

/* -------------------------------------------------- status and fsck */

struct outbox {
	long n;
	int64_t oldest;
};

static int outbox_fn(struct spool *sp, const struct jobref *ref, void *arg)
{
	struct outbox *o = arg;
	int64_t t = id_time(ref->id);

	o->n++;
	if (t >= 0 && (o->oldest < 0 || t < o->oldest))
		o->oldest = t;
	return 0;
}

int remote_status(struct remote *r, int json)
{
	struct outbox ob = { 0, -1 };
	long fwd = 0, counts[ST_NSTATES];
	struct pgrows st = PGROWS_INIT, wk = PGROWS_INIT, um = PGROWS_INIT;
	const char *p[1] = { r->origin };
	int up, ret = EXIT_OK, version = -1;
	int64_t now = now_ms();
	struct buf b = BUF_INIT;
	struct jw w;

	if (spool_each(&r->sp, ST_PENDING, 0, outbox_fn, &ob) ||
	    spool_each(&r->sp, ST_WAITING, 0, outbox_fn, &ob) || spool_count(&r->sp, counts))
		return EXIT_RUNTIME;
	fwd = counts[ST_FORWARDED];
	up = !remote_connect(r);
	if (up) {
		version = remote_schema_version(r->pg);
		if (version != remote_nmigrations() ||
		    pg_exec(r->pg, "cannot count jobs",
			    "SELECT origin, state, count(*) FROM q.job GROUP BY 1, 2 ORDER BY 1, 2", 0,
			    NULL, &st) ||
		    pg_exec(r->pg, "cannot count workers",
			    "SELECT worker, count(*) FROM q.job WHERE state = 'running' "
			    "GROUP BY 1 ORDER BY 1", 0, NULL, &wk) ||
		    pg_exec(r->pg, "cannot count verdicts",
			    "SELECT count(*) FROM q.job WHERE origin = $1 AND NOT mirrored "
			    "AND state IN ('completed', 'failed', 'cancelled', 'expired')", 1, p, &um)) {
			if (version != remote_nmigrations() && version > -2)
				error("the remote's schema is %s: run 'q remote init'",
				      version < 0 ? "missing" : "not this q's version");
			up = 0;
		}
	}
	if (!up)
		ret = EXIT_RUNTIME;
	if (json) {
		jw_init(&w, &b);
		jw_obj(&w);
		jw_key(&w, "connected");
		jw_bool(&w, up);
		jw_key(&w, "server_version");
		jw_int_or_null(&w, up ? pg_server_version(r->pg) : 0, !up);
		jw_key(&w, "schema");
		jw_int_or_null(&w, version, version < 0);
		jw_key(&w, "origin");
		jw_str(&w, r->origin);
		jw_key(&w, "to_forward");
		jw_int(&w, ob.n);
		jw_key(&w, "lag_ms");
		jw_int_or_null(&w, ob.oldest >= 0 && now > ob.oldest ? now - ob.oldest : 0,
			       ob.oldest < 0);
		jw_key(&w, "forwarded");
		jw_int(&w, fwd);
		jw_key(&w, "unmirrored");
		jw_int_or_null(&w, up ? strtol(pgrows_get(&um, 0, 0), NULL, 10) : 0, !up);
		jw_key(&w, "origins");
		jw_obj(&w);
		for (int i = 0; i < st.nrows; i++) {
			if (!i || strcmp(pgrows_get(&st, i, 0), pgrows_get(&st, i - 1, 0))) {
				if (i)
					jw_obj_end(&w);
				jw_key(&w, pgrows_get(&st, i, 0));
				jw_obj(&w);
			}
			jw_key(&w, pgrows_get(&st, i, 1));
			jw_int(&w, strtol(pgrows_get(&st, i, 2), NULL, 10));
		}
		if (st.nrows)
			jw_obj_end(&w);
		jw_obj_end(&w);
		jw_key(&w, "workers");
		jw_obj(&w);
		for (int i = 0; i < wk.nrows; i++) {
			jw_key(&w, pgrows_get(&wk, i, 0) ? pgrows_get(&wk, i, 0) : "");
			jw_int(&w, strtol(pgrows_get(&wk, i, 1), NULL, 10));
		}
		jw_obj_end(&w);
		jw_obj_end(&w);
		buf_addc(&b, '\n');
		fwrite(b.s, 1, b.len, stdout);
		buf_release(&b);
	} else {
		char lag[32] = "";

		if (ob.oldest >= 0)
			duration_format(now > ob.oldest ? now - ob.oldest : 0, lag, sizeof(lag));
		printf("this host: origin %s; %ld to forward%s%s%s, %ld forwarded\n", r->origin, ob.n,
		       lag[0] ? " (oldest " : "", lag, lag[0] ? " ago)" : "", fwd);
		if (up) {
			int v = pg_server_version(r->pg);

			printf("remote: PostgreSQL %d.%d, schema version %d, %s verdict%s to bring "
			       "back here\n", v / 10000, v % 10000, version, pgrows_get(&um, 0, 0),
			       strcmp(pgrows_get(&um, 0, 0), "1") ? "s" : "");
			for (int i = 0; i < st.nrows; i++)
				printf("  %s%s %s %s\n", pgrows_get(&st, i, 0),
				       strcmp(pgrows_get(&st, i, 0), r->origin) ? "" : " (here)",
				       pgrows_get(&st, i, 1), pgrows_get(&st, i, 2));
			for (int i = 0; i < wk.nrows; i++)
				printf("  worker %s running %s\n",
				       pgrows_get(&wk, i, 0) ? pgrows_get(&wk, i, 0) : "?",
				       pgrows_get(&wk, i, 1));
		} else {
			printf("remote: unreachable (jobs wait here until it is back)\n");
		}
	}
	pgrows_release(&st);
	pgrows_release(&wk);
	pgrows_release(&um);
	return ret;
}

struct fsck {
	struct remote *r;
	long problems;
};

static int fsck_fn(struct spool *sp, const struct jobref *ref, void *arg)
{
	struct fsck *f = arg;
	const char *p[2] = { f->r->origin, ref->id };
	struct pgrows rows;

	if (pg_exec(f->r->pg, "cannot check a job", "SELECT 1 FROM q.job WHERE origin = $1 AND id = $2",
		    2, p, &rows)) {
		f->problems++;
		return 1;
	}
	if (!rows.nrows) {
		printf("forwarded/%s: the remote has no such job\n", ref->id);
		f->problems++;
	}
	pgrows_release(&rows);
	return 0;
}

/* The remote's invariants (remote-format.md, "Invariants"). */
int remote_fsck(struct remote *r)
{
	static const struct {
		const char *what, *sql;
	} checks[] = {
		{ "waiting, but every dependency completed",
		  "SELECT j.origin || '/' || j.id FROM q.job j WHERE j.state = 'waiting' AND NOT EXISTS "
		  "(SELECT 1 FROM q.dep d JOIN q.job a ON a.n = d.after WHERE d.n = j.n "
		  "AND a.state <> 'completed')" },
		{ "waiting on a job that failed",
		  "SELECT j.origin || '/' || j.id FROM q.job j JOIN q.dep d ON d.n = j.n "
		  "JOIN q.job a ON a.n = d.after WHERE j.state = 'waiting' "
		  "AND a.state IN ('failed', 'cancelled', 'expired')" },
		{ "pending before its dependencies completed",
		  "SELECT j.origin || '/' || j.id FROM q.job j JOIN q.dep d ON d.n = j.n "
		  "JOIN q.job a ON a.n = d.after WHERE j.state IN ('pending', 'running') "
		  "AND a.state <> 'completed'" },
		{ "running without a worker", "SELECT origin || '/' || id FROM q.job "
		  "WHERE state = 'running' AND worker IS NULL" },
		{ "final with a start and no exit for its last attempt",
		  "SELECT j.origin || '/' || j.id FROM q.job j WHERE j.state = 'completed' AND "
		  "NOT EXISTS (SELECT 1 FROM q.event e WHERE e.n = j.n AND e.line::jsonb->>'event' = "
		  "'exit' AND (e.line::jsonb->>'attempt')::int = j.attempt)" },
		{ "more live jobs than one with its key",
		  "SELECT key FROM q.job WHERE key IS NOT NULL AND state IN ('pending', 'deferred', "
		  "'waiting', 'held', 'running') GROUP BY key HAVING count(*) > 1" },
	};
	struct fsck f = { r, 0 };

	if (remote_ready(r))
		return EXIT_RUNTIME;
	for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++) {
		struct pgrows rows;

		if (pg_exec(r->pg, "cannot check the remote", checks[i].sql, 0, NULL, &rows))
			return EXIT_RUNTIME;
		for (int k = 0; k < rows.nrows; k++)
			printf("remote job %s: %s\n", pgrows_get(&rows, k, 0), checks[i].what);
		f.problems += rows.nrows;
		pgrows_release(&rows);
	}
	if (spool_each(&r->sp, ST_FORWARDED, 0, fsck_fn, &f))
		return EXIT_RUNTIME;
	if (f.problems)
		printf("%ld problem%s\n", f.problems, f.problems == 1 ? "" : "s");
	return f.problems ? EXIT_NO : EXIT_OK;
}
