/*
 * supervise.c: the process that runs one attempt of a job and ends only
 * when nothing of it is alive.  See supervise.h.
 */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event.h"
#include "proc.h"
#include "util.h"

extern char **environ;

static void sup_send(int fd, const struct sup_msg *m)
{
	/* Nobody may read it (the worker died): that is fine. */
	if (write(fd, m, sizeof(*m)) != sizeof(*m))
		return;
}

/*
 * The command: its own process group, killed if its supervisor dies.
 * Never returns.  If it cannot start, errno goes to fail (close-on-exec,
 * so the supervisor reads end-of-file when the exec succeeded).
 */
static void exec_command(const struct sup *s, pid_t sup, int fail)
{
	sigset_t none;
	int e, null = -1;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != sup)
		_exit(125);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* What the worker and the supervisor ignore; handlers go with exec. */
	signal(SIGPIPE, SIG_DFL);
	if (s->in < 0)
		null = open("/dev/null", O_RDONLY);
	if (dup2(s->in >= 0 ? s->in : null, 0) < 0 || dup2(s->logfd, 1) < 0 || dup2(s->logfd, 2) < 0) {
		e = errno;
		goto fail;
	}
	if (chdir(s->cwd)) {
		e = errno;
		dprintf(2, "q: cannot change to directory '%s': %s\n", s->cwd, strerror(e));
		goto fail;
	}
	environ = s->env;
	if (s->search)
		execvp(s->path, s->argv);
	else
		execv(s->path, s->argv);
	e = errno;
	dprintf(2, "q: cannot run '%s': %s\n", s->path, strerror(e));
fail:
	if (write(fail, &e, sizeof(e)) != sizeof(e))
		_exit(126);
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * Signal what the job left: the command's process group (pinned while
 * the command is alive or an unreaped zombie), and every process this
 * supervisor adopted with its group (children of ours, pinned the same
 * way).  Returns how many adopted processes there were.
 */
static int sup_signal_all(pid_t cmd, int sig)
{
	pid_t kids[MAX_KIDS];
	int n;

	if (cmd > 0)
		kill(-cmd, sig);
	n = proc_children(getpid(), kids, MAX_KIDS);
	for (int i = 0; i < n; i++) {
		kill(kids[i], sig);
		if (kids[i] != cmd)
			kill(-kids[i], sig);
	}
	return n < 0 ? 0 : n;
}

/* Reap children that have ended, other than cmd (which stays a zombie). */
static void sup_reap_others(pid_t cmd)
{
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) || !si.si_pid)
			return;
		if (si.si_pid == cmd)
			return; /* ours to reap last; the others wait behind it */
		waitpid(si.si_pid, NULL, 0);
	}
}

/* Reap everything; 1 when no child of ours is left. */
static int sup_reap_all(void)
{
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p < 0)
			return errno == ECHILD;
		if (p == 0)
			return 0;
	}
}

static void __attribute__((noreturn)) supervise(const struct sup *s)
{
	struct sup_msg done = { SUP_DONE, 0, 0, 0, 0 };
	sigset_t set;
	struct pollfd pf[2];
	pid_t cmd = -1;
	int sfd, fail[2], stopping = 0, dying = 0;
	int64_t deadline = -1, kill_at = -1;
	char c;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	setpgid(0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_PDEATHSIG, SIGHUP);
	prctl(PR_SET_NAME, "q-supervisor");
	if (sfd < 0 || getppid() != s->worker)
		_exit(125); /* nothing ran */

	/* No command without a durable start; a cancel before the go ends it here. */
	pf[0] = (struct pollfd){ s->go, POLLIN, 0 };
	pf[1] = (struct pollfd){ sfd, POLLIN, 0 };
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			_exit(125);
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					_exit(125);
		}
		if (pf[0].revents) {
			if (read(s->go, &c, 1) != 1)
				_exit(125);
			break;
		}
	}
	close(s->go);

	if (pipe2(fail, O_CLOEXEC) || (cmd = fork()) < 0) {
		done.spawn_errno = errno;
		dprintf(s->logfd, "q: cannot start the command: %s\n", strerror(errno));
		sup_send(s->rep, &done);
		_exit(0);
	}
	if (cmd == 0) {
		close(fail[0]);
		close(sfd);
		exec_command(s, getppid(), fail[1]);
	}
	setpgid(cmd, cmd);
	{
		struct sup_msg m = { SUP_STARTED, cmd, 0, 0, 0 };

		sup_send(s->rep, &m);
	}
	close(fail[1]);
	close(s->logfd);
	if (s->in >= 0)
		close(s->in);
	while (read(fail[0], &done.spawn_errno, sizeof(int)) < 0 && errno == EINTR)
		;
	close(fail[0]);
	if (s->timeout_ms > 0)
		deadline = mono_ms() + s->timeout_ms;

	/* Until the command ends. */
	pf[0] = (struct pollfd){ sfd, POLLIN, 0 };
	for (;;) {
		siginfo_t si;
		int64_t now = mono_ms(), wait = -1;
		struct signalfd_siginfo ssi;

		memset(&si, 0, sizeof(si));
		if (!waitid(P_PID, cmd, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == cmd)
			break;
		sup_reap_others(cmd);
		if (deadline >= 0 && now >= deadline && !stopping) {
			done.timed_out = stopping = 1;
			sup_signal_all(cmd, SIGTERM);
			kill_at = now + s->grace_ms;
		}
		if (kill_at >= 0 && now >= kill_at) {
			sup_signal_all(cmd, SIGKILL);
			kill_at = -1;
		}
		if (!stopping && deadline >= 0)
			wait = deadline - now;
		if (kill_at >= 0)
			wait = kill_at - now;
		if (poll(pf, 1, wait < 0 ? -1 : wait > INT_MAX ? INT_MAX : (int)wait) < 0 &&
		    errno != EINTR)
			break;
		while (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi)) {
			if (ssi.ssi_signo == SIGHUP && !dying) {
				/* The worker died: nothing of the job may outlive its lock. */
				dying = 1;
				sup_signal_all(cmd, SIGKILL);
			} else if (ssi.ssi_signo != SIGCHLD && ssi.ssi_signo != SIGHUP && !stopping) {
				/* q cancel (or a stop by hand): TERM now, KILL after the grace. */
				stopping = 1;
				sup_signal_all(cmd, SIGTERM);
				kill_at = mono_ms() + s->grace_ms;
			}
		}
	}
	/*
	 * The command ended; its zombie pins its group while we kill what is
	 * left in it.  Anything else still alive is a child of ours (we are
	 * its subreaper): only then is /proc scanned, to name and kill them.
	 */
	kill(-cmd, SIGKILL);
	while (waitpid(cmd, &done.status, 0) < 0 && errno == EINTR)
		;
	while (!sup_reap_all()) {
		struct signalfd_siginfo ssi;

		sup_signal_all(-1, SIGKILL);
		poll(pf, 1, 20);
		while (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi))
			;
	}
	sup_send(s->rep, &done);
	_exit(0);
}

/* Close every descriptor from 3 up except those in keep (n of them; sorted in place). */
static void close_except(int *keep, int n)
{
	int lo = 3;

	/* Sort the few descriptors to keep, then close the gaps between them. */
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && keep[k] < keep[k - 1]; k--) {
			int t = keep[k];

			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			close_range(lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

pid_t sup_start(struct sup *s, const int *keep, int n, int *go, int *rep)
{
	int g[2], r[2];
	pid_t pid;

	if (n > SUP_KEEP_MAX)
		return error("too many descriptors to keep for a supervisor");
	if (pipe2(g, O_CLOEXEC))
		return error_errno("cannot create a pipe");
	if (pipe2(r, O_CLOEXEC)) {
		error_errno("cannot create a pipe");
		close(g[0]);
		close(g[1]);
		return -1;
	}
	s->go = g[0];
	s->rep = r[1];
	s->worker = getpid();
	/* The child ends with _exit or exec: our stdio buffers never reach it. */
	pid = fork();
	if (pid < 0) {
		error_errno("cannot fork");
		close(g[0]);
		close(g[1]);
		close(r[0]);
		close(r[1]);
		return -1;
	}
	if (pid == 0) {
		int k[SUP_KEEP_MAX + 4], m = 0;

		for (int i = 0; i < n; i++)
			k[m++] = keep[i];
		k[m++] = s->logfd;
		k[m++] = g[0];
		k[m++] = r[1];
		if (s->in >= 0)
			k[m++] = s->in;
		close_except(k, m);
		supervise(s);
	}
	close(g[0]);
	close(r[1]);
	if (s->in >= 0)
		close(s->in);
	*go = g[1];
	*rep = r[0];
	return pid;
}

const char *sup_outcome(const struct sup_msg *done, int status, const char *unrun, int *code,
			int *sig)
{
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (!done->kind && WIFEXITED(status)) {
		*code = -1; /* the supervisor ended before the go: nothing ran */
		return unrun;
	}
	if (done->spawn_errno)
		return "spawn_failed";
	if (done->timed_out)
		return "timeout";
	if (*sig)
		return "signal";
	if (*code == EXIT_TEMPFAIL)
		return "tempfail";
	return *code ? "nonzero_exit" : NULL;
}
