/* q wait: until jobs are final. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

enum { O_ALL = 1, O_LABEL, O_TIMEOUT, O_JSON };

static const struct opt opts[] = {
	{ "all", 0, 0, O_ALL },
	{ "label", 'l', 1, O_LABEL },
	{ "timeout", 0, 1, O_TIMEOUT },
	{ "json", 0, 0, O_JSON },
	{ NULL, 0, 0, 0 },
};

struct live {
	const char *label;
	struct jobref *seen;    /* every job waited for, in the order seen */
	int nseen, live;
};

/* Jobs not final yet (held ones excepted: nothing runs them) matching the label. */
static int note_live(struct spool *sp, const struct jobref *ref, void *data)
{
	struct live *l = data;
	int known = 0;

	if (l->label) {
		struct job job;

		if (spool_load(sp, ref, &job, NULL))
			return 0; /* gone meanwhile, or unreadable: not ours to wait for */
		known = job_has_label(&job, l->label);
		job_release(&job);
		if (!known)
			return 0;
	}
	l->live++;
	for (int i = 0; i < l->nseen; i++)
		if (!strcmp(l->seen[i].id, ref->id))
			return 0;
	l->seen = xrealloc(l->seen, (l->nseen + 1) * sizeof(*l->seen));
	l->seen[l->nseen++] = *ref;
	return 0;
}

/*
 * Look at the live states once; -1 on error.  A job that moves while the
 * directories are read can be missed: every job seen in an earlier look
 * that is not final yet counts as live too.
 */
static int scan(struct spool *sp, struct live *l)
{
	static const enum state live[] = { ST_RUNNING, ST_PENDING, ST_DEFERRED, ST_WAITING };
	int seen = l->nseen;

	l->live = 0;
	for (size_t i = 0; i < sizeof(live) / sizeof(*live); i++)
		if (spool_each(sp, live[i], 0, note_live, l))
			return -1;
	for (int k = 0; k < seen && !l->live; k++) {
		struct jobref ref;

		if (spool_locate(sp, l->seen[k].id, &ref) == SP_OK)
			for (size_t i = 0; i < sizeof(live) / sizeof(*live); i++)
				l->live += ref.state == live[i];
	}
	return 0;
}

int cmd_wait(int argc, char **argv)
{
	struct strv ids = { NULL, 0 };
	struct live l = { NULL, NULL, 0, 0 };
	struct jobref *refs = NULL;
	struct spool sp;
	int i = 1, id, all = 0, json = 0, ret = EXIT_OK, timedout = 0, missing;
	int64_t timeout = -1, end;
	const char *arg;

	while ((id = opt_mixed(argc, argv, &i, opts, &arg, "wait")) > 0) {
		if (id == OPT_OPERAND)
			strv_push(&ids, arg);
		else if (id == O_ALL)
			all = 1;
		else if (id == O_JSON)
			json = 1;
		else if (id == O_LABEL)
			l.label = arg;
		else if (duration_parse(arg, &timeout)) {
			ret = usage_error("wait", "bad duration '%s'", arg);
			goto out;
		}
	}
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (!ids.n == !(all || l.label)) {
		ret = usage_error("wait", ids.n ? "give ids, or --all / --label, not both"
					      : "no job id given (or --all, --label)");
		goto out;
	}
	end = timeout >= 0 ? mono_ms() + timeout : -1;
	if (ids.n) {
		if ((ret = cmd_open_jobs(&sp, &ids, &refs)))
			goto out;
		for (int k = 0; k < ids.n; k++) {
			int64_t left = end < 0 ? -1 : end - mono_ms();
			int r = op_wait(&sp, &refs[k], end >= 0 && left < 0 ? 0 : left, NULL, NULL);

			if (r < 0) {
				error("job '%s' vanished", refs[k].id);
				ret = exit_worse(ret, EXIT_NOJOB);
			}
			timedout |= r > 0;
		}
		ret = exit_worse(ret, print_results(&sp, refs, ids.n, json));
		spool_release(&sp);
		goto out;
	}
	/* --all, --label: until no such job is live, however many come meanwhile. */
	if ((ret = cmd_open(&sp, 0, &missing)))
		goto out;
	for (long delay = 5; !missing;) {
		if (scan(&sp, &l)) {
			ret = EXIT_RUNTIME;
			break;
		}
		if (!l.live)
			break;
		if (end >= 0 && mono_ms() >= end) {
			timedout = 1;
			break;
		}
		sleep_ms(delay);
		if (delay < 200)
			delay *= 2;
	}
	/* Where every job went (locate again: they moved since). */
	for (int k = 0; k < l.nseen; k++)
		if (spool_locate(&sp, l.seen[k].id, &l.seen[k]) != SP_OK)
			l.seen[k].state = ST_DONE; /* removed by gc: it had finished */
	if (l.nseen && ret == EXIT_OK)
		ret = print_results(&sp, l.seen, l.nseen, json);
	else if (json && ret == EXIT_OK)
		printf("[]\n");
	if (!missing)
		spool_release(&sp);
out:
	if (timedout && (ret == EXIT_OK || ret == EXIT_NO))
		ret = EXIT_PENDING;
	free(refs);
	free(l.seen);
	strv_clear(&ids);
	return ret;
}
