/*
 * q notify: make the job.on_finish calls jobs owe (notify/ID), one at a
 * time, then exit.  Started detached by whatever made a job final (and
 * by workers, for calls a crash left owing); not for people to run.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"

/* Run job.on_finish for job id in its final state; its exit status, or -1. */
static int call(struct spool *sp, const char *id, const char *status)
{
	int64_t end = mono_ms() + sp->cfg.on_finish_timeout_ms;
	int st = 0, log;
	pid_t pid, r;

	log = f_openat(sp->fd, "spool.log", O_WRONLY | O_APPEND | O_CREAT, 0600);
	pid = fork();
	if (pid < 0) {
		if (log >= 0)
			close(log);
		return error_errno("cannot start job.on_finish");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setsid();
		dup2(null, 0);
		/* Its output goes to spool.log, where people look for notes. */
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		if (chdir(sp->top))
			_exit(126);
		setenv("Q_JOB_ID", id, 1);
		setenv("Q_JOB_STATUS", status, 1);
		setenv("Q_SPOOL", sp->path, 1);
		execl("/bin/sh", "sh", "-c", sp->cfg.on_finish, "q-on-finish", id, status, (char *)NULL);
		_exit(127);
	}
	if (log >= 0)
		close(log);
	for (long delay = 2;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (mono_ms() >= end) {
			/* Never for ever: the next job's call must come too. */
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			spool_note(sp, "job.on_finish for job %s was killed after %lld ms", id,
				   (long long)sp->cfg.on_finish_timeout_ms);
			return -1;
		}
		sleep_ms(delay);
		if (delay < 100)
			delay *= 2;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	spool_note(sp, "job.on_finish for job %s (%s) exited %d", id, status,
		   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int skipped(const char *id, void *arg)
{
	const struct strv *s = arg;

	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], id))
			return 1;
	return 0;
}

/*
 * Keep in later only the jobs still not final: one that became final
 * meanwhile was moved by a process whose q notify may have found our lock
 * held and left, so we look at its note again.
 */
static void drop_final(struct spool *sp, struct strv *later)
{
	struct strv keep = { NULL, 0 };
	struct jobref ref;

	for (int i = 0; i < later->n; i++)
		if (spool_locate(sp, later->v[i], &ref) == SP_OK && !state_final(ref.state))
			strv_push(&keep, later->v[i]);
	strv_clear(later);
	*later = keep;
}

int cmd_notify(int argc, char **argv)
{
	struct spool sp;
	struct strv later = { NULL, 0 };
	int ret, missing, lock;
	char id[ID_LEN + 1];

	if (argc > 1)
		return usage_error("notify", "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	if (missing) {
		spool_release(&sp);
		return EXIT_OK;
	}
	/* One caller at a time; another one here will look at notify/ before it ends. */
	for (;;) {
		lock = f_openat(sp.fd, "notify.lock", O_RDWR | O_CREAT, 0600);
		if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB)) {
			if (lock >= 0)
				close(lock);
			break;
		}
		for (int fd; (fd = spool_notify_next(&sp, id, skipped, &later)) >= 0;) {
			struct jobref ref;
			int r = spool_locate(&sp, id, &ref);

			/*
			 * Noted but not moved yet: whoever moves it starts another
			 * q notify once it is final; leave the note for that one.
			 */
			if (r == SP_OK && !state_final(ref.state)) {
				strv_push(&later, id);
				close(fd);
				continue;
			}
			if (r == SP_OK && sp.cfg.on_finish[0])
				call(&sp, id, state_status(ref.state));
			if (spool_notify_done(&sp, id, fd))
				ret = EXIT_RUNTIME;
		}
		close(lock);
		drop_final(&sp, &later);
		if (!spool_notify_pending(&sp, skipped, &later))
			break;
	}
	strv_clear(&later);
	spool_release(&sp);
	return ret;
}
