/* q status, q gc, q fsck: the spool as a whole. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#include "ops.h"

struct count {
	const char *label;
	long n[ST_NSTATES];
	int64_t next_due;       /* the earliest deferred job's due time, -1 none */
};

static int count_one(struct spool *sp, const struct jobref *ref, void *data)
{
	struct count *c = data;

	if (c->label) {
		struct job job;
		int has;

		if (spool_load(sp, ref, &job, NULL))
			return 0;
		has = job_has_label(&job, c->label);
		job_release(&job);
		if (!has)
			return 0;
	}
	c->n[ref->state]++;
	if (ref->state == ST_DEFERRED) {
		int64_t due = spool_due(sp, ref);

		if (due >= 0 && (c->next_due < 0 || due < c->next_due))
			c->next_due = due;
	}
	return 0;
}

static const char *const names[6] = { "pending", "running", "completed", "failed", "cancelled",
				      "expired" };

int cmd_status(int argc, char **argv)
{
	static const struct opt opts[] = {
		{ "json", 0, 0, 1 },
		{ "label", 'l', 1, 2 },
		{ NULL, 0, 0, 0 },
	};
	struct count c = { NULL, { 0 }, -1 };
	struct spool sp;
	long v[6];
	int i = 1, id, ret, missing, json = 0, paused = 0;
	long waiter = 0, stayer = 0;
	const char *arg;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "status")) > 0) {
		if (id == 1)
			json = 1;
		else
			c.label = arg;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("status", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (!missing) {
		op_remote_refresh(&sp);
		/* Expired leases go back first: q status shows where prompts are. */
		if (spool_leases_reap(&sp) < 0) {
			spool_release(&sp);
			return EXIT_RUNTIME;
		}
		for (int s = 0; s < ST_NSTATES; s++)
			if (spool_each(&sp, s, 0, count_one, &c)) {
				spool_release(&sp);
				return EXIT_RUNTIME;
			}
		paused = spool_paused(&sp);
		waiter = spool_waiter(&sp);
		stayer = spool_stayer(&sp, NULL, 0);
	}
	/*
	 * The six statuses: pending covers deferred, waiting, held, offered
	 * and forwarded; running leased.
	 */
	v[0] = c.n[ST_PENDING] + c.n[ST_DEFERRED] + c.n[ST_WAITING] + c.n[ST_HELD] + c.n[ST_OFFERED] +
	       c.n[ST_FORWARDED];
	v[1] = c.n[ST_RUNNING] + c.n[ST_LEASED];
	v[2] = c.n[ST_DONE];
	v[3] = c.n[ST_FAILED];
	v[4] = c.n[ST_CANCELLED];
	v[5] = c.n[ST_EXPIRED];
	if (json) {
		struct buf b = BUF_INIT;
		struct jw w;

		jw_init(&w, &b);
		jw_obj(&w);
		for (int k = 0; k < 6; k++) {
			jw_key(&w, names[k]);
			jw_int(&w, v[k]);
		}
		jw_key(&w, "paused");
		jw_bool(&w, paused);
		jw_key(&w, "states");
		jw_obj(&w);
		for (int s = 0; s < ST_NSTATES; s++) {
			jw_key(&w, state_name(s));
			jw_int(&w, c.n[s]);
		}
		jw_obj_end(&w);
		jw_key(&w, "next_due");
		jw_time(&w, c.next_due);
		jw_key(&w, "waiter");
		if (waiter > 1)
			jw_int(&w, waiter);
		else
			jw_bool(&w, waiter != 0);
		jw_key(&w, "stayer");
		if (stayer > 1)
			jw_int(&w, stayer);
		else
			jw_bool(&w, stayer != 0);
		if (!missing)
			sync_status_line(&sp, &w);
		jw_obj_end(&w);
		buf_addc(&b, '\n');
		out_buf(&b);
		buf_release(&b);
	} else {
		for (int k = 0; k < 6; k++)
			printf("%s%ld %s", k ? ", " : "", v[k], names[k]);
		printf("%s\n", paused ? " (paused)" : "");
		if (c.n[ST_DEFERRED] || c.n[ST_WAITING] || c.n[ST_HELD])
			printf("pending: %ld runnable, %ld deferred, %ld waiting, %ld held\n",
			       c.n[ST_PENDING], c.n[ST_DEFERRED], c.n[ST_WAITING], c.n[ST_HELD]);
		if (c.n[ST_OFFERED] || c.n[ST_LEASED])
			printf("prompts: %ld offered to agent sessions, %ld leased\n", c.n[ST_OFFERED],
			       c.n[ST_LEASED]);
		if (c.n[ST_FORWARDED])
			printf("remote: %ld forwarded, verdict not back yet (q remote status)\n",
			       c.n[ST_FORWARDED]);
		if (c.next_due >= 0) {
			char d[32], t[TIME_LEN];
			int64_t now = now_ms();

			duration_format(c.next_due > now ? c.next_due - now : 0, d, sizeof(d));
			time_format(c.next_due, t);
			printf("next due in %s (%s); %s\n", d, t,
			       waiter ? "a worker is waiting for it"
				      : "no worker is waiting: the next q add, q worker or timer starts one");
		}
		if (!missing)
			sync_status_line(&sp, NULL);
	}
	spool_release(&sp);
	return EXIT_OK;
}

static void print_removed(const struct jobref *ref, void *arg)
{
	printf("removed %s %s\n", ref->id, state_status(ref->state));
}

static void print_problem(const char *msg, void *arg)
{
	printf("fsck: %s\n", msg);
}

int cmd_gc(int argc, char **argv)
{
	static const struct opt opts[] = { { "older-than", 0, 1, 1 }, { NULL, 0, 0, 0 } };
	struct spool sp;
	int i = 1, id, ret, missing;
	int64_t older = -1;
	const char *arg;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "gc")) > 0)
		if (duration_parse(arg, &older))
			return usage_error("gc", "bad duration '%s'", arg);
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("gc", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (!missing && spool_gc(&sp, older, print_removed, NULL))
		ret = EXIT_RUNTIME;
	spool_release(&sp);
	return ret;
}

int cmd_fsck(int argc, char **argv)
{
	static const struct opt opts[] = { { "repair", 0, 0, 1 }, { NULL, 0, 0, 0 } };
	struct spool sp;
	int i = 1, id, ret, missing, repair = 0, problems;
	const char *arg;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "fsck")) > 0)
		repair = 1;
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("fsck", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (missing) {
		spool_release(&sp);
		return EXIT_OK;
	}
	problems = spool_fsck(&sp, repair, print_problem, NULL);
	if (problems && repair) {
		printf("fsck: %d problem%s found; checking again after repair\n", problems,
		       problems == 1 ? "" : "s");
		problems = spool_fsck(&sp, 0, print_problem, NULL);
	}
	if (problems)
		printf("fsck: %d problem%s\n", problems, problems == 1 ? "" : "s");
	spool_release(&sp);
	return problems ? EXIT_NO : EXIT_OK;
}
