/*
 * floor: the least work a durable enqueue can do, as a separate process,
 * for comparison with `q add` (bench/run builds it with cc -O2).
 *
 *   floor STAGING_DIR TARGET_DIR [SIZE]
 *
 * Creates an unnamed file in STAGING_DIR (O_TMPFILE), writes SIZE bytes
 * (default 400) of job-like JSON, fsyncs it, links it into TARGET_DIR
 * under a unique name (P-ID, an id as q makes them: 9 base32 characters
 * of the time in ms and 5 random ones; linkat never replaces, so an
 * EEXIST draws again), fsyncs TARGET_DIR and prints the id.  That is
 * spool-format.md's enqueue without option parsing, settings, spool
 * checks or the environment capture.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(3);
}

int main(int argc, char **argv)
{
	char id[15], name[32], path[64], text[4096];
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 400;
	struct timespec ts;
	uint64_t t;
	uint32_t r;
	int sd, td, fd, len, tries = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: floor STAGING_DIR TARGET_DIR [SIZE]\n");
		return 2;
	}
	if (size < 64 || size > sizeof(text))
		size = 400;
	if ((sd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[1]);
	if ((td = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[2]);
	if ((fd = openat(sd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0)
		die("O_TMPFILE");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		for (int i = 8; i >= 0; i--, t >>= 5)
			id[i] = b32[t & 31];
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			die("getrandom");
		for (int i = 13; i >= 9; i--, r >>= 5)
			id[i] = b32[r & 31];
		id[14] = '\0';
		if (tries == 0) {
			/* The file's content names the first id (a retry would rewrite it). */
			len = snprintf(text, sizeof(text),
				       "{\"version\":1,\"id\":\"%s\",\"type\":\"exec\",\"argv\":[\"true\"],"
				       "\"cwd\":\"/tmp\",\"env\":{\"PATH\":\"/usr/bin:/bin\"},"
				       "\"created_at\":\"2026-01-01T00:00:00.000Z\",\"priority\":5,\"pad\":\"",
				       id);
			while ((size_t)len < size - 3)
				text[len++] = 'x';
			text[len++] = '"';
			text[len++] = '}';
			text[len++] = '\n';
			if (write(fd, text, len) != len)
				die("write");
			if (fsync(fd))
				die("fsync");
		}
		snprintf(name, sizeof(name), "5-%s", id);
		if (!linkat(AT_FDCWD, path, td, name, AT_SYMLINK_FOLLOW))
			break;
		if (errno != EEXIST || ++tries > 8)
			die("linkat");
	}
	if (fsync(td))
		die("fsync dir");
	close(fd);
	printf("%s\n", id);
	return 0;
}
