/* proc.c: processes through /proc and pidfds.  See proc.h. */
#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

int proc_stat(pid_t pid, pid_t *ppid, int64_t *start)
{
	char path[64], buf[1024], *p;
	long long pp, st;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold anything, ')' too: fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* p[2] is field 3 (state); the parent is field 4, the start time field 22. */
	p += 2;
	pp = st = -1;
	for (field = 3; *p && field <= 22; field++) {
		if (field == 4)
			pp = strtoll(p, NULL, 10);
		else if (field == 22)
			st = strtoll(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	if (pp < 0 || st < 0)
		return -1;
	if (ppid)
		*ppid = (pid_t)pp;
	if (start)
		*start = st;
	return 0;
}

int proc_children(pid_t parent, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max) {
		pid_t pid, pp;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid > 0 && !proc_stat(pid, &pp, NULL) && pp == parent)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static pid_t *spawned;
static int nspawned, aspawned;

void proc_spawned_add(pid_t pid)
{
	if (pid <= 0)
		return;
	if (nspawned == aspawned) {
		aspawned = aspawned ? 2 * aspawned : 8;
		spawned = xrealloc(spawned, aspawned * sizeof(*spawned));
	}
	spawned[nspawned++] = pid;
}

int proc_spawned_is(pid_t pid)
{
	for (int i = 0; i < nspawned; i++)
		if (spawned[i] == pid)
			return 1;
	return 0;
}

void proc_spawned_reaped(pid_t pid)
{
	for (int i = 0; i < nspawned; i++)
		if (spawned[i] == pid) {
			spawned[i] = spawned[--nspawned];
			return;
		}
}

int proc_signal(pid_t pid, int64_t start, int sig)
{
	int64_t now;
	int fd, ret;

	if (pid <= 1)
		return 0;
	/* The pidfd pins the process: after the check, a signal cannot reach another. */
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH ? 0 : -1;
	if (proc_stat(pid, NULL, &now) || now != start) {
		close(fd);
		return 0;
	}
	ret = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) ? (errno == ESRCH ? 0 : -1) : 1;
	close(fd);
	return ret;
}
