/*
 * mkspool: write job files straight into a q spool, following
 * spool-format.md (the on-disk contract), without running q.  Used by
 * bench/run to make spools of 100,000 jobs in seconds instead of the
 * minutes that 100,000 `q add` processes would take.
 *
 *   mkspool [-t START_MS] [-s] [-S SESSION] SPOOL STATE COUNT PRIO -- CMD [ARG...]
 *
 * STATE is `pending` (file pending/P-ID) or `done` (file done/B/ID plus
 * the event log logs/B/ID.events with start, exit 0 and completed, so
 * the job's verdict is `completed`), or `leased`: a prompt (type prompt,
 * its text CMD and ARGs joined by spaces) leased to agent session
 * SESSION (default `bench`) for ten minutes: file leased/ID with that
 * expiry as mtime, and a `leased` event naming the session.  Job i (0-based) gets the creation
 * time START_MS + i milliseconds (default: the COUNT milliseconds before
 * now), so ids are unique per writer and sort in creation order; the 5
 * random characters come from getrandom(2).  Each file is staged with
 * O_TMPFILE in tmp/ and published with linkat(2), which never replaces
 * an existing file, exactly as spool-format.md "Enqueue" says; -s also
 * fsyncs each file and directory (off by default: a benchmark set-up
 * needs no durability, bench/run calls sync(1) afterwards).
 *
 * A missing spool directory is created with the tree of spool-format.md
 * (mode 0700, .gitignore "*").  Prints the id of every job written, one
 * a line, in creation order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID_LEN 14
#define BUCKET_LEN 4

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
static const char *const tree[] = {
	"tmp", "pending", "deferred", "waiting", "held", "running", "done", "failed",
	"cancelled", "expired", "offered", "leased", "logs", "keys", "quarantine", "slots",
};
enum { PENDING, DONE, LEASED };
#define LEASE_MS 600000
static int do_sync;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "mkspool: ");
	fprintf(stderr, fmt, arg);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	exit(1);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void time_format(int64_t ms, char out[80])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void id_make(char out[ID_LEN + 1], int64_t ms)
{
	uint64_t t = (uint64_t)ms;
	uint32_t r;

	for (int i = 8; i >= 0; i--, t >>= 5)
		out[i] = b32[t & 31];
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		die("getrandom failed", "");
	for (int i = 13; i >= 9; i--, r >>= 5)
		out[i] = b32[r & 31];
	out[ID_LEN] = '\0';
}

/* Append s to the buffer as a JSON string. */
static size_t json_str(char *b, size_t o, size_t cap, const char *s)
{
	if (o < cap)
		b[o] = '"';
	o++;
	for (; *s; s++) {
		unsigned char c = *s;
		char esc[8];
		const char *e = NULL;

		if (c == '"' || c == '\\') {
			snprintf(esc, sizeof(esc), "\\%c", c);
			e = esc;
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			e = esc;
		}
		if (e) {
			for (; *e; e++, o++)
				if (o < cap)
					b[o] = *e;
		} else {
			if (o < cap)
				b[o] = c;
			o++;
		}
	}
	if (o < cap)
		b[o] = '"';
	return o + 1;
}

static size_t put(char *b, size_t o, size_t cap, const char *s)
{
	for (; *s; s++, o++)
		if (o < cap)
			b[o] = *s;
	return o;
}

/*
 * The job file: the required fields, priority, and a small environment;
 * a prompt's args hold its text (the words of argv).
 */
static size_t job_json(char *b, size_t cap, const char *id, int64_t ms, int prio, char **argv,
		       const char *cwd, int prompt)
{
	static const char *const envnames[] = { "PATH", "HOME", "LANG" };
	char t[80], num[16], text[4096] = "";
	size_t o = 0;
	int first = 1;

	time_format(ms, t);
	o = put(b, o, cap, "{\"version\":1,\"id\":");
	o = json_str(b, o, cap, id);
	if (prompt) {
		for (int i = 0; argv[i]; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
				 i ? " " : "", argv[i]);
		o = put(b, o, cap, ",\"type\":\"prompt\",\"args\":{\"text\":");
		o = json_str(b, o, cap, text);
		o = put(b, o, cap, "},\"argv\":[");
	} else {
		o = put(b, o, cap, ",\"type\":\"exec\",\"argv\":[");
		for (int i = 0; argv[i]; i++) {
			if (i)
				o = put(b, o, cap, ",");
			o = json_str(b, o, cap, argv[i]);
		}
	}
	o = put(b, o, cap, "],\"cwd\":");
	o = json_str(b, o, cap, cwd);
	o = put(b, o, cap, ",\"env\":{");
	for (size_t i = 0; i < sizeof(envnames) / sizeof(*envnames); i++) {
		const char *v = getenv(envnames[i]);

		if (!v)
			continue;
		if (!first)
			o = put(b, o, cap, ",");
		first = 0;
		o = json_str(b, o, cap, envnames[i]);
		o = put(b, o, cap, ":");
		o = json_str(b, o, cap, v);
	}
	o = put(b, o, cap, "},\"created_at\":");
	o = json_str(b, o, cap, t);
	snprintf(num, sizeof(num), "%d", prio);
	o = put(b, o, cap, ",\"priority\":");
	o = put(b, o, cap, num);
	o = put(b, o, cap, prompt ? ",\"max_attempts\":3}\n" : ",\"max_attempts\":1}\n");
	return o;
}

static int subdir(int parent, const char *name, int create)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(parent, name, 0700) && errno != EEXIST)
			die("cannot create directory '%s'", name);
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		die("cannot open directory '%s'", name);
	return fd;
}

/* Stage len bytes in tmp/ and link them to dirfd/name; 0, or -1 with EEXIST. */
static int publish(int tmpfd, const char *text, size_t len, int dirfd, const char *name)
{
	char path[64];
	int fd = openat(tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	ssize_t w;

	if (fd < 0)
		die("cannot create a file in '%s'", "tmp");
	w = write(fd, text, len);
	if (w < 0 || (size_t)w != len)
		die("cannot write '%s'", name);
	if (do_sync && fsync(fd))
		die("cannot fsync '%s'", name);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW)) {
		if (errno != EEXIST)
			die("cannot link '%s'", name);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Append text to dirfd/name (the event log). */
static void append(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		die("cannot write '%s'", name);
	if (do_sync && fdatasync(fd))
		die("cannot sync '%s'", name);
	close(fd);
}

/* A bucket directory (done/B or logs/B), cached while B stays the same. */
struct bucket {
	char name[BUCKET_LEN + 1];
	int fd;
};

static int bucket_fd(struct bucket *b, int parent, const char *id)
{
	if (b->fd >= 0 && !strncmp(b->name, id, BUCKET_LEN))
		return b->fd;
	if (b->fd >= 0) {
		if (do_sync)
			fsync(b->fd);
		close(b->fd);
	}
	memcpy(b->name, id, BUCKET_LEN);
	b->name[BUCKET_LEN] = '\0';
	b->fd = subdir(parent, b->name, 1);
	return b->fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: mkspool [-t START_MS] [-s] [-S SESSION] SPOOL pending|done|leased COUNT "
			"PRIO -- CMD [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int64_t start = -1;
	int opt, state, prio, sfd, tmpfd, pd, ld;
	const char *session = "bench";
	long count;
	char cwd[PATH_MAX], *end;
	static char text[1 << 20];
	struct bucket db = { "", -1 }, lb = { "", -1 };

	while ((opt = getopt(argc, argv, "+t:sS:")) != -1) {
		if (opt == 't')
			start = strtoll(optarg, NULL, 10);
		else if (opt == 's')
			do_sync = 1;
		else if (opt == 'S')
			session = optarg;
		else
			usage();
	}
	if (argc - optind < 5 || strcmp(argv[optind + 4], "--") || argc - optind < 6)
		usage();
	if (!strcmp(argv[optind + 1], "pending"))
		state = PENDING;
	else if (!strcmp(argv[optind + 1], "done"))
		state = DONE;
	else if (!strcmp(argv[optind + 1], "leased"))
		state = LEASED;
	else
		usage();
	count = strtol(argv[optind + 2], &end, 10);
	if (*end || count < 0)
		usage();
	prio = atoi(argv[optind + 3]);
	if (prio < 0 || prio > 9 || argv[optind + 3][1])
		usage();
	if (start < 0)
		start = now_ms() - count;
	if (!getcwd(cwd, sizeof(cwd)))
		die("cannot get the current directory%s", "");

	/* mkdir -p the spool's parents, then the spool itself. */
	for (char *p = argv[optind] + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(argv[optind], 0700) && errno != EEXIST)
			die("cannot create '%s'", argv[optind]);
		*p = '/';
	}
	errno = 0;
	if (mkdir(argv[optind], 0700) == 0) {
		int gi = open(argv[optind], O_RDONLY | O_DIRECTORY);
		int g = gi < 0 ? -1 : openat(gi, ".gitignore", O_WRONLY | O_CREAT | O_EXCL, 0600);

		if (g < 0 || write(g, "*\n", 2) != 2)
			die("cannot write '%s/.gitignore'", argv[optind]);
		close(g);
		close(gi);
	} else if (errno != EEXIST) {
		die("cannot create '%s'", argv[optind]);
	}
	errno = 0;
	sfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		die("cannot open spool '%s'", argv[optind]);
	for (size_t i = 0; i < sizeof(tree) / sizeof(*tree); i++)
		close(subdir(sfd, tree[i], 1));
	tmpfd = subdir(sfd, "tmp", 0);
	pd = subdir(sfd, state == DONE ? "done" : state == LEASED ? "leased" : "pending", 0);
	ld = subdir(sfd, "logs", 0);

	for (long i = 0; i < count; i++) {
		int64_t ms = start + i;
		char id[ID_LEN + 1], name[ID_LEN + 8];
		size_t len;
		int dirfd;

		for (int tries = 0;; tries++) {
			id_make(id, ms);
			len = job_json(text, sizeof(text), id, ms, prio, argv + optind + 5, cwd,
				       state == LEASED);
			if (len >= sizeof(text)) {
				errno = 0;
				die("job file of '%s' too large", id);
			}
			if (state == DONE) {
				dirfd = bucket_fd(&db, pd, id);
				snprintf(name, sizeof(name), "%s", id);
			} else if (state == LEASED) {
				dirfd = pd;
				snprintf(name, sizeof(name), "%s", id);
			} else {
				dirfd = pd;
				snprintf(name, sizeof(name), "%d-%s", prio, id);
			}
			if (!publish(tmpfd, text, len, dirfd, name))
				break;
			if (tries > 8)
				die("cannot find a free id for '%s'", name);
		}
		if (state == LEASED) {
			/* mtime: when the lease expires (spool-format.md, "Prompts and sessions"). */
			int64_t until = now_ms() + LEASE_MS;
			struct timespec ts[2] = { { until / 1000, 0 }, { until / 1000, 0 } };
			char ev[1024], t0[80], t1[80];

			if (utimensat(pd, name, ts, AT_SYMLINK_NOFOLLOW))
				die("cannot set the time of '%s'", name);
			time_format(ms + 1, t0);
			time_format(until, t1);
			snprintf(ev, sizeof(ev),
				 "{\"at\":\"%s\",\"event\":\"leased\",\"session\":\"%s\","
				 "\"agent\":\"claude\",\"until\":\"%s\"}\n", t0, session, t1);
			snprintf(name, sizeof(name), "%s.events", id);
			append(bucket_fd(&lb, ld, id), name, ev);
		}
		if (state == DONE) {
			char ev[1024], t0[80], t1[80];

			time_format(ms + 1, t0);
			time_format(ms + 2, t1);
			snprintf(ev, sizeof(ev),
				 "{\"at\":\"%s\",\"event\":\"start\",\"attempt\":1,\"pid\":%d}\n"
				 "{\"at\":\"%s\",\"event\":\"exit\",\"attempt\":1,\"exit_code\":0,"
				 "\"signal\":null,\"error\":null,\"output_size\":0}\n"
				 "{\"at\":\"%s\",\"event\":\"completed\"}\n",
				 t0, (int)getpid(), t1, t1);
			snprintf(name, sizeof(name), "%s.events", id);
			append(bucket_fd(&lb, ld, id), name, ev);
		}
		printf("%s\n", id);
	}
	if (do_sync) {
		fsync(pd);
		if (db.fd >= 0)
			fsync(db.fd);
		if (lb.fd >= 0)
			fsync(lb.fd);
	}
	if (fflush(stdout) == EOF)
		die("cannot write to stdout%s", "");
	return 0;
}
