/* q status, q gc, q fsck: the spool as a whole. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

/* Counts by status: pending covers deferred, waiting and held. */
static int counts(struct spool *sp, long c[6])
{
	long n[ST_NSTATES];

	if (spool_count(sp, n))
		return -1;
	c[0] = n[ST_PENDING] + n[ST_DEFERRED] + n[ST_WAITING] + n[ST_HELD];
	c[1] = n[ST_RUNNING];
	c[2] = n[ST_DONE];
	c[3] = n[ST_FAILED];
	c[4] = n[ST_CANCELLED];
	c[5] = n[ST_EXPIRED];
	return 0;
}

static const char *const names[6] = { "pending", "running", "completed", "failed", "cancelled",
				      "expired" };

int cmd_status(int argc, char **argv)
{
	struct spool sp;
	long c[6] = { 0 };
	int ret, missing, json = 0, paused = 0;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		json = 1;
	else if (argc > 1)
		return usage_error("status", argv[1][0] == '-' ? "unknown option '%s'"
							       : "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (!missing) {
		if (counts(&sp, c)) {
			spool_release(&sp);
			return EXIT_RUNTIME;
		}
		paused = spool_paused(&sp);
	}
	if (json) {
		struct buf b = BUF_INIT;
		struct jw w;

		printf("{");
		for (int i = 0; i < 6; i++)
			printf("\"%s\":%ld,", names[i], c[i]);
		jw_init(&w, &b);
		/* Members of the object printed around them, without a comma first. */
		w.depth = 1;
		w.need_comma[1] = 0;
		if (!missing)
			sync_status_line(&sp, &w);
		out_buf(&b);
		buf_release(&b);
		printf("%s\"paused\":%s}\n", missing ? "" : ",", paused ? "true" : "false");
	} else {
		for (int i = 0; i < 6; i++)
			printf("%s%ld %s", i ? ", " : "", c[i], names[i]);
		printf("%s\n", paused ? " (paused)" : "");
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
