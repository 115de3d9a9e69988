/*
 * q-remote: several hosts drain one queue through PostgreSQL
 * (remote-format.md).  bin/q runs it for `q remote COMMAND`, and after
 * `q worker` when remote.url is set.
 *
 *  - The local spool stays the outbox: q add writes it as always, and
 *    the forwarder moves each job to forwarded/, then inserts it into
 *    the database (idempotent by (origin, id)).  A crash between the two
 *    leaves it unsent, and the next q-remote sends it.
 *  - Workers claim with FOR UPDATE SKIP LOCKED and hold a session
 *    advisory lock on each job they run, in the session whose socket
 *    the job's supervisor also keeps open: the lock is free only when
 *    the worker and the supervisor (hence the job) are gone.  A running
 *    job whose lock anyone can take has lost its worker and is
 *    recovered (q.rescue), guarded by the attempt seen.
 *  - Every transition is one SQL function: its guarded UPDATE and its
 *    event rows commit together.  No transaction stays open while a
 *    job runs.
 *  - Verdicts come back: final jobs of this origin are mirrored into
 *    the spool (events, output, result) and moved to their final
 *    directory, so q show, q result and q log work offline afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "remote/remote.h"

static const char *const usage_text =
	"usage: q remote init\n"
	"       q remote status [--json]\n"
	"       q remote sync [--verdicts]\n"
	"       q remote worker [--once | --watch] [--jobs N]\n"
	"       q remote cancel ID...\n"
	"       q remote hold ID...\n"
	"       q remote release ID...\n"
	"       q remote show [--json] ID\n"
	"       q remote log ID\n"
	"       q remote fsck\n";

int remote_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "q: remote: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'q help remote')\n");
	return EXIT_USAGE;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	static struct remote r;
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int ret;

	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, cmd ? stdout : stderr);
		return cmd ? EXIT_OK : EXIT_USAGE;
	}
	if (strcmp(cmd, "init") && strcmp(cmd, "status") && strcmp(cmd, "sync") &&
	    strcmp(cmd, "worker") && strcmp(cmd, "cancel") && strcmp(cmd, "show") &&
	    strcmp(cmd, "log") && strcmp(cmd, "fsck") && strcmp(cmd, "hold") &&
	    strcmp(cmd, "release"))
		return remote_usage("unknown command '%s'", cmd);
	/* Verdicts brought back owe their job.on_finish calls: q (bin/q) makes them. */
	if (getenv("Q_BIN") && getenv("Q_BIN")[0] == '/') {
		op_q_path = getenv("Q_BIN");
		spool_notify_hook = op_spawn_notifier;
	}
	if ((ret = remote_open(&r)))
		return ret;
	r.resend = 1;
	r.local_due = -1;
	if (!strcmp(cmd, "init")) {
		ret = argc > 2 ? remote_usage("unexpected argument '%s'", argv[2]) : remote_init(&r);
	} else if (!strcmp(cmd, "status")) {
		int json = argc > 2 && !strcmp(argv[2], "--json");

		ret = argc > 2 + json ? remote_usage("unexpected argument '%s'", argv[2 + json]) :
					remote_status(&r, json);
	} else if (!strcmp(cmd, "sync")) {
		int back = argc > 2 && !strcmp(argv[2], "--verdicts");

		ret = argc > 2 + back ? remote_usage("unexpected argument '%s'", argv[2 + back]) :
					remote_sync(&r, back);
	} else if (!strcmp(cmd, "worker")) {
		struct wopts o = { 0, 0, (int)r.sp.cfg.worker_jobs };

		ret = EXIT_OK;
		for (int i = 2; i < argc && !ret; i++) {
			long long n;

			if (!strcmp(argv[i], "--once"))
				o.once = 1;
			else if (!strcmp(argv[i], "--watch"))
				o.watch = 1;
			else if ((!strcmp(argv[i], "--jobs") || !strcmp(argv[i], "-j")) && i + 1 < argc) {
				if (parse_int(argv[++i], 1, MAX_RUN, &n))
					ret = remote_usage("bad job count '%s': want 1-256", argv[i]);
				o.jobs = (int)n;
			} else {
				ret = remote_usage("unexpected argument '%s'", argv[i]);
			}
		}
		if (!ret && o.once && o.watch)
			ret = remote_usage("%s", "--once and --watch exclude each other");
		if (!ret)
			ret = remote_worker(&r, &o);
	} else if (!strcmp(cmd, "cancel")) {
		ret = remote_cancel(&r, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "hold")) {
		ret = remote_hold(&r, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "release")) {
		ret = remote_release(&r, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "show")) {
		ret = remote_show(&r, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "log")) {
		ret = remote_log(&r, argc - 2, argv + 2);
	} else {
		ret = argc > 2 ? remote_usage("unexpected argument '%s'", argv[2]) : remote_fsck(&r);
	}
	pg_close(r.pg);
	spool_release(&r.sp);
	if (fflush(stdout) || ferror(stdout)) {
		error_errno("cannot write to standard output");
		ret = ret ? ret : EXIT_RUNTIME;
	}
	return ret;
}
