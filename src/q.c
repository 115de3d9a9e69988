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
#include "ops.h"

#define Q_VERSION "0.1.0"

const char q_version[] = Q_VERSION;

/*
 * Each command: its name, its function, its usage line (exactly q.1's
 * SYNOPSIS line), one line of help, and its options, one per line
 * ("-x, --long ARG  what it does"), which q help COMMAND prints and
 * q completion reads.
 */
const struct cmd commands[] = {
	{ "add", cmd_add,
	  "q add [-p PRIO] [--attempts N] [--backoff BASE[:MAX]] [--timeout DUR] [--retry-timeout] "
	  "[--at TIME | --in DUR] [--deadline TIME|DUR] [--after ID]... [--key KEY] "
	  "[--secret-env NAME]... [--env NAME]... [-l LABEL]... [--queue NAME] [--hold] "
	  "[--sync | --async | --manual] [--json] {[--] CMD [ARG...] | --batch}",
	  "queue a command; print its id",
	  "-p, --priority PRIO     high, normal, low or 0-9 (0 runs first; normal = 5)\n"
	  "    --attempts N        runs before the job fails (job.attempts)\n"
	  "    --backoff BASE[:MAX]  first retry wait, doubled per attempt, and its cap\n"
	  "    --timeout DUR       time limit of an attempt (job.timeout)\n"
	  "    --retry-timeout     retry an attempt that timed out\n"
	  "    --at TIME           not before TIME (RFC 3339, @SECONDS or HH:MM[:SS])\n"
	  "    --in DUR            not before DUR from now\n"
	  "    --deadline TIME|DUR expire the job if it has not started by then\n"
	  "    --after ID          run once job ID completed (repeatable)\n"
	  "    --key KEY           add nothing while a live job has KEY; print its id\n"
	  "    --secret-env NAME   do not store NAME; the worker supplies its value\n"
	  "    --env NAME          store NAME although it looks like a secret\n"
	  "-l, --label LABEL       label the job (repeatable)\n"
	  "    --queue NAME        run at most N jobs of queue NAME at once ([queues] NAME = N)\n"
	  "    --hold              add it held, until q release\n"
	  "    --sync              run it now in the foreground; exit like q result\n"
	  "    --async             return at once; a detached worker runs it\n"
	  "    --manual            queue only; q push or q worker runs it\n"
	  "    --json              print {\"id\":...,\"duplicate\":...}\n"
	  "    --batch             one JSON array of strings (argv) per line of standard input" },
	{ "worker", cmd_worker, "q worker [--once | --watch | --stay] [-j N] [--local]",
	  "run queued jobs, then exit",
	  "    --once              exit as soon as nothing is runnable (no waiting)\n"
	  "    --watch             wait for new jobs (inotify) until worker.idle passes\n"
	  "    --stay              wait worker.stay for new jobs before exiting (q add's workers)\n"
	  "-j, --jobs N            run N jobs at once (worker.jobs)\n"
	  "    --local             with remote.url set: only this spool's own jobs, no q remote worker" },
	{ "push", cmd_push, "q push", "run every runnable job now, in the foreground", "" },
	{ "list", cmd_list, "q list [--state S] [-l LABEL] [--json]", "list jobs",
	  "    --state S           only jobs in state S (pending, deferred, waiting, held,\n"
	  "                        offered, running, leased, completed, failed, cancelled,\n"
	  "                        expired, forwarded)\n"
	  "-l, --label LABEL       only jobs with LABEL\n"
	  "    --json              a JSON array of job views" },
	{ "show", cmd_show, "q show ID [--json]", "show one job",
	  "    --json              the job view as one JSON object" },
	{ "log", cmd_log, "q log ID... [-f]", "print jobs' output",
	  "-f, --follow            follow until the jobs are final" },
	{ "events", cmd_events, "q events ID [-f]", "print a job's event log",
	  "-f, --follow            follow until the job is final" },
	{ "result", cmd_result, "q result ID... [--wait [--timeout DUR]] [--json]",
	  "print jobs' outcomes; exit 0 completed, 1 failed, 5 not finished",
	  "    --wait              wait until the jobs are final\n"
	  "    --timeout DUR       wait at most DUR (then exit 5)\n"
	  "    --json              job views instead of lines" },
	{ "wait", cmd_wait, "q wait [--timeout DUR] [--json] {ID... | --all | -l LABEL}",
	  "wait until jobs are final; print their results",
	  "    --all               until no job is pending or running (held ones excepted)\n"
	  "-l, --label LABEL       until no job with LABEL is pending or running\n"
	  "    --timeout DUR       wait at most DUR (then exit 5)\n"
	  "    --json              job views instead of lines" },
	{ "cancel", cmd_cancel, "q cancel ID...", "cancel pending or running jobs", "" },
	{ "retry", cmd_retry, "q retry ID", "run a failed, cancelled or expired job again", "" },
	{ "hold", cmd_hold, "q hold ID", "park a pending job", "" },
	{ "release", cmd_release, "q release ID", "unpark a held job; give back a leased prompt", "" },
	{ "pause", cmd_pause, "q pause", "stop workers from starting jobs", "" },
	{ "resume", cmd_resume, "q resume", "let workers start jobs again", "" },
	{ "progress", cmd_progress, "q progress PCT [MESSAGE]", "inside a job: report progress", "" },
	{ "status", cmd_status, "q status [-l LABEL] [--json]",
	  "count jobs by status; when the next one is due",
	  "-l, --label LABEL       only jobs with LABEL\n"
	  "    --json              counts, states, next_due and waiter as JSON" },
	{ "watch", cmd_watch, "q watch [--events] [-l LABEL]", "live view of the spool",
	  "    --events            every event of every job as JSON lines, as it happens\n"
	  "-l, --label LABEL       only jobs with LABEL" },
	{ "gc", cmd_gc, "q gc [--older-than DUR]", "remove old finished jobs",
	  "    --older-than DUR    remove finished jobs older than DUR, whatever gc.* say" },
	{ "fsck", cmd_fsck, "q fsck [--repair]", "check (and repair) the spool",
	  "    --repair            repair what can be repaired, then check again" },
	{ "mcp", cmd_mcp, "q mcp", "serve MCP on standard input and output (for agents)",
	  "Tools: start_job, poll_job, wait_job, cancel_job, list_jobs, tail_job; MCP Tasks.\n"
	  "Exec jobs are refused unless mcp.exec allows them (Q_MCP_EXEC=all)." },
	{ "git", cmd_git,
	  "q git clone URL [DIR] [-b BRANCH] [JOB-OPTION]...\n"
	  "   or: q git fetch [REMOTE] [JOB-OPTION]...\n"
	  "   or: q git pull [REMOTE [BRANCH]] [JOB-OPTION]...\n"
	  "   or: q git push [REMOTE [REFSPEC...]] [JOB-OPTION]...\n"
	  "   or: q git worktree add PATH [BRANCH] [JOB-OPTION]...\n"
	  "   or: q git worktree remove PATH [JOB-OPTION]...",
	  "queue a git clone, fetch, pull, push or worktree job",
	  "-b, --branch BRANCH     clone: the branch to check out\n"
	  "                        JOB-OPTION: any option of q add (see q help add)" },
	/* Agent sessions: prompts they lease, and the hooks of Claude Code and Goose. */
	{ "prompt", cmd_prompt,
	  "q prompt [-p PRIO] [--attempts N] [--at TIME | --in DUR] [--deadline TIME|DUR] "
	  "[--after ID]... [--key KEY] [-l LABEL]... [--hold] [--json] [--] [TEXT...]",
	  "queue a prompt for an agent session; print its id",
	  "-p, --priority PRIO     high, normal, low or 0-9 (0 is leased first)\n"
	  "    --attempts N        leases that may expire before it fails (agent.attempts)\n"
	  "    --at TIME           not before TIME (RFC 3339, @SECONDS or HH:MM[:SS])\n"
	  "    --in DUR            not before DUR from now\n"
	  "    --deadline TIME|DUR expire the prompt if no session has taken it by then\n"
	  "    --after ID          offer it once job ID completed (repeatable)\n"
	  "    --key KEY           add nothing while a live job has KEY; print its id\n"
	  "-l, --label LABEL       label the prompt (repeatable)\n"
	  "    --hold              add it held, until q release\n"
	  "    --json              print {\"id\":...,\"duplicate\":...}" },
	{ "next", cmd_next, "q next [--take] [--json]",
	  "show the prompt leased to this agent session ($Q_SESSION)",
	  "    --take              if it holds none, lease it the next queued prompt\n"
	  "    --json              the prompt's job view as JSON" },
	{ "done", cmd_done, "q done ID [--note TEXT]", "record a prompt as done",
	  "    --note TEXT         what came of it: the prompt's result" },
	{ "fail", cmd_fail, "q fail ID [--note TEXT]", "record a prompt as failed",
	  "    --note TEXT         why: the prompt's result" },
	{ "hook", cmd_hook, "q hook {claude | goose}",
	  "an agent's hook: read its event on stdin, answer on stdout", "" },
	{ "completion", cmd_completion, "q completion {bash | zsh | fish}",
	  "print a shell completion script", "" },
	{ "gh", cmd_gh,
	  "q gh api METHOD PATH [-f KEY=VALUE]... [--input FILE] [GH-OPTIONS]\n"
	  "   or: q gh issue create --title TITLE [--body BODY] [--label NAME]... "
	  "[--assignee LOGIN]... [GH-OPTIONS]\n"
	  "   or: q gh issue edit REF [--title TITLE] [--body BODY] [--add-label NAME]... "
	  "[--remove-label NAME]... [--add-assignee LOGIN]... [--remove-assignee LOGIN]... "
	  "[GH-OPTIONS]\n"
	  "   or: q gh issue close REF [--reason completed|not_planned] [GH-OPTIONS]\n"
	  "   or: q gh issue comment REF --body BODY [GH-OPTIONS]\n"
	  "   or: q gh label add|remove REF NAME [GH-OPTIONS]\n"
	  "GH-OPTIONS: [--repo [HOST/]OWNER/REPO] [--sync | --async | --manual] [--json]\n"
	  "REF: an issue number, or the id of the job that creates the issue",
	  "queue a GitHub API call (issues, comments, labels); print its id",
	  "-R, --repo [HOST/]OWNER/REPO  the repository (default: the remote origin's)\n"
	  "-t, --title TITLE       issue create, issue edit: the title\n"
	  "-b, --body BODY         issue create, edit, comment: the text\n"
	  "-l, --label NAME        issue create: a label (again for more)\n"
	  "-a, --assignee LOGIN    issue create: an assignee (again for more)\n"
	  "    --add-label NAME    issue edit: add a label\n"
	  "    --remove-label NAME issue edit: take a label off\n"
	  "    --add-assignee LOGIN     issue edit: add an assignee\n"
	  "    --remove-assignee LOGIN  issue edit: take an assignee off\n"
	  "    --reason completed|not_planned  issue close: why\n"
	  "-f, --field KEY=VALUE   api: a field (a GET's query, else the JSON body)\n"
	  "    --input FILE        api: the body, as it is (- reads standard input)\n"
	  "    --sync              send it now; print what GitHub said\n"
	  "    --async             send it in the background (sync.mode's default)\n"
	  "    --manual            only queue it: q push sends it\n"
	  "    --json              print {\"id\":\"ID\"}" },
	{ "sync", cmd_sync, "q sync status [--json]\n   or: q sync retry ID|--all",
	  "GitHub jobs: what is pending, sent, failed; send failed ones again",
	  "    --json              status: the counts, jobs and hosts as JSON\n"
	  "    --all               retry: every failed or deferred GitHub job" },
	{ "remote", cmd_remote,
	  "q remote init\n"
	  "   or: q remote status [--json]\n"
	  "   or: q remote sync [--verdicts]\n"
	  "   or: q remote worker [--once | --watch] [-j N]\n"
	  "   or: q remote cancel ID...\n"
	  "   or: q remote hold ID...\n"
	  "   or: q remote release ID...\n"
	  "   or: q remote show [--json] ID\n"
	  "   or: q remote log ID\n"
	  "   or: q remote fsck",
	  "share the queue with other hosts through PostgreSQL (remote.url)",
	  "    --json              status, show: as JSON\n"
	  "    --verdicts          sync: only bring verdicts back (forward nothing)\n"
	  "    --once              worker: exit as soon as nothing is runnable\n"
	  "    --watch             worker: wait for new jobs until worker.idle passes\n"
	  "-j, --jobs N            worker: run N jobs at once (worker.jobs)" },
	{ "help", cmd_help, "q help [COMMAND]", "show this help", "" },
	{ NULL, NULL, NULL, NULL, NULL },
};

/* Commands q starts for itself: not listed, not for people. */
static const struct cmd internal[] = {
	{ "notify", cmd_notify, "q notify", "make the job.on_finish calls jobs owe", "" },
	{ NULL, NULL, NULL, NULL, NULL },
};

int cmd_help(int argc, char **argv)
{
	if (argc > 1) {
		for (const struct cmd *c = commands; c->name; c++)
			if (!strcmp(c->name, argv[1])) {
				printf("usage: %s\n\n%s\n", c->usage, c->help);
				if (c->options && *c->options)
					printf("\n%s\n", c->options);
				return EXIT_OK;
			}
		error("no command '%s'", argv[1]);
		return EXIT_USAGE;
	}
	printf("usage: q [-C DIR] COMMAND [ARGS]\n\n"
	       "q queues commands in .idlergear/spool and runs them later in a\n"
	       "short-lived worker.  Commands:\n\n");
	for (const struct cmd *c = commands; c->name; c++)
		printf("  %-10s %s\n", c->name, c->help);
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

	spool_notify_hook = op_spawn_notifier;
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
	for (const struct cmd *c = internal; c->name; c++)
		if (!strcmp(c->name, argv[i]))
			return finish(c->fn(argc - i, argv + i));
	error("no command '%s' (see 'q --help')", argv[i]);
	return EXIT_USAGE;
}
