/* q list: one line per job. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#include "ops.h"

enum { O_STATE = 1, O_JSON, O_LABEL };

static const struct opt opts[] = {
	{ "state", 0, 1, O_STATE },
	{ "json", 0, 0, O_JSON },
	{ "label", 'l', 1, O_LABEL },
	{ NULL, 0, 0, 0 },
};

struct list_ctx {
	int json, errors;
	const char *label;
	struct jw w;
	struct buf b;
	int64_t now;
};

/* What is ahead of a job that is not runnable yet: its due time, its dependencies. */
static void list_detail(struct buf *b, const struct view *v, int64_t now)
{
	char d[32];

	if (v->ref.state == ST_DEFERRED && v->due >= 0) {
		duration_format(v->due > now ? v->due - now : 0, d, sizeof(d));
		buf_addf(b, "  (due in %s)", d);
	} else if (v->ref.state == ST_WAITING && v->job.after.n) {
		buf_adds(b, "  (waiting on");
		for (int i = 0; i < v->job.after.n; i++)
			buf_addf(b, " %s", v->job.after.v[i]);
		buf_addc(b, ')');
	}
	for (int i = 0; i < v->job.labels.n; i++) {
		buf_adds(b, i ? "," : "  [");
		buf_add_visible(b, v->job.labels.v[i], strlen(v->job.labels.v[i]));
		if (i == v->job.labels.n - 1)
			buf_addc(b, ']');
	}
}

static int list_one(struct spool *sp, const struct jobref *ref, void *data)
{
	struct list_ctx *l = data;
	struct view v;
	char age[32];

	int r = view_load(sp, ref, &v);

	if (r == SP_NOJOB)
		return 0; /* gone meanwhile */
	if (r != SP_OK) {
		/* Said why on stderr; list the rest, and exit 3 at the end. */
		l->errors++;
		return 0;
	}
	if (l->label && !job_has_label(&v.job, l->label)) {
		view_release(&v);
		return 0;
	}
	if (l->json) {
		view_json(&l->w, &v);
	} else {
		duration_format(l->now - v.job.created_at, age, sizeof(age));
		buf_addf(&l->b, "%s  %-9s %7s  ", v.job.id, state_name(v.ref.state), age);
		job_describe(&l->b, &v.job, 60);
		list_detail(&l->b, &v, l->now);
		buf_addc(&l->b, '\n');
	}
	view_release(&v);
	/* Flush as we go: a spool can hold many jobs. */
	if (l->b.len > 65536) {
		out_buf(&l->b);
		buf_reset(&l->b);
	}
	return 0;
}

int cmd_list(int argc, char **argv)
{
	struct list_ctx l = { 0 };
	struct spool sp;
	int i = 1, id, ret, missing, want = -1;
	const char *arg;
	static const enum state order[] = { ST_RUNNING, ST_LEASED, ST_PENDING, ST_OFFERED,
					    ST_DEFERRED, ST_WAITING, ST_HELD, ST_FORWARDED, ST_DONE, ST_FAILED,
					    ST_CANCELLED, ST_EXPIRED };

	while ((id = opt_next(argc, argv, &i, opts, &arg, "list")) > 0) {
		if (id == O_JSON)
			l.json = 1;
		else if (id == O_LABEL)
			l.label = arg;
		else if ((want = state_select(arg)) < 0)
			return usage_error("list", "bad state '%s': want pending, deferred, waiting, held, "
					   "offered, running, leased, completed, failed, cancelled or "
					   "expired", arg);
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("list", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	/* Expired leases go back first: the list shows where prompts are. */
	if (!missing && spool_leases_reap(&sp) < 0)
		l.errors++;
	/* And the verdicts of forwarded jobs that the remote has. */
	if (!missing)
		op_remote_refresh(&sp);
	l.now = now_ms();
	jw_init(&l.w, &l.b);
	if (l.json)
		jw_arr(&l.w);
	for (size_t k = 0; !missing && k < sizeof(order) / sizeof(*order); k++) {
		enum state s = order[k];

		if (want >= 0 && !(want & 1 << s))
			continue;
		if (spool_each(&sp, s, 1, list_one, &l)) {
			ret = EXIT_RUNTIME;
			break;
		}
	}
	if (l.json) {
		jw_arr_end(&l.w);
		buf_addc(&l.b, '\n');
	}
	if (l.errors)
		ret = EXIT_RUNTIME; /* each said why */
	out_buf(&l.b);
	buf_release(&l.b);
	spool_release(&sp);
	return ret;
}
