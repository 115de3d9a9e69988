/*
 * q: a daemonless job queue.
 *
 * main parses the global options, dispatches to one command from the
 * table below, and checks that standard output was written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"

#define Q_VERSION "0.1.0"

const struct cmd commands[] = {
	{ "add", cmd_add,
	  "q add [-p PRIO] [--attempts N] [--backoff BASE[:MAX]] [--timeout DUR] [--retry-timeout] "
	  "[--at TIME | --in DUR] [--deadline TIME|DUR] [--after ID]... [--key KEY] "
	  "[--secret-env NAME]... [--env NAME]... [--hold] [--sync | --async | --manual] [--json] [--] CMD [ARG...]",
	  "queue a command; print its id" },
	{ "worker", cmd_worker, "q worker [--once] [--watch] [-j N]", "run queued jobs, then exit" },
	{ "push", cmd_push, "q push", "run every runnable job now, in the foreground" },
	{ "list", cmd_list, "q list [--state S] [--json]", "list jobs" },
	{ "show", cmd_show, "q show ID [--json]", "show one job" },
	{ "log", cmd_log, "q log ID [-f]", "print a job's output" },
	{ "events", cmd_events, "q events ID [-f]", "print a job's event log" },
	{ "result", cmd_result, "q result ID [--wait [--timeout DUR]] [--json]",
	  "print a job's outcome; exit 0 completed, 1 failed, 5 not finished" },
	{ "cancel", cmd_cancel, "q cancel ID", "cancel a pending or running job" },
	{ "retry", cmd_retry, "q retry ID", "run a failed, cancelled or expired job again" },
	{ "hold", cmd_hold, "q hold ID", "park a pending job" },
	{ "release", cmd_release, "q release ID", "unpark a held job" },
	{ "pause", cmd_pause, "q pause", "stop workers from starting jobs" },
	{ "resume", cmd_resume, "q resume", "let workers start jobs again" },
	{ "progress", cmd_progress, "q progress PCT [MESSAGE]", "inside a job: report progress" },
	{ "status", cmd_status, "q status [--json]", "count jobs by status" },
	{ "watch", cmd_watch, "q watch", "live view of the spool" },
	{ "gc", cmd_gc, "q gc [--older-than DUR]", "remove old finished jobs" },
	{ "fsck", cmd_fsck, "q fsck [--repair]", "check (and repair) the spool" },
	{ "git", cmd_git,
	  "q git clone URL [DIR] [-b BRANCH] [JOB-OPTION]...\n"
	  "   or: q git fetch [REMOTE] [JOB-OPTION]...\n"
	  "   or: q git pull [REMOTE [BRANCH]] [JOB-OPTION]...\n"
	  "   or: q git push [REMOTE [REFSPEC...]] [JOB-OPTION]...\n"
	  "   or: q git worktree add PATH [BRANCH] [JOB-OPTION]...\n"
	  "   or: q git worktree remove PATH [JOB-OPTION]...",
	  "queue a git clone, fetch, pull, push or worktree job" },
	{ "help", cmd_help, "q help [COMMAND]", "show this help" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_help(int argc, char **argv)
{
	if (argc > 1) {
		for (const struct cmd *c = commands; c->name; c++)
			if (!strcmp(c->name, argv[1])) {
				printf("usage: %s\n\n%s\n", c->usage, c->help);
				return EXIT_OK;
			}
		error("no command '%s'", argv[1]);
		return EXIT_USAGE;
	}
	printf("usage: q [-C DIR] COMMAND [ARGS]\n\n"
	       "q queues commands in .idlergear/spool and runs them later in a\n"
	       "short-lived worker.  Commands:\n\n");
	for (const struct cmd *c = commands; c->name; c++)
		printf("  %-9s %s\n", c->name, c->help);
	printf("\n'q help COMMAND' shows a command's options; 'man q' has the rest.\n");
	return EXIT_OK;
}

static int finish(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		if (errno != EPIPE)
			error_errno("cannot write to standard output");
		return status ? status : EXIT_RUNTIME;
	}
	return status;
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-C")) {
			if (i + 1 >= argc) {
				error("option '-C' needs a directory");
				return EXIT_USAGE;
			}
			if (chdir(argv[i + 1])) {
				error_errno("cannot change to directory '%s'", argv[i + 1]);
				return EXIT_USAGE;
			}
			i += 2;
		} else if (!strncmp(argv[i], "-C", 2)) {
			if (chdir(argv[i] + 2)) {
				error_errno("cannot change to directory '%s'", argv[i] + 2);
				return EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			return finish(cmd_help(1, argv));
		} else if (!strcmp(argv[i], "--version")) {
			printf("q %s\n", Q_VERSION);
			return finish(EXIT_OK);
		} else {
			error("unknown option '%s'", argv[i]);
			fprintf(stderr, "usage: q [-C DIR] COMMAND [ARGS]\n");
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cmd_help(1, argv);
		return finish(EXIT_USAGE);
	}
	for (const struct cmd *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[i]))
			continue;
		if (argc - i == 2 && (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h"))) {
			char *help[] = { "help", argv[i], NULL };

			return finish(cmd_help(2, help));
		}
		return finish(c->fn(argc - i, argv + i));
	}
	error("no command '%s' (see 'q --help')", argv[i]);
	return EXIT_USAGE;
}
