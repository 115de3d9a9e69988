#ifndef Q_FILE_H
#define Q_FILE_H
/*
 * Every fallible system call on the spool path goes through here: this
 * is the fault-injection seam.  With Q_FAULT=OP:N[:ERRNO] in the
 * environment, the N-th call of OP (open, write, fsync, rename, link,
 * unlink, mkdir, or any for all of them) in this process fails with
 * ERRNO (ENOSPC by default, or EIO) without doing anything.  With KILL
 * for ERRNO the process kills itself (SIGKILL) instead of making that
 * call: a crash just before it, for tests of what recovery finds.
 *
 * The functions behave like the system calls they wrap: they return -1
 * with errno set and print nothing, so callers can name the object in
 * their message.  Descriptors are always opened O_CLOEXEC.
 */
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/*
 * openat with O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK added: a FIFO or a
 * device planted where a file belongs never blocks the open (callers
 * check the type with fstat before they read).
 */
int f_openat(int dirfd, const char *path, int flags, mode_t mode);
/* An unnamed file in directory dirfd (O_TMPFILE), or -1 with errno. */
int f_tmpfile(int dirfd, mode_t mode);
/* Write all of p, retrying short writes and EINTR. */
int f_write_all(int fd, const void *p, size_t n);
int f_fsync(int fd);
/* syncfs(2) of the file system holding fd (an "fsync" for Q_FAULT). */
int f_syncfs(int fd);
int f_fdatasync(int fd);
/* renameat2; flags may be RENAME_NOREPLACE. */
int f_rename(int odir, const char *old, int ndir, const char *new, unsigned flags);
int f_linkat(int odir, const char *old, int ndir, const char *new, int flags);
/* Give the O_TMPFILE descriptor fd the name ndir/new (never replacing). */
int f_link_fd(int fd, int ndir, const char *new);
int f_unlinkat(int dir, const char *name, int flags);
int f_mkdirat(int dir, const char *name, mode_t mode);

/*
 * Read all of fd into out (appending), failing with EFBIG when it holds
 * more than max bytes.
 */
int f_read_all(int fd, size_t max, struct buf *out);

#endif
