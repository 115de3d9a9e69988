/*
 * q sync: what became of the GitHub jobs (counts, each host's rate
 * limit or want of a token, the last error of each job that failed or
 * is being retried), and putting failed ones back.  Also what q push
 * and q status do for GitHub jobs (cmd.h, "GitHub jobs").
 */
#include "cmd.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gh.h"
#include "json.h"
#include "ops.h"
#include "worker.h"

/* Is there any GitHub state at all?  (Spools that never had a GitHub job skip the rest.) */
static int have_github(struct spool *sp)
{
	return !faccessat(sp->fd, "github", F_OK, AT_SYMLINK_NOFOLLOW);
}

/* ------------------------------------------------------- job walking */

struct walk {
	int (*fn)(struct spool *sp, const struct jobref *ref, struct job *job, void *arg);
	void *arg;
};

static int walk_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct walk *w = data;
	struct job job;
	int r = 0;

	job_init(&job);
	/* A job that moved meanwhile is skipped: the walk is a snapshot at best. */
	if (spool_load(sp, ref, &job, NULL) == SP_OK && job.type &&
	    !strcmp(job.type->name, "github"))
		r = w->fn(sp, ref, &job, w->arg);
	job_release(&job);
	return r;
}

/* Call fn for each GitHub job in state s, in id order. */
static int each_github(struct spool *sp, enum state s,
		       int (*fn)(struct spool *, const struct jobref *, struct job *, void *),
		       void *arg)
{
	struct walk w = { fn, arg };

	return spool_each(sp, s, 1, walk_fn, &w);
}

/* The host (queue and state name) of a GitHub job. */
static int job_host(const struct job *job, struct gh_api *api)
{
	struct json j;
	const char *why;
	char *url = NULL;
	int k, r = -1;

	if (!job->args || json_parse(&j, job->args, strlen(job->args), &why))
		return -1;
	k = json_get(&j, 0, "api_url");
	if (k >= 0 && !json_string(&j, k, &url))
		r = gh_api_parse(url, api);
	free(url);
	json_release(&j);
	return r;
}

/* Why the job failed, or why its last attempt did: the result's error, else the log's. */
static char *job_error(struct spool *sp, const struct jobref *ref)
{
	struct view v;
	struct json j;
	const char *why, *e;
	char *s = NULL;
	int k;

	if (view_load(sp, ref, &v) != SP_OK)
		return NULL;
	if (v.result.len && !json_parse(&j, v.result.s, v.result.len, &why)) {
		if ((k = json_get(&j, 0, "error")) < 0 || json_string(&j, k, &s))
			s = NULL;
		json_release(&j);
	}
	if (!s && (e = view_error(&v)))
		s = xstrdup(e);
	view_release(&v);
	return s;
}

/* ------------------------------------------------------------ status */

struct counts {
	long n[5];                /* pending, syncing, completed, failed, cancelled */
	long retrying;            /* pending after a failed attempt */
	struct jw *w;             /* --json: the "jobs" array */
	struct buf *text;         /* else: one line per job with a problem */
};

static const char *const count_names[5] = { "pending", "syncing", "completed", "failed",
					    "cancelled" };

static int count_fn(struct spool *sp, const struct jobref *ref, struct job *job, void *arg)
{
	struct counts *c = arg;
	struct jobstate st;
	struct buf desc = BUF_INIT;
	int bucket = ref->state == ST_RUNNING	 ? 1
		     : ref->state == ST_DONE	  ? 2
		     : ref->state == ST_CANCELLED ? 4
		     : state_final(ref->state)	  ? 3
						  : 0;
	char *err = NULL;
	int64_t due = -1;

	c->n[bucket]++;
	if (bucket == 0 && spool_load_events(sp, ref->id, &st) == SP_OK) {
		/* A pending job is worth a line once an attempt of it failed. */
		const struct attempt *a = jobstate_last(&st);

		if (a && a->exited && a->error[0] && strcmp(a->error, "tempfail"))
			err = job_error(sp, ref);
		due = st.deferred_until;
		jobstate_release(&st);
	} else if (bucket == 3) {
		err = job_error(sp, ref);
		if (!err)
			err = xstrdup("failed");
	}
	if (!err)
		return 0;
	c->retrying += bucket == 0;
	job_describe(&desc, job, 60);
	if (c->w) {
		jw_obj(c->w);
		jw_key(c->w, "id");
		jw_str(c->w, ref->id);
		jw_key(c->w, "status");
		jw_str(c->w, state_status(ref->state));
		jw_key(c->w, "state");
		jw_str(c->w, state_name(ref->state));
		jw_key(c->w, "describe");
		jw_str(c->w, desc.s);
		jw_key(c->w, "error");
		jw_str(c->w, err);
		jw_key(c->w, "retry_at");
		jw_time(c->w, ref->state == ST_DEFERRED ? due : -1);
		jw_obj_end(c->w);
	} else {
		buf_addf(c->text, "%s %s %s: ", bucket == 3 ? "failed" : "retrying", ref->id, desc.s);
		buf_add_visible(c->text, err, strlen(err));
		buf_addc(c->text, '\n');
	}
	buf_release(&desc);
	free(err);
	return 0;
}

/*
 * Append the hosts' states as JSON, or as text: blocks and tokens
 * wanted, and with all set, what is left of each rate limit.
 */
static int hosts(struct spool *sp, struct jw *w, struct buf *text, int all)
{
	struct strv names = { NULL, 0 };
	int64_t now = now_ms();

	if (gh_state_hosts(sp, &names))
		return -1;
	for (int i = 0; i < names.n; i++) {
		struct gh_state st;
		char t[TIME_LEN];
		int blocked;

		if (gh_state_load(sp, names.v[i], &st))
			continue;
		blocked = st.blocked_until > now;
		if (w) {
			jw_obj(w);
			jw_key(w, "host");
			jw_str(w, names.v[i]);
			jw_key(w, "blocked_until");
			jw_time(w, blocked ? st.blocked_until : -1);
			jw_key(w, "blocked_reason");
			jw_str(w, blocked ? st.blocked_reason : NULL);
			jw_key(w, "needs_token");
			jw_str(w, st.needs_token[0] ? st.needs_token : NULL);
			jw_key(w, "limit");
			if (st.limit >= 0)
				jw_int(w, st.limit);
			else
				jw_null(w);
			jw_key(w, "remaining");
			if (st.remaining >= 0)
				jw_int(w, st.remaining);
			else
				jw_null(w);
			jw_key(w, "reset");
			jw_time(w, st.reset);
			jw_obj_end(w);
			continue;
		}
		if (st.needs_token[0]) {
			buf_addf(text, "%s: ", names.v[i]);
			buf_add_visible(text, st.needs_token, strlen(st.needs_token));
			buf_addc(text, '\n');
		}
		if (blocked) {
			time_format(st.blocked_until, t);
			buf_addf(text, "%s: rate limited until %s (", names.v[i], t);
			buf_add_visible(text, st.blocked_reason, strlen(st.blocked_reason));
			buf_adds(text, ")\n");
		}
		if (all && st.remaining >= 0 && st.limit >= 0) {
			char u[TIME_LEN];

			time_format(st.reset, t);
			time_format(st.updated_at, u);
			buf_addf(text, "%s: %lld of %lld requests left until %s (as of %s)\n",
				 names.v[i], (long long)st.remaining, (long long)st.limit, t, u);
		}
	}
	strv_clear(&names);
	return 0;
}

static int sync_status(struct spool *sp, int missing, int json)
{
	struct counts c;
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct jw w;
	int ret = EXIT_OK;

	memset(&c, 0, sizeof(c));
	jw_init(&w, &out);
	jw_obj(&w);
	jw_key(&w, "jobs");
	jw_arr(&w);
	c.w = json ? &w : NULL;
	c.text = &text;
	for (int s = 0; !missing && s < ST_NSTATES; s++)
		if (each_github(sp, s, count_fn, &c))
			ret = EXIT_RUNTIME;
	jw_arr_end(&w);
	for (int i = 0; i < 5; i++) {
		if (json) {
			jw_key(&w, count_names[i]);
			jw_int(&w, c.n[i]);
		} else if (i < 4 || c.n[i]) {
			printf("%s%ld %s", i ? ", " : "", c.n[i], count_names[i]);
		}
	}
	if (json) {
		jw_key(&w, "hosts");
		jw_arr(&w);
	} else {
		printf("\n");
	}
	if (!missing && hosts(sp, json ? &w : NULL, &text, 1))
		ret = EXIT_RUNTIME;
	if (json) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		buf_addc(&out, '\n');
		out_buf(&out);
	} else {
		out_buf(&text);
	}
	buf_release(&text);
	buf_release(&out);
	return ret;
}

/* ------------------------------------------------------------- retry */

/* Unpark host when it waits for a token and we have one (or force). */
static void unpark(struct spool *sp, const char *host, int force)
{
	struct gh_state st;
	int fd;

	if (!force && !gh_token(host, NULL))
		return;
	if ((fd = gh_state_lock(sp, host)) < 0)
		return;
	if (!gh_state_load(sp, host, &st) && st.needs_token[0]) {
		st.needs_token[0] = '\0';
		gh_state_save(sp, host, &st);
	}
	close(fd);
}

static void unpark_all(struct spool *sp, int force)
{
	struct strv names = { NULL, 0 };

	if (!gh_state_hosts(sp, &names))
		for (int i = 0; i < names.n; i++)
			unpark(sp, names.v[i], force);
	strv_clear(&names);
}

/* Is the job's host blocked by a rate limit (sending it now would only defer it again)? */
static int host_blocked(struct spool *sp, const struct job *job)
{
	struct gh_api api;
	struct gh_state st;

	return !job_host(job, &api) && !gh_state_load(sp, api.host, &st) &&
	       st.blocked_until > now_ms();
}

/* A deferred job, runnable now: its retry wait is cut short. */
static int run_now(struct spool *sp, const struct jobref *r)
{
	struct jobref ref = *r;
	int fd = spool_lock(sp, &ref), ret;

	if (fd < 0)
		return fd == -2 ? 0 : -1; /* taken meanwhile: nothing to do */
	ret = spool_transition(sp, &ref, fd, ST_PENDING, 0, "ready", NULL);
	close(fd);
	return ret;
}

struct retried {
	long n;
	int errors;
};

static int retry_fn(struct spool *sp, const struct jobref *ref, struct job *job, void *arg)
{
	struct retried *rt = arg;
	struct jobref r = *ref;

	if (ref->state == ST_DEFERRED) {
		if (host_blocked(sp, job))
			return 0;
		if (run_now(sp, ref))
			rt->errors++;
		else
			rt->n++;
		return 0;
	}
	if (op_retry(sp, &r) == OP_OK)
		rt->n++;
	else
		rt->errors++;
	return 0;
}

static int sync_retry(int argc, char **argv)
{
	struct spool sp;
	struct retried rt = { 0, 0 };
	struct jobref ref;
	struct job job;
	struct gh_api api;
	int ret, missing;

	if (argc != 3)
		return usage_error("sync", argc < 3 ? "no job id given" : "too many arguments");
	if (!strcmp(argv[2], "--all")) {
		if ((ret = cmd_open(&sp, 0, &missing)))
			return ret;
		if (!missing) {
			unpark_all(&sp, 1);
			if (each_github(&sp, ST_FAILED, retry_fn, &rt) ||
			    each_github(&sp, ST_EXPIRED, retry_fn, &rt) ||
			    each_github(&sp, ST_DEFERRED, retry_fn, &rt))
				rt.errors++;
		}
		printf("%ld GitHub job%s to send again\n", rt.n, rt.n == 1 ? "" : "s");
		spool_release(&sp);
		return rt.errors ? EXIT_RUNTIME : EXIT_OK;
	}
	if (argv[2][0] == '-')
		return usage_error("sync", "unknown option '%s'", argv[2]);
	if ((ret = cmd_open_job(&sp, argv[2], &ref)))
		return ret;
	job_init(&job);
	if (spool_load(&sp, &ref, &job, NULL)) {
		ret = EXIT_RUNTIME;
	} else if (!job.type || strcmp(job.type->name, "github")) {
		ret = EXIT_USAGE;
		error("job %s is not a GitHub job (q retry retries any job)", ref.id);
	} else if (ref.state != ST_FAILED && ref.state != ST_EXPIRED && ref.state != ST_CANCELLED &&
		   ref.state != ST_DEFERRED) {
		ret = EXIT_NO;
		error("job %s is %s: only failed or deferred GitHub jobs are sent again", ref.id,
		      state_name(ref.state));
	} else {
		if (!job_host(&job, &api))
			unpark(&sp, api.host, 1);
		if (ref.state == ST_DEFERRED)
			ret = run_now(&sp, &ref) ? EXIT_RUNTIME : EXIT_OK;
		else
			ret = op_status(op_retry(&sp, &ref));
		if (!ret && ref.state == ST_DEFERRED)
			op_kick(&sp);
	}
	job_release(&job);
	spool_release(&sp);
	return ret;
}

int cmd_sync(int argc, char **argv)
{
	struct spool sp;
	int ret, missing, json = 0;

	if (argc < 2)
		return usage_error("sync", "no command given: want status or retry");
	if (!strcmp(argv[1], "retry"))
		return sync_retry(argc, argv);
	if (strcmp(argv[1], "status"))
		return usage_error("sync", "unknown command 'sync %s'", argv[1]);
	if (argc == 3 && !strcmp(argv[2], "--json"))
		json = 1;
	else if (argc > 2)
		return usage_error("sync", "unexpected argument '%s'", argv[2]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	ret = sync_status(&sp, missing, json);
	spool_release(&sp);
	return ret;
}

/* ----------------------------------------------- q push and q status */

static int live_fn(struct spool *sp, const struct jobref *ref, struct job *job, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

long sync_push_prepare(struct spool *sp)
{
	static const enum state live[] = { ST_PENDING, ST_DEFERRED, ST_WAITING };
	struct retried rt = { 0, 0 };
	long n = 0;

	if (!have_github(sp))
		return 0;
	/* The person at the keyboard says now: tokens given since, and no retry wait. */
	unpark_all(sp, 0);
	if (each_github(sp, ST_DEFERRED, retry_fn, &rt))
		rt.errors++;
	for (size_t i = 0; i < sizeof(live) / sizeof(*live); i++)
		each_github(sp, live[i], live_fn, &n);
	return rt.errors ? -1 : n;
}

static int unsent_fn(struct spool *sp, const struct jobref *ref, struct job *job, void *arg)
{
	struct buf *b = arg;
	struct buf desc = BUF_INIT;
	struct gh_api api;
	struct gh_state st;
	char t[TIME_LEN];

	job_describe(&desc, job, 60);
	buf_addf(b, "unsent %s %s: %s", ref->id, desc.s, state_name(ref->state));
	if (!job_host(job, &api) && !gh_state_load(sp, api.host, &st)) {
		if (st.needs_token[0]) {
			buf_addf(b, ", %s needs a token", api.host);
		} else if (st.blocked_until > now_ms()) {
			time_format(st.blocked_until, t);
			buf_addf(b, ", %s rate limited until %s", api.host, t);
		}
	}
	buf_addc(b, '\n');
	buf_release(&desc);
	return 0;
}

long sync_push_unsent(struct spool *sp)
{
	static const enum state live[] = { ST_PENDING, ST_DEFERRED, ST_WAITING };
	struct buf b = BUF_INIT;
	long n = 0;

	if (!have_github(sp))
		return 0;
	for (size_t i = 0; i < sizeof(live) / sizeof(*live); i++)
		each_github(sp, live[i], unsent_fn, &b);
	for (size_t i = 0; i < b.len; i++)
		n += b.s[i] == '\n';
	out_buf(&b);
	buf_release(&b);
	return n;
}

void sync_push_progress(struct spool *sp, const struct worker_done *d, struct sync_push *p)
{
	if (!d->job->type || strcmp(d->job->type->name, "github"))
		return;
	if (d->to != ST_DONE && d->to != ST_DEFERRED)
		p->ended++;
	if (d->to != ST_DONE)
		return;
	p->ended++;
	if (++p->sent % sp->cfg.sync_batch_size == 0)
		printf("github: %ld sent, %ld to go\n", p->sent,
		       p->total > p->ended ? p->total - p->ended : 0);
}

void sync_status_line(struct spool *sp, struct jw *w)
{
	struct counts c;
	struct buf text = BUF_INIT, hl = BUF_INIT;

	memset(&c, 0, sizeof(c));
	c.text = &text;
	if (have_github(sp)) {
		each_github(sp, ST_FAILED, count_fn, &c);
		each_github(sp, ST_EXPIRED, count_fn, &c);
		each_github(sp, ST_DEFERRED, count_fn, &c);
		hosts(sp, NULL, &hl, 0);
	}
	if (w) {
		jw_key(w, "github_failed");
		jw_int(w, c.n[3]);
		jw_key(w, "github_retrying");
		jw_int(w, c.retrying);
	} else {
		/* Only what needs a person: failures, retries after errors, a block, a token wanted. */
		if (c.n[3])
			printf("github: %ld failed (q sync status)\n", c.n[3]);
		if (c.retrying)
			printf("github: %ld retrying after errors (q sync status)\n", c.retrying);
		for (const char *p = hl.s, *nl; p && *p; p = nl + 1) {
			nl = strchr(p, '\n');
			printf("github: %.*s\n", (int)(nl - p), p);
		}
	}
	buf_release(&text);
	buf_release(&hl);
}
