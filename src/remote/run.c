/*
 * run.c: q remote worker: claim, supervise, finish; recovery, cancel and
 * a lost session.
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
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "worker.h"

/* ---------------------------------------------------------- worker */

static struct rjob *find_run(struct remote *r, int64_t n)
{
	for (int i = 0; i < r->nrun; i++)
		if (r->run[i].n == n)
			return &r->run[i];
	return NULL;
}

/* Where a job from origin runs here: its cwd, or the same place in this repository. */
static char *run_dir(struct remote *r, const struct job *job, const char *origin, const char *rel)
{
	struct stat st;
	char *p;

	if (!strcmp(origin, r->origin) && !stat(job->cwd, &st) && S_ISDIR(st.st_mode))
		return xstrdup(job->cwd);
	if (rel) {
		p = strcmp(rel, ".") ? path_join(r->sp.top, rel) : xstrdup(r->sp.top);
		if (!stat(p, &st) && S_ISDIR(st.st_mode))
			return p;
		free(p);
	}
	return xstrdup(r->sp.top);
}

/* Send what the job wrote since the last call (up to remote.output_max). */
static int upload(struct remote *r, struct rjob *j)
{
	struct stat st;
	char n[24], att[16], off[24];
	struct buf hex = BUF_INIT;
	const char *p[4] = { n, att, off, NULL };
	static const char digits[] = "0123456789abcdef";
	char *data;
	ssize_t got;

	if (j->logfd < 0 || fstat(j->logfd, &st) || st.st_size <= j->uploaded || j->capped)
		return 0;
	snprintf(n, sizeof(n), "%lld", (long long)j->n);
	snprintf(att, sizeof(att), "%d", j->attempt);
	data = xmalloc(CHUNK);
	while (j->uploaded < st.st_size && !j->capped) {
		int64_t want = st.st_size - j->uploaded;

		if (want > CHUNK)
			want = CHUNK;
		if (j->uploaded + want > r->sp.cfg.remote_output_max)
			want = r->sp.cfg.remote_output_max - j->uploaded;
		got = want > 0 ? pread(j->logfd, data, want, j->uploaded) : 0;
		if (got < 0)
			break;
		buf_reset(&hex);
		buf_adds(&hex, "\\x");
		for (ssize_t i = 0; i < got; i++) {
			buf_addc(&hex, digits[(unsigned char)data[i] >> 4]);
			buf_addc(&hex, digits[data[i] & 15]);
		}
		if (got == 0) {
			static const char note[] = "\nq: output past remote.output_max not kept\n";

			for (size_t i = 0; i < sizeof(note) - 1; i++) {
				buf_addc(&hex, digits[(unsigned char)note[i] >> 4]);
				buf_addc(&hex, digits[note[i] & 15]);
			}
			j->capped = 1;
		}
		snprintf(off, sizeof(off), "%lld", (long long)j->uploaded);
		p[3] = hex.s;
		if (pg_exec(r->pg, "cannot send a job's output",
			    "INSERT INTO q.output (n, attempt, off, data) VALUES ($1, $2, $3, $4::bytea) "
			    "ON CONFLICT DO NOTHING", 4, p, NULL)) {
			free(data);
			buf_release(&hex);
			return -1;
		}
		j->uploaded += got;
	}
	free(data);
	buf_release(&hex);
	return 0;
}

static void unlock_job(struct remote *r, int64_t n)
{
	char num[24];
	const char *p[1] = { num };

	snprintf(num, sizeof(num), "%lld", (long long)n);
	pg_exec(r->pg, "cannot free a job's lock",
		"SELECT pg_advisory_unlock(q.lockkey($1))", 1, p, NULL);
}

/* The attempt is over: record how it ended (fenced by the attempt), free its lock. */
static void finish(struct remote *r, struct rjob *j)
{
	const struct job *job = &j->job;
	int code = -1, sig = 0, stored = 0;
	const char *err, *outcome;
	struct buf ev = BUF_INIT, res = BUF_INIT;
	char n[24], att[16], wait[24], rwhy[200] = "";
	int64_t until = -1, now = now_ms();
	struct pgrows rows;
	struct stat st;
	struct jw w;

	if (j->refused)
		err = !strcmp(j->refused, "foreign") ? "tempfail" : "invalid_job";
	else
		err = sup_outcome(&j->done, j->got_done ? j->done.status : j->sup_status,
				  j->cancelling ? "cancelled" : "spawn_failed", &code, &sig);
	if (j->refused)
		; /* nothing ran: no result to take */
	else if (spool_result_take(&r->sp, job->id, &res, rwhy, sizeof(rwhy)))
		dprintf(j->logfd, "q: result refused: %s\n", rwhy);
	else if (err && !strcmp(err, "tempfail"))
		until = worker_retry_after(&res, now);
	else
		stored = res.len > 0;
	if (upload(r, j))
		r->lost = 1;

	if (!err)
		outcome = "completed";
	else if (!strcmp(err, "tempfail"))
		outcome = "tempfail";
	else if (!strcmp(err, "cancelled") || !strcmp(err, "invalid_job") ||
		 (j->done.timed_out && !job->retry_timeout) ||
		 (stored && worker_no_retry(&res)))
		outcome = "failed";
	else
		outcome = "retry";
	if (j->refused && !strcmp(outcome, "tempfail"))
		until = now + 60000;
	else if (!strcmp(outcome, "tempfail") && until < 0)
		/* Tempfails in a row back off as they do here: claims not spent, at least 1. */
		until = now + worker_backoff(job, j->attempt - j->tries > 1 ? j->attempt - j->tries : 1);
	else if (!strcmp(outcome, "retry"))
		until = now + worker_backoff(job, j->tries + 1);

	jw_init(&w, &ev);
	jw_obj(&w);
	event_exit_fields(&w, j->attempt, code, sig, err,
			  j->logfd >= 0 && !fstat(j->logfd, &st) ? st.st_size : 0, stored, rwhy);
	jw_key(&w, "host");
	jw_str(&w, r->me);
	jw_obj_end(&w);
	snprintf(n, sizeof(n), "%lld", (long long)j->n);
	snprintf(att, sizeof(att), "%d", j->attempt);
	snprintf(wait, sizeof(wait), "%lld", (long long)(until > now ? until - now : 0));
	{
		const char *p[7] = { n, att, ev.s, outcome, err, wait, stored ? res.s : NULL };

		if (!r->lost &&
		    !pg_exec(r->pg, "cannot record a job's end",
			     "SELECT q.finish($1, $2, $3::jsonb, $4, $5, $6, $7)", 7, p, &rows)) {
			if (!pgrows_get(&rows, 0, 0))
				spool_note(&r->sp, "remote job %s/%s: attempt %d was recovered by another "
					   "worker before it ended; its end is not recorded", j->origin,
					   job->id, j->attempt);
			pgrows_release(&rows);
			unlock_job(r, j->n);
		} else {
			/* Our session is gone with the lock: the job is recovered elsewhere. */
			r->lost = 1;
		}
	}
	if (j->logfd >= 0)
		close(j->logfd);
	buf_release(&ev);
	buf_release(&res);
	job_release(&j->job);
	*j = r->run[--r->nrun];
}

/*
 * Claim the next pending job and start it under a supervisor that keeps
 * our session's socket open (the job's lock lives in that session).
 * 1 started, 0 nothing to claim, -1 error.
 */
static int claim(struct remote *r)
{
	struct rjob *j = &r->run[r->nrun];
	struct pgrows rows;
	const char *p[3] = { r->me, NULL, NULL };
	int go = -1, keep, tries = 0;
	char why[200], **env = NULL, *dir = NULL, num[24], att[16];
	int pr;
	struct buf fields = BUF_INIT;
	struct jw w;
	struct sup s;

	for (;;) {
		if (pg_exec(r->pg, "cannot claim a job",
			    "WITH c AS MATERIALIZED (SELECT n FROM q.job WHERE state = 'pending' "
			    "  ORDER BY priority, id LIMIT 16 FOR UPDATE SKIP LOCKED), "
			    "l AS MATERIALIZED (SELECT n FROM c WHERE pg_try_advisory_lock(q.lockkey(n)) "
			    "  LIMIT 1) "
			    "UPDATE q.job j SET state = 'running', attempt = j.attempt + 1, worker = $1, "
			    "  updated_at = now() FROM l WHERE j.n = l.n "
			    "RETURNING j.n, j.origin, j.id, j.attempt, j.tries, j.spec, j.cwd_rel",
			    1, p, &rows))
			return -1;
		if (rows.nrows)
			break;
		pgrows_release(&rows);
		/* Rows others are claiming (or a rescuer holds for a moment): look again. */
		if (pg_exec(r->pg, "cannot look for jobs",
			    "SELECT 1 FROM q.job WHERE state = 'pending' LIMIT 1", 0, NULL, &rows))
			return -1;
		if (!rows.nrows || ++tries > 50) {
			pgrows_release(&rows);
			return 0;
		}
		pgrows_release(&rows);
		sleep_ms(5);
	}
	memset(j, 0, sizeof(*j));
	j->n = strtoll(pgrows_get(&rows, 0, 0), NULL, 10);
	snprintf(j->origin, sizeof(j->origin), "%s", pgrows_get(&rows, 0, 1));
	j->attempt = atoi(pgrows_get(&rows, 0, 3));
	j->tries = atoi(pgrows_get(&rows, 0, 4));
	j->rep = j->logfd = -1;
	j->sup = -1;
	r->nrun++;
	job_init(&j->job);
	why[0] = '\0';
	pr = job_parse(&j->job, pgrows_get(&rows, 0, 5), strlen(pgrows_get(&rows, 0, 5)), why,
		       sizeof(why));
	if (!pr && (!j->job.type || j->job.type->run != RUN_EXEC)) {
		pr = JOB_FOREIGN;
		snprintf(why, sizeof(why), "a '%s' job (only commands run from the remote)",
			 j->job.type_name ? j->job.type_name : "?");
	}
	if (pr) {
		/*
		 * Not a job this q can run: an invalid one fails; one for a newer
		 * q (or another type) goes back for a minute, costing no attempt,
		 * for a host that can run it.
		 */
		j->logfd = -1;
		j->refused = pr == JOB_FOREIGN ? "foreign" : "invalid";
		spool_note(&r->sp, "remote job %s/%s: cannot run here: %s", j->origin,
			   pgrows_get(&rows, 0, 2), why);
		snprintf(j->job.id, sizeof(j->job.id), "%s", pgrows_get(&rows, 0, 2));
		pgrows_release(&rows);
		finish(r, j);
		return 1;
	}
	dir = run_dir(r, &j->job, j->origin, pgrows_get(&rows, 0, 6));
	pgrows_release(&rows);

	j->logfd = f_openat(r->sp.fd, "tmp", O_TMPFILE | O_RDWR, 0600);
	if (j->logfd < 0) {
		error_errno("cannot create the output file of job %s", j->job.id);
		goto fail;
	}
	fcntl(j->logfd, F_SETFL, O_RDWR | O_APPEND);
	env = worker_environ(&r->sp, &j->job, j->attempt, "/dev/null");
	s = (struct sup){
		.path = j->job.argv.v[0], .argv = j->job.argv.v, .env = env, .cwd = dir,
		.search = 1, .logfd = j->logfd, .in = -1,
		.timeout_ms = j->job.timeout_ms, .grace_ms = r->sp.cfg.kill_grace_ms,
	};
	/* The session's socket stays open in the supervisor: its lock outlives us only with the job. */
	keep = pg_socket(r->pg);
	j->sup = sup_start(&s, &keep, 1, &go, &j->rep);
	worker_environ_free(env);
	env = NULL;
	free(dir);
	dir = NULL;
	if (j->sup < 0)
		goto fail;

	jw_init(&w, &fields);
	jw_obj(&w);
	jw_key(&w, "attempt");
	jw_int(&w, j->attempt);
	jw_key(&w, "pid");
	jw_int(&w, j->sup);
	jw_key(&w, "host");
	jw_str(&w, r->me);
	jw_obj_end(&w);
	snprintf(num, sizeof(num), "%lld", (long long)j->n);
	snprintf(att, sizeof(att), "%d", j->attempt);
	p[0] = num;
	p[1] = att;
	p[2] = fields.s;
	if (pg_exec(r->pg, "cannot record a job's start", "SELECT q.start($1, $2, $3::jsonb)", 3, p,
		    &rows)) {
		/* No go: the supervisor ends with nothing run. */
		r->lost = !pg_alive(r->pg);
	} else {
		if (strcmp(pgrows_get(&rows, 0, 0), "t"))
			j->cancelling = 1; /* cancelled before it ran */
		else if (write(go, "g", 1) != 1)
			error_errno("cannot start job %s", j->job.id);
		pgrows_release(&rows);
	}
	close(go);
	buf_release(&fields);
	return 1;
fail:
	if (env)
		worker_environ_free(env);
	free(dir);
	j->rep = -1;
	finish(r, j); /* no supervisor: nothing ran (spawn_failed) */
	return -1;
}

/* Read the supervisor's messages; 1 when it has ended (and is reaped). */
static int read_sup(struct rjob *j)
{
	struct sup_msg m;
	ssize_t n;

	while ((n = read(j->rep, &m, sizeof(m))) == (ssize_t)sizeof(m))
		if (m.kind == SUP_DONE) {
			j->done = m;
			j->got_done = 1;
		}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* End of file: the supervisor is gone. */
	close(j->rep);
	j->rep = -1;
	while (waitpid(j->sup, &j->sup_status, 0) < 0 && errno == EINTR)
		;
	return 1;
}

/* Our session is gone: stop every job at once (another host may claim them soon). */
static void stop_all(struct remote *r)
{
	for (int i = 0; i < r->nrun; i++)
		if (r->run[i].sup > 0)
			kill(r->run[i].sup, SIGHUP);
	for (int i = 0; i < r->nrun; i++)
		if (r->run[i].sup > 0)
			while (waitpid(r->run[i].sup, NULL, 0) < 0 && errno == EINTR)
				;
}

/* Stop job j (a cancel was requested): its supervisor sends TERM, then KILL after the grace. */
static void cancel_run(struct rjob *j)
{
	if (!j->cancelling && j->sup > 0) {
		j->cancelling = 1;
		kill(j->sup, SIGTERM);
	}
}

/*
 * Notifications, on their own session: a worker stopped for a while
 * (SIGSTOP) stops reading, and a server whose sends to it stall gives up
 * that session; the jobs' locks must not be in it.  A lost listener is
 * only closed (made again next round): cancels are also polled.
 * Returns 1 when a job became pending somewhere.
 */
static int take_notifications(struct remote *r)
{
	char chan[64], *payload;
	int dead, work = 0;

	if (!r->lpg)
		return 0;
	while ((payload = pg_notification(r->lpg, chan, &dead))) {
		struct rjob *j;

		if (!strcmp(chan, "q_cancel") && (j = find_run(r, strtoll(payload, NULL, 10))))
			cancel_run(j);
		else if (!strcmp(chan, "q_job"))
			work = 1;
		free(payload);
	}
	if (dead) {
		pg_close(r->lpg);
		r->lpg = NULL;
	}
	return work;
}

static void listen_again(struct remote *r)
{
	if (r->lpg)
		return;
	r->lpg = pg_connect(r->sp.cfg.remote_url, r->sp.cfg.remote_detect_ms);
	if (r->lpg && pg_script(r->lpg, "cannot listen", "LISTEN q_cancel; LISTEN q_job")) {
		pg_close(r->lpg);
		r->lpg = NULL;
	}
}

/*
 * Each second while jobs run: a query that finds a lost session within
 * remote.detect, and the cancels requested for our jobs (a notification
 * can be missed).  -1 when the session is lost.
 */
static int ping(struct remote *r)
{
	struct buf ns = BUF_INIT;
	struct pgrows rows;
	const char *p[1];

	buf_addc(&ns, '{');
	for (int i = 0; i < r->nrun; i++)
		buf_addf(&ns, "%s%lld", i ? "," : "", (long long)r->run[i].n);
	buf_addc(&ns, '}');
	p[0] = ns.s;
	if (pg_exec(r->pg, "lost the remote",
		    "SELECT n FROM q.job WHERE n = ANY ($1::bigint[]) AND cancel_requested", 1, p,
		    &rows)) {
		buf_release(&ns);
		return -1;
	}
	for (int i = 0; i < rows.nrows; i++) {
		struct rjob *j = find_run(r, strtoll(pgrows_get(&rows, i, 0), NULL, 10));

		if (j)
			cancel_run(j);
	}
	pgrows_release(&rows);
	buf_release(&ns);
	return 0;
}

/*
 * Milliseconds until the next job is due (0: now), or -1 when none is
 * scheduled: a retry in the remote, or a scheduled job of this spool
 * (forwarded once due).
 */
static int64_t next_due(struct remote *r)
{
	struct pgrows rows;
	int64_t ms = -1, now = now_ms();

	if (pg_exec(r->pg, "cannot read the schedule",
		    "SELECT ceil(greatest(extract(epoch FROM min(run_at) - now()), 0) * 1000)::bigint "
		    "FROM q.job WHERE state = 'deferred' HAVING count(*) > 0", 0, NULL, &rows))
		return -1;
	if (pgrows_get(&rows, 0, 0))
		ms = strtoll(pgrows_get(&rows, 0, 0), NULL, 10);
	pgrows_release(&rows);
	if (r->local_due >= 0) {
		int64_t l = r->local_due > now ? r->local_due - now : 0;

		if (ms < 0 || l < ms)
			ms = l;
	}
	return ms;
}

/* Whether a job runs anywhere (a worker that runs none: on another worker). */
static int running_anywhere(struct remote *r)
{
	struct pgrows rows;
	int any;

	if (pg_exec(r->pg, "cannot look for running jobs",
		    "SELECT 1 FROM q.job WHERE state = 'running' LIMIT 1", 0, NULL, &rows))
		return 0; /* the next round finds the connection's trouble */
	any = rows.nrows > 0;
	pgrows_release(&rows);
	return any;
}

/*
 * One round of upkeep: forward, bring verdicts back, schedule, recover.
 * Each step runs whatever another failed (a job the remote refuses must
 * not stop the verdicts of the others); -1 when one did.
 */
static int upkeep(struct remote *r)
{
	const char *p[1] = { r->me };
	int errors = 0;

	/* Retention, as the spool's (gc.completed, gc.failed), each gc.interval at most. */
	if (!r->gc_at || mono_ms() - r->gc_at >= r->sp.cfg.gc_interval_ms) {
		char c[32], f[32], e[32];
		const char *g[3] = { c, f, e };

		snprintf(c, sizeof(c), "%lld milliseconds", (long long)r->sp.cfg.gc_completed_ms);
		snprintf(f, sizeof(f), "%lld milliseconds", (long long)r->sp.cfg.gc_failed_ms);
		snprintf(e, sizeof(e), "%lld milliseconds", (long long)r->sp.cfg.gc_interval_ms);
		struct pgrows rows;

		r->gc_at = mono_ms();
		if (pg_exec(r->pg, "cannot remove old jobs",
			    "SELECT q.gc($1::interval, $2::interval, $3::interval)", 3, g, &rows)) {
			errors++;
		} else {
			/* A full batch: more to remove, next round. */
			if (pgrows_get(&rows, 0, 0) && atoi(pgrows_get(&rows, 0, 0)) >= 1000)
				r->gc_at = 0;
			pgrows_release(&rows);
		}
	}

	errors += remote_forward(r) < 0;
	errors += pg_alive(r->pg) && remote_mirror(r) < 0;
	errors += pg_alive(r->pg) &&
		  pg_exec(r->pg, "cannot promote due jobs", "SELECT q.tick()", 0, NULL, NULL) < 0;
	errors += pg_alive(r->pg) &&
		  pg_exec(r->pg, "cannot recover jobs", "SELECT q.rescue($1)", 1, p, NULL) < 0;
	return errors ? -1 : 0;
}

int remote_worker(struct remote *r, const struct wopts *o)
{
	char host[64] = "";
	int slot, ino = -1, ret = EXIT_OK, work = 0;
	int64_t idle_since = mono_ms(), last_ping = mono_ms(), upkept = -1000000, answer;
	char limits[96];

	/*
	 * One of worker.max slots, shared with local workers.  Without one:
	 * forward (a job added now is not stranded) and exit; under --watch,
	 * forward and bring verdicts back, and claim once a slot is free.
	 */
	slot = spool_slot(&r->sp, (int)r->sp.cfg.worker_max);
	if (slot == -1)
		return EXIT_RUNTIME;
	if (remote_ready(r)) {
		spool_note(&r->sp, "remote worker: cannot use the remote (see q remote status); "
			   "commands wait in the spool");
		return EXIT_RUNTIME;
	}
	if (slot == -2 && !o->watch)
		return remote_forward(r) || remote_mirror(r) ? EXIT_RUNTIME : EXIT_OK;
	/*
	 * A query the server is silent on for 0.4 x remote.detect ends the
	 * session here, whatever the kernel makes of the connection: the
	 * server frees our jobs after remote.detect, and they must be dead
	 * by then.
	 */
	answer = (r->sp.cfg.remote_detect_ms < 3000 ? 3000 : r->sp.cfg.remote_detect_ms) * 2 / 5;
	pg_answer_within(r->pg, answer);
	/* A slow server answers with an error (the session lives on), not with silence. */
	snprintf(limits, sizeof(limits), "SET lock_timeout = %lld; SET statement_timeout = %lld",
		 (long long)answer / 2, (long long)answer * 3 / 4);
	if (pg_script(r->pg, "cannot set the time limits", limits))
		return EXIT_RUNTIME;
	/* What the jobs leave behind is ours to reap when a supervisor dies first. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	gethostname(host, sizeof(host) - 1);
	snprintf(r->me, sizeof(r->me), "%s/%ld/%d", host, (long)getpid(), pg_backend_pid(r->pg));
	r->jobs = o->jobs;
	listen_again(r);
	if (o->watch) {
		char *pend = path_join(r->sp.path, "pending");

		ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ino >= 0) {
			inotify_add_watch(ino, r->sp.path, IN_MOVED_TO | IN_CREATE | IN_DELETE);
			inotify_add_watch(ino, pend, IN_MOVED_TO | IN_CREATE);
		}
		free(pend);
	}
	for (;;) {
		struct pollfd pf[MAX_RUN + 3];
		int np = 0, timeout = 1000, paused = spool_paused(&r->sp);
		int64_t due;

		if (slot == -2)
			slot = spool_slot(&r->sp, (int)r->sp.cfg.worker_max);
		if (slot == -1)
			break;
		/*
		 * Upkeep each half second while there is work (it costs some
		 * round trips: not on every job; a dead worker's job is back in
		 * the queue within a second), and before deciding there is none.
		 */
		for (int pass = 0; pass < 2 && !r->lost; pass++) {
			int fresh = 0;

			if (mono_ms() - upkept >= 500 ||
			    (pass && slot >= 0 && !paused)) {
				upkept = mono_ms();
				fresh = 1;
				if (upkeep(r))
					r->lost = !pg_alive(r->pg);
			}
			while (!r->lost && slot >= 0 && !paused && r->nrun < r->jobs) {
				int c = claim(r);

				if (c <= 0) {
					if (c < 0)
						r->lost = !pg_alive(r->pg);
					break;
				}
			}
			if (r->nrun > 0 || fresh)
				break;
		}
		if (r->lost)
			break;
		if (r->nrun == 0) {
			due = paused ? -1 : next_due(r);
			if (!o->watch && (o->once || paused || due < 0 || due > r->sp.cfg.linger_ms))
				break;
			if (o->watch && mono_ms() - idle_since > r->sp.cfg.idle_ms && due < 0)
				break;
			timeout = due >= 0 && due < 60000 ? (int)due + 1 : 60000;
			/* --watch: wake when worker.idle runs out, to exit then. */
			if (o->watch && due < 0) {
				int64_t left = r->sp.cfg.idle_ms - (mono_ms() - idle_since) + 1;

				if (left < timeout)
					timeout = left > 0 ? (int)left : 0;
			}
			if (slot == -2 && timeout > 1000)
				timeout = 1000; /* a slot may free */
			/*
			 * Nothing says that another worker died: while jobs run
			 * elsewhere, a round (q.rescue) each half second recovers
			 * theirs within a second of their session's end.
			 */
			if (timeout > 500 && running_anywhere(r))
				timeout = 500;
		} else {
			idle_since = mono_ms();
		}
		/*
		 * The listener is made again only while no job runs: connecting
		 * can take seconds in a network cut, and with jobs running the
		 * pings find the session lost and read the cancels meanwhile.
		 */
		if (r->nrun == 0)
			listen_again(r);
		/* Notifications read with other traffic are queued already: no sleep then. */
		if (take_notifications(r) || work)
			timeout = 0;
		work = 0;
		if (r->lpg)
			pf[np++] = (struct pollfd){ pg_socket(r->lpg), POLLIN, 0 };
		if (ino >= 0)
			pf[np++] = (struct pollfd){ ino, POLLIN, 0 };
		for (int i = 0; i < r->nrun; i++)
			if (r->run[i].rep >= 0)
				pf[np++] = (struct pollfd){ r->run[i].rep, POLLIN, 0 };
		if (poll(pf, np, timeout) < 0 && errno != EINTR)
			break;
		if (ino >= 0) {
			char b[4096];

			while (read(ino, b, sizeof(b)) > 0)
				;
		}
		work = take_notifications(r);
		for (int i = 0; i < r->nrun;) {
			struct rjob *j = &r->run[i];

			if (j->rep >= 0) {
				fcntl(j->rep, F_SETFL, O_NONBLOCK);
				if (!read_sup(j)) {
					i++;
					continue;
				}
			}
			finish(r, j); /* moves the last one here */
		}
		/* Output, cancels, and a sign of life that finds a lost session within remote.detect. */
		if (!r->lost && r->nrun > 0 && mono_ms() - last_ping >= 1000) {
			last_ping = mono_ms();
			for (int i = 0; i < r->nrun && !r->lost; i++)
				if (upload(r, &r->run[i]))
					r->lost = 1;
			if (!r->lost && ping(r))
				r->lost = 1;
		}
		if (r->lost)
			break;
	}
	if (r->lost) {
		spool_note(&r->sp, "remote worker: lost the database session; stopped %d job%s "
			   "(another worker recovers them)", r->nrun, r->nrun == 1 ? "" : "s");
		error("lost the remote: stopped %d running job%s", r->nrun, r->nrun == 1 ? "" : "s");
		stop_all(r);
		ret = EXIT_RUNTIME;
	}
	if (slot >= 0)
		close(slot);
	/* A job added while we held the slot is forwarded, not stranded. */
	if (!r->lost && pg_alive(r->pg) && (remote_forward(r) || remote_mirror(r)))
		ret = EXIT_RUNTIME;
	if (ino >= 0)
		close(ino);
	pg_close(r->lpg);
	r->lpg = NULL;
	return ret;
}
