/*
 * file.c: the fault-injection seam.  See file.h.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fop { OP_OPEN, OP_WRITE, OP_FSYNC, OP_RENAME, OP_LINK, OP_UNLINK, OP_MKDIR, OP_ANY };
static const char *fop_names[] = { "open", "write", "fsync", "rename", "link", "unlink", "mkdir", "any" };

static struct {
	int parsed;
	int op;          /* -1: no injection */
	long n;          /* fail the n-th call */
	int err;         /* 0: SIGKILL instead */
	long count;
} fault = { 0, -1, 0, ENOSPC, 0 };

static void fault_parse(void)
{
	const char *s = getenv("Q_FAULT");
	char op[16];
	long n;
	char err[16] = "ENOSPC";

	fault.parsed = 1;
	if (!s || !*s)
		return;
	if (sscanf(s, "%15[a-z]:%ld:%15s", op, &n, err) < 2 || n < 1) {
		warning("ignoring malformed Q_FAULT '%s'", s);
		return;
	}
	for (int i = 0; i <= OP_ANY; i++)
		if (!strcmp(op, fop_names[i]))
			fault.op = i;
	if (fault.op < 0) {
		warning("ignoring Q_FAULT with unknown operation '%s'", op);
		return;
	}
	fault.n = n;
	fault.err = !strcmp(err, "EIO") ? EIO : !strcmp(err, "KILL") ? 0 : ENOSPC;
}

/* Is this call the one to fail?  Sets errno when it is. */
static int inject(enum fop op)
{
	if (!fault.parsed)
		fault_parse();
	if (fault.op < 0 || (fault.op != OP_ANY && fault.op != (int)op))
		return 0;
	if (++fault.count != fault.n)
		return 0;
	if (!fault.err)
		kill(getpid(), SIGKILL);
	errno = fault.err;
	return 1;
}

int f_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (inject(OP_OPEN))
		return -1;
	do
		fd = openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

int f_tmpfile(int dirfd, mode_t mode)
{
	if (inject(OP_OPEN))
		return -1;
	return openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

int f_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	if (inject(OP_WRITE))
		return -1;
	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= w;
	}
	return 0;
}

int f_fsync(int fd)
{
	if (inject(OP_FSYNC))
		return -1;
	return fsync(fd);
}

int f_syncfs(int fd)
{
	if (inject(OP_FSYNC))
		return -1;
	return syncfs(fd);
}

int f_fdatasync(int fd)
{
	if (inject(OP_FSYNC))
		return -1;
	return fdatasync(fd);
}

int f_rename(int odir, const char *old, int ndir, const char *new, unsigned flags)
{
	if (inject(OP_RENAME))
		return -1;
	return renameat2(odir, old, ndir, new, flags);
}

int f_linkat(int odir, const char *old, int ndir, const char *new, int flags)
{
	if (inject(OP_LINK))
		return -1;
	return linkat(odir, old, ndir, new, flags);
}

int f_link_fd(int fd, int ndir, const char *new)
{
	char path[64];

	if (inject(OP_LINK))
		return -1;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does not. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, path, ndir, new, AT_SYMLINK_FOLLOW);
}

int f_unlinkat(int dir, const char *name, int flags)
{
	if (inject(OP_UNLINK))
		return -1;
	return unlinkat(dir, name, flags);
}

int f_mkdirat(int dir, const char *name, mode_t mode)
{
	if (inject(OP_MKDIR))
		return -1;
	return mkdirat(dir, name, mode);
}

int f_read_all(int fd, size_t max, struct buf *out)
{
	size_t start = out->len;

	for (;;) {
		ssize_t r;

		buf_grow(out, 4096);
		r = read(fd, out->s + out->len, out->cap - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		out->len += r;
		out->s[out->len] = '\0';
		if (out->len - start > max) {
			errno = EFBIG;
			return -1;
		}
	}
	return 0;
}
