/* q worker and q push: run jobs. */
#include "cmd.h"

#include <stdio.h>

#include "worker.h"

enum { O_ONCE = 1, O_WATCH, O_JOBS };

static const struct opt opts[] = {
	{ "once", 0, 0, O_ONCE },
	{ "watch", 0, 0, O_WATCH },
	{ "jobs", 'j', 1, O_JOBS },
	{ NULL, 0, 0, 0 },
};

int cmd_worker(int argc, char **argv)
{
	struct worker_opts o = { 0, 0, 0, 0, NULL };
	struct worker_stats stats;
	struct spool sp;
	int i = 1, id, ret, missing;
	const char *arg;
	long long n = 0;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "worker")) > 0) {
		if (id == O_ONCE)
			o.once = 1;
		else if (id == O_WATCH)
			o.watch = 1;
		else if (id == O_JOBS && parse_int(arg, 1, 256, &n))
			return usage_error("worker", "bad job count '%s': want 1-256", arg);
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("worker", "unexpected argument '%s'", argv[i]);
	if (o.once && o.watch)
		return usage_error("worker", "--once and --watch exclude each other");
	if ((ret = cmd_open(&sp, o.watch, &missing)))
		return ret;
	if (missing) {
		spool_release(&sp);
		return EXIT_OK; /* nothing was ever queued */
	}
	o.jobs = n ? (int)n : (int)sp.cfg.worker_jobs;
	if (spool_paused(&sp) && !o.watch)
		fprintf(stderr, "q: spool is paused; not running jobs (q resume)\n");
	ret = worker_run(&sp, &o, &stats) ? EXIT_RUNTIME : EXIT_OK;
	spool_release(&sp);
	return ret;
}

int cmd_push(int argc, char **argv)
{
	/* Not --once: retries that come due within worker.linger run too. */
	struct worker_opts o = { 0, 0, 1, 1, NULL };
	struct worker_stats stats;
	struct spool sp;
	int ret, missing;

	if (argc > 1)
		return usage_error("push", "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (missing) {
		printf("0 completed, 0 failed\n");
		spool_release(&sp);
		return EXIT_OK;
	}
	if (spool_paused(&sp)) {
		spool_release(&sp);
		error("spool is paused (q resume)");
		return EXIT_RUNTIME;
	}
	o.jobs = (int)sp.cfg.worker_jobs;
	ret = worker_run(&sp, &o, &stats) ? EXIT_RUNTIME : EXIT_OK;
	printf("%ld completed, %ld failed\n", stats.completed, stats.failed);
	spool_release(&sp);
	if (ret)
		return ret;
	return stats.failed ? EXIT_NO : EXIT_OK;
}
