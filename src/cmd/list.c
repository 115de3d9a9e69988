/* q list: one line per job. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

enum { O_STATE = 1, O_JSON };

static const struct opt opts[] = {
	{ "state", 0, 1, O_STATE },
	{ "json", 0, 0, O_JSON },
	{ NULL, 0, 0, 0 },
};

struct list_ctx {
	int json, errors;
	struct jw w;
	struct buf b;
	int64_t now;
};

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
	if (l->json) {
		view_json(&l->w, &v);
	} else {
		duration_format(l->now - v.job.created_at, age, sizeof(age));
		buf_addf(&l->b, "%s  %-9s %7s  ", v.job.id,
			 v.ref.state == ST_HELD ? "held" : state_status(v.ref.state), age);
		job_describe(&l->b, &v.job, 60);
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
	static const enum state order[] = { ST_RUNNING, ST_PENDING, ST_DEFERRED, ST_WAITING, ST_HELD,
					    ST_DONE, ST_FAILED, ST_CANCELLED, ST_EXPIRED };

	while ((id = opt_next(argc, argv, &i, opts, &arg, "list")) > 0) {
		if (id == O_JSON)
			l.json = 1;
		else if ((want = status_parse(arg)) < 0)
			return usage_error("list", "bad state '%s': want pending, running, completed, "
					   "failed, cancelled or expired", arg);
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("list", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	l.now = now_ms();
	jw_init(&l.w, &l.b);
	if (l.json)
		jw_arr(&l.w);
	for (size_t k = 0; !missing && k < sizeof(order) / sizeof(*order); k++) {
		enum state s = order[k];

		if (want >= 0 && strcmp(state_status(s), (const char *[]){ "pending", "running", "completed",
			"failed", "cancelled", "expired" }[want]))
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
