/* q worker and q push: run jobs. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "worker.h"

enum { O_ONCE = 1, O_WATCH, O_JOBS, O_LOCAL, O_STAY };

static const struct opt opts[] = {
	{ "once", 0, 0, O_ONCE },
	{ "watch", 0, 0, O_WATCH },
	{ "jobs", 'j', 1, O_JOBS },
	{ "local", 0, 0, O_LOCAL },
	{ "stay", 0, 0, O_STAY },
	{ NULL, 0, 0, 0 },
};

int cmd_worker(int argc, char **argv)
{
	struct worker_opts o = { .slot = -1, .kick = op_spawn_worker_anyway };
	const char *fd = getenv("Q_SLOT_FD");
	struct worker_stats stats;
	struct spool sp;
	int i = 1, id, ret, missing, local = 0;
	const char *arg;
	long long n = 0;
	char jobs[24], key[17], *rargv[5] = { "worker", NULL, NULL, NULL, NULL };
	int rargc = 1;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "worker")) > 0) {
		if (id == O_ONCE)
			o.once = 1;
		else if (id == O_WATCH)
			o.watch = 1;
		else if (id == O_JOBS && parse_int(arg, 1, 256, &n))
			return usage_error("worker", "bad job count '%s': want 1-256", arg);
		else if (id == O_LOCAL)
			local = 1;
		else if (id == O_STAY)
			o.stay = 1;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("worker", "unexpected argument '%s'", argv[i]);
	if (o.once + o.watch + o.stay > 1)
		return usage_error("worker", "--once, --watch and --stay exclude each other");
	if ((ret = cmd_open(&sp, o.watch, &missing)))
		return ret;
	if (missing) {
		spool_release(&sp);
		return EXIT_OK; /* nothing was ever queued */
	}
	o.jobs = n ? (int)n : (int)sp.cfg.worker_jobs;
	/* The slot a q add took for us, if it really is one of this spool's. */
	if (fd) {
		long long v;

		if (!parse_int(fd, 3, 1 << 20, &v))
			o.slot = spool_slot_adopt(&sp, (int)v, (int)sp.cfg.worker_max);
		unsetenv("Q_SLOT_FD");
	}
	if (spool_paused(&sp) && !o.watch)
		fprintf(stderr, "q: spool is paused; not running jobs (q resume)\n");
	/*
	 * With a remote, commands are the remote's: this spool's other jobs
	 * run here first, then q remote worker forwards and runs the shared
	 * queue.  Under --watch q remote worker serves the remote only (it
	 * waits out a pause); q worker --local --watch beside it serves the
	 * spool's typed jobs.
	 */
	local = local || !sp.cfg.remote_url[0];
	/*
	 * No staying with a remote (commands are q remote worker's: a local
	 * stayer would stand in for adds it cannot serve), nor inside a job
	 * (its supervisor kills what the job leaves when it ends).
	 */
	o.stay = o.stay && !sp.cfg.remote_url[0] && !getenv("Q_JOB_ID");
	if (o.stay) {
		op_worker_key(&sp, key);
		o.key = key;
	}
	if (!local) {
		if (o.once)
			rargv[rargc++] = "--once";
		if (o.watch)
			rargv[rargc++] = "--watch";
		snprintf(jobs, sizeof(jobs), "%d", o.jobs);
		rargv[rargc++] = "--jobs";
		rargv[rargc++] = jobs;
	}
	ret = !local && o.watch ? EXIT_OK : worker_run(&sp, &o, &stats) ? EXIT_RUNTIME : EXIT_OK;
	/* A paused spool sends nothing to the remote either (--watch waits for a resume there). */
	local = local || (!o.watch && spool_paused(&sp));
	spool_release(&sp);
	if (!local && ret == EXIT_OK)
		return op_remote_exec(rargc, rargv);
	return ret;
}

struct push {
	struct spool *sp;
	struct sync_push github;   /* the progress of GitHub jobs */
};

/* q push prints a line per attempt: ok, FAIL or wait, the id, the command, the time. */
static void print_done(const struct worker_done *d, void *arg)
{
	struct push *p = arg;

	struct buf b = BUF_INIT;
	char dur[32];

	duration_format(d->elapsed_ms, dur, sizeof(dur));
	buf_addf(&b, "%s %s ", d->to == ST_DONE ? "ok" : d->to == ST_DEFERRED ? "wait" : "FAIL",
		 d->job->id);
	job_describe(&b, d->job, 60);
	if (d->to != ST_DONE) {
		if (d->to == ST_CANCELLED)
			buf_adds(&b, " cancelled");
		else if (d->error && (!strcmp(d->error, "timeout") || !strcmp(d->error, "spawn_failed")))
			buf_addf(&b, " %s", d->error);
		else if (d->signal)
			buf_addf(&b, " signal %d", d->signal);
		else if (d->exit_code >= 0)
			buf_addf(&b, " exit %d", d->exit_code);
		if (d->to == ST_DEFERRED)
			buf_adds(&b, ", will retry");
	}
	printf("%s (%s)\n", b.s, dur);
	sync_push_progress(p->sp, d, &p->github);
	fflush(stdout);
	buf_release(&b);
}

int cmd_push(int argc, char **argv)
{
	/* Not --once: retries that come due within worker.linger run too. */
	struct worker_opts o = { .jobs = 1, .push = 1, .done = print_done, .slot = -1 };
	struct worker_stats stats;
	struct spool sp;
	struct push p = { &sp, { 0, 0, 0 } };
	int ret, missing;
	long unsent;

	o.arg = &p;
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
	p.github.total = sync_push_prepare(&sp);
	ret = p.github.total < 0 ? EXIT_RUNTIME : EXIT_OK;
	if (worker_run(&sp, &o, &stats))
		ret = EXIT_RUNTIME;
	/* GitHub jobs must all land: those still queued are named, and push says no. */
	unsent = sync_push_unsent(&sp);
	printf("%ld completed, %ld failed", stats.completed, stats.failed);
	printf(unsent ? ", %ld unsent\n" : "\n", unsent);
	spool_release(&sp);
	if (ret)
		return ret;
	return stats.failed || unsent ? EXIT_NO : EXIT_OK;
}
