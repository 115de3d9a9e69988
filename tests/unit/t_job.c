/* t_job.c: job files (parse, validate, format), ids and priorities. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "util.h"

#include "tap.h"

#define ID1 "01jfw8m7hq3xzk"
#define ID2 "01jfw8m7hr0000"
#define T_2026 1795461600123LL /* 2026-11-23T19:20:00.123Z */

/* A complete job file as spool-format.md describes it, on one line. */
#define FULL                                                                             \
	"{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\","                             \
	"\"argv\":[\"make\",\"-C\",\"sub dir\",\"\"],\"cwd\":\"/home/u/src\","             \
	"\"env\":{\"PATH\":\"/usr/bin:/bin\",\"LANG\":\"C.UTF-8\",\"EMPTY\":\"\"},"         \
	"\"created_at\":\"2026-11-23T19:20:00.123Z\",\"priority\":2,\"max_attempts\":3,"   \
	"\"max_interrupts\":3,"                                                            \
	"\"backoff_ms\":2000,\"backoff_max_ms\":60000,\"timeout_ms\":600000,"              \
	"\"retry_timeout\":true,\"run_at\":\"2026-11-23T20:00:00.000Z\","                  \
	"\"deadline\":\"2026-11-24T00:00:00.000Z\",\"after\":[\"" ID2 "\"],"              \
	"\"key\":\"build:main\",\"secret_env\":[\"NPM_TOKEN\"]}\n"

/* The required fields only; pieces to splice other fields into. */
#define HEAD "{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"],"
#define TAIL "\"cwd\":\"/\",\"created_at\":\"2026-11-23T19:20:00.123Z\"}"

static char why[256];

static int parse(struct job *job, const char *text)
{
	why[0] = '\0';
	return job_parse(job, text, strlen(text), why, sizeof(why));
}

static void rejects(const char *text, const char *want_why, const char *desc)
{
	struct job job;

	is_int(parse(&job, text), -1, "job_parse rejects %s", desc);
	is_str(why, want_why, "reason: %s", desc);
	job_release(&job);
}

/* A job file this q reads but cannot run (a newer q's). */
static void foreign(const char *text, const char *want_why, const char *desc, int partial)
{
	struct job job;

	is_int(parse(&job, text), JOB_FOREIGN, "job_parse leaves %s to another q", desc);
	is_str(why, want_why, "reason: %s", desc);
	is_str(job.id, ID1, "id of %s", desc);
	is_int(job.partial, partial, "%s is %s", desc, partial ? "partial" : "whole");
	ok(job.type == NULL && job.type_name, "%s has a type name and no type", desc);
	job_release(&job);
}

static int strv_eq(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return a->n == 0 || a->v[a->n] == NULL;
}

static void strv_is(const struct strv *got, const char *const *want, int n, const char *desc)
{
	int same = got->n == n;

	for (int i = 0; same && i < n; i++)
		same = !strcmp(got->v[i], want[i]);
	if (!ok(same, "%s", desc))
		for (int i = 0; i < got->n; i++)
			diag("  got[%d] = '%s'", i, tap_esc(got->v[i]));
}

static void test_parse_full(void)
{
	struct job job;
	static const char *const argv[] = { "make", "-C", "sub dir", "" };
	static const char *const env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "EMPTY=" };
	static const char *const after[] = { ID2 };
	static const char *const secret[] = { "NPM_TOKEN" };

	if (!is_int(parse(&job, FULL), 0, "job_parse accepts a full job file")) {
		diag("why: %s", why);
		return;
	}
	is_str(job.id, ID1, "id");
	ok(job.type && !strcmp(job.type->name, "exec"), "type exec");
	strv_is(&job.argv, argv, 4, "argv");
	is_str(job.cwd, "/home/u/src", "cwd");
	strv_is(&job.env, env, 3, "env as NAME=value");
	is_int(job.created_at, T_2026, "created_at");
	is_int(job.priority, 2, "priority");
	is_int(job.max_attempts, 3, "max_attempts");
	is_int(job.backoff_ms, 2000, "backoff_ms");
	is_int(job.backoff_max_ms, 60000, "backoff_max_ms");
	is_int(job.timeout_ms, 600000, "timeout_ms");
	is_int(job.retry_timeout, 1, "retry_timeout");
	is_int(job.run_at, T_2026 - 123 + 40 * 60000, "run_at");
	is_int(job.deadline, T_2026 - 123 + 4 * 3600000 + 40 * 60000, "deadline");
	strv_is(&job.after, after, 1, "after");
	is_str(job.key, "build:main", "key");
	strv_is(&job.secret_env, secret, 1, "secret_env");
	{
		struct buf b = BUF_INIT;

		job_format(&job, &b);
		is_str(b.s, FULL, "job_format writes the file back byte for byte");
		buf_release(&b);
	}
	job_release(&job);
	is_int(job.argv.n, 0, "job_release empties argv");
	ok(job.cwd == NULL && job.key == NULL, "job_release frees cwd and key");
}

static void test_defaults(void)
{
	struct job job;

	if (!is_int(parse(&job, HEAD TAIL), 0, "job_parse accepts the required fields only")) {
		diag("why: %s", why);
		return;
	}
	is_int(job.priority, 5, "default priority");
	is_int(job.max_attempts, 1, "default max_attempts");
	is_int(job.backoff_ms, 1000, "default backoff_ms");
	is_int(job.backoff_max_ms, 300000, "default backoff_max_ms");
	is_int(job.timeout_ms, 0, "default timeout_ms");
	is_int(job.retry_timeout, 0, "default retry_timeout");
	is_int(job.run_at, -1, "default run_at");
	is_int(job.deadline, -1, "default deadline");
	is_int(job.env.n, 0, "default env is empty");
	is_int(job.after.n, 0, "default after is empty");
	is_int(job.secret_env.n, 0, "default secret_env is empty");
	ok(job.key == NULL, "default key is none");
	job_release(&job);

	is_int(parse(&job, HEAD "\"run_at\":null,\"deadline\":null,\"key\":null,\"env\":{},"
				 "\"after\":[],\"secret_env\":[],\"future\":{\"x\":[1,2]},\"z\":null," TAIL),
	       0, "nulls, empty collections and unknown fields");
	is_int(job.run_at, -1, "run_at null");
	is_int(job.deadline, -1, "deadline null");
	ok(job.key == NULL, "key null");
	job_release(&job);

	is_int(parse(&job, "{\"created_at\":\"2026-11-23T21:20:00.123+02:00\",\"cwd\":\"/x\","
			   "\"argv\":[\"a\"],\"type\":\"exec\",\"id\":\"" ID1 "\",\"version\":1}"),
	       0, "fields in any order, a time with an offset");
	is_int(job.created_at, T_2026, "created_at with an offset");
	job_release(&job);
}

/* Every field set to something unusual survives job_format + job_parse. */
static void test_round_trip(void)
{
	struct job a, b;
	struct buf out = BUF_INIT, out2 = BUF_INIT;
	static const char *const args[] = {
		"sh", "-c", "echo \"$1\" 'x y' \\ \\\\n", "", " ", "with space",
		"quote\"in", "caf\xc3\xa9 \xf0\x9f\x98\x80", "tab\there", "nl\nhere", "\x01\x1f\x7f",
		"--", "-x", "{\"json\":[1]}",
	};
	int nargs = sizeof(args) / sizeof(*args);

	job_init(&a);
	id_new(a.id, T_2026);
	for (int i = 0; i < nargs; i++)
		strv_push(&a.argv, args[i]);
	a.cwd = xstrdup("/tmp/dir with spaces/\xc3\xa9\"q\"");
	strv_push(&a.env, "A=1");
	strv_push(&a.env, "EMPTY=");
	strv_push(&a.env, "EQ=a=b=c");
	strv_push(&a.env, "UNI=\xe2\x82\xac\n\"\\");
	strv_push(&a.env, "lower_case9=x");
	a.created_at = T_2026;
	a.priority = 0;
	a.max_attempts = 1000000;
	a.backoff_ms = 1;
	a.backoff_max_ms = INT64_MAX;
	a.timeout_ms = 86400000;
	a.retry_timeout = 1;
	a.run_at = 0;
	a.deadline = 253402300799999LL;
	strv_push(&a.after, ID1);
	strv_push(&a.after, ID2);
	strv_push(&a.after, "zzzzzzzzzzzzzz");
	a.key = xstrdup("k\xc3\xa9y \"with\" \\ / : %");
	strv_push(&a.secret_env, "NPM_TOKEN");
	strv_push(&a.secret_env, "AWS_SECRET_ACCESS_KEY");

	job_format(&a, &out);
	ok(out.len > 0 && out.s[out.len - 1] == '\n' && !memchr(out.s, '\n', out.len - 1),
	   "job_format writes one newline-terminated line");
	if (!is_int(job_parse(&b, out.s, out.len, why, sizeof(why)), 0,
		    "job_parse reads job_format's output")) {
		diag("why: %s; text: %s", why, tap_esc(out.s));
		goto out;
	}
	is_str(b.id, a.id, "round trip id");
	ok(b.type == a.type, "round trip type");
	ok(strv_eq(&b.argv, &a.argv), "round trip argv (%d arguments)", b.argv.n);
	for (int i = 0; i < nargs && i < b.argv.n; i++)
		is_str(b.argv.v[i], args[i], "round trip argv[%d]", i);
	is_str(b.cwd, a.cwd, "round trip cwd");
	ok(strv_eq(&b.env, &a.env), "round trip env");
	is_int(b.created_at, a.created_at, "round trip created_at");
	is_int(b.priority, a.priority, "round trip priority");
	is_int(b.max_attempts, a.max_attempts, "round trip max_attempts");
	is_int(b.backoff_ms, a.backoff_ms, "round trip backoff_ms");
	is_int(b.backoff_max_ms, a.backoff_max_ms, "round trip backoff_max_ms");
	is_int(b.timeout_ms, a.timeout_ms, "round trip timeout_ms");
	is_int(b.retry_timeout, a.retry_timeout, "round trip retry_timeout");
	is_int(b.run_at, a.run_at, "round trip run_at");
	is_int(b.deadline, a.deadline, "round trip deadline");
	ok(strv_eq(&b.after, &a.after), "round trip after");
	is_str(b.key, a.key, "round trip key");
	ok(strv_eq(&b.secret_env, &a.secret_env), "round trip secret_env");
	job_format(&b, &out2);
	is_str(out2.s, out.s, "formatting the parsed job gives the same bytes");
	job_release(&b);

	/* Known bugs: times job_parse accepts but job_format cannot write. */
	/*
	 * Known bugs: times job_parse accepts but job_format cannot write.
	 * (Either refusing them in job_parse or writing them faithfully
	 * passes.)
	 */
	buf_reset(&out);
	if (parse(&b, HEAD "\"deadline\":\"1969-12-31T23:59:59.000Z\"," TAIL) == 0) {
		job_format(&b, &out);
		ok(strstr(out.s, "\"deadline\":null") == NULL,
		   "a deadline before 1970 is not written as null");
	}
	job_release(&b);
	buf_reset(&out);
	if (parse(&b, HEAD "\"deadline\":\"9999-12-31T23:30:00-01:00\"," TAIL) == 0) {
		job_format(&b, &out);
		job_release(&b);
		is_int(job_parse(&b, out.s, out.len, why, sizeof(why)), 0,
		       "job_format's output for a deadline in the year 10000 parses");
	}
	job_release(&b);
out:
	job_release(&a);
	buf_release(&out);
	buf_release(&out2);
}

static void test_reject(void)
{
	rejects("", "empty JSON", "an empty file");
	rejects("[1]", "job file is not a JSON object", "an array");
	rejects("{\"version\":1", "malformed JSON", "truncated JSON");
	rejects("{\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'version'", "missing version");
	foreign("{\"version\":2,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"job file version 2 is newer than this q (1)", "version 2", 0);
	foreign("{\"version\":3,\"id\":\"" ID1 "\",\"type\":\"exec\",\"priority\":7}",
		"job file version 3 is newer than this q (1)", "version 3 with fields q 1 lacks", 1);
	rejects("{\"version\":0,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'version'", "version 0");
	rejects("{\"version\":\"1\",\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'version'", "version as a string");
	rejects("{\"version\":1.0,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'version'", "version 1.0");
	rejects("{\"version\":1,\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "missing id");
	rejects("{\"version\":1,\"id\":\"01JFW8M7HQ3XZK\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "upper-case id");
	rejects("{\"version\":1,\"id\":\"01jfw8m7hq3xzu\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "id with u (not Crockford base32)");
	rejects("{\"version\":1,\"id\":\"../../etc/pass\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "id with slashes");
	rejects("{\"version\":1,\"id\":\"01jfw8m7hq3xz\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "13-character id");
	rejects("{\"version\":1,\"id\":\"01jfw8m7hq3xzkk\",\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "15-character id");
	rejects("{\"version\":1,\"id\":1,\"type\":\"exec\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'id'", "numeric id");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"argv\":[\"true\"]," TAIL,
		"missing or invalid 'type'", "missing type");
	foreign("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"frob\",\"args\":{\"x\":1}," TAIL,
		"job type 'frob' is unknown to this q", "unknown type", 0);
	foreign("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"EXEC\",\"argv\":[\"true\"]," TAIL,
		"job type 'EXEC' is unknown to this q", "type EXEC", 0);
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"frob\",\"args\":[1]," TAIL,
		"'args' is not an object", "args not an object");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"git\"," TAIL,
		"'args' is missing (type 'git')", "git without args");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"git\",\"args\":{\"op\":\"rm\"}," TAIL,
		"args: 'op' is not clone, fetch, pull, push, worktree_add or worktree_remove",
		"git with an unknown op");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"git\",\"args\":{\"op\":\"clone\","
		"\"url\":\"u\",\"dir\":\"rel\"}," TAIL, "args: 'dir' is not an absolute path",
		"git clone into a relative dir");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"git\",\"args\":{\"op\":\"fetch\"}," TAIL,
		"args: 'repo' is missing", "git fetch without repo");
	{
		struct job job;

		is_int(parse(&job, "{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"git\",\"args\":"
			     "{\"op\":\"push\",\"repo\":\"/r\",\"refspecs\":[\"main\"]}," TAIL), 0,
		       "job_parse accepts a git push");
		is_str(job.args, "{\"op\":\"push\",\"repo\":\"/r\",\"refspecs\":[\"main\"]}",
		       "args kept as their JSON text");
		job_release(&job);
	}
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\"," TAIL,
		"'argv' is not a non-empty array of strings", "missing argv");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[]," TAIL,
		"'argv' is not a non-empty array of strings", "empty argv");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":\"true\"," TAIL,
		"'argv' is not a non-empty array of strings", "argv as a string");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"a\",1]," TAIL,
		"'argv' is not a non-empty array of strings", "argv with a number");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[[\"a\"]]," TAIL,
		"'argv' is not a non-empty array of strings", "argv with an array");
	rejects("{\"version\":1,\"id\":\"" ID1 "\",\"type\":\"exec\",\"argv\":[\"a\\u0000b\"]," TAIL,
		"'argv' is not a non-empty array of strings", "argv with \\u0000");
	rejects(HEAD "\"created_at\":\"2026-11-23T19:20:00.123Z\"}", "'cwd' is not an absolute path",
		"missing cwd");
	rejects(HEAD "\"cwd\":\"relative/dir\",\"created_at\":\"2026-11-23T19:20:00.123Z\"}",
		"'cwd' is not an absolute path", "relative cwd");
	rejects(HEAD "\"cwd\":\"\",\"created_at\":\"2026-11-23T19:20:00.123Z\"}",
		"'cwd' is not an absolute path", "empty cwd");
	rejects(HEAD "\"cwd\":\"/\"}", "missing or invalid 'created_at'", "missing created_at");
	rejects(HEAD "\"cwd\":\"/\",\"created_at\":null}", "missing or invalid 'created_at'",
		"null created_at");
	rejects(HEAD "\"cwd\":\"/\",\"created_at\":\"yesterday\"}", "missing or invalid 'created_at'",
		"bad created_at");
	rejects(HEAD "\"cwd\":\"/\",\"created_at\":\"1969-12-31T23:59:59.999Z\"}",
		"missing or invalid 'created_at'", "created_at before 1970");
	rejects(HEAD "\"cwd\":\"/\",\"created_at\":1795461600123}", "missing or invalid 'created_at'",
		"created_at as a number");

	rejects(HEAD "\"priority\":10," TAIL, "'priority' is not 0-9", "priority 10");
	rejects(HEAD "\"priority\":-1," TAIL, "'priority' is not 0-9", "priority -1");
	rejects(HEAD "\"priority\":\"high\"," TAIL, "'priority' is not 0-9", "priority high");
	rejects(HEAD "\"max_attempts\":0," TAIL, "'max_attempts' is not a positive integer",
		"max_attempts 0");
	rejects(HEAD "\"max_attempts\":1000001," TAIL, "'max_attempts' is not a positive integer",
		"max_attempts too large");
	rejects(HEAD "\"backoff_ms\":-1," TAIL, "invalid 'backoff_ms'", "negative backoff_ms");
	rejects(HEAD "\"backoff_max_ms\":1.5," TAIL, "invalid 'backoff_max_ms'",
		"fractional backoff_max_ms");
	rejects(HEAD "\"timeout_ms\":null," TAIL, "invalid 'timeout_ms'", "null timeout_ms");
	rejects(HEAD "\"retry_timeout\":1," TAIL, "invalid 'retry_timeout'", "retry_timeout 1");
	rejects(HEAD "\"run_at\":\"soon\"," TAIL, "invalid 'run_at'", "bad run_at");
	rejects(HEAD "\"deadline\":0," TAIL, "invalid 'deadline'", "numeric deadline");
	rejects(HEAD "\"after\":[\"nope\"]," TAIL, "'after' is not an array of ids", "bad after id");
	rejects(HEAD "\"after\":[\"" ID2 "\",\"01jfw8m7h\"]," TAIL, "'after' is not an array of ids",
		"after with an id prefix");
	rejects(HEAD "\"after\":\"" ID2 "\"," TAIL, "'after' is not an array of ids",
		"after as a string");
	rejects(HEAD "\"env\":[\"A=1\"]," TAIL, "'env' is not an object of strings", "env as an array");
	rejects(HEAD "\"env\":{\"A\":1}," TAIL, "'env' is not an object of strings",
		"env with a number");
	rejects(HEAD "\"env\":{\"A=B\":\"1\"}," TAIL, "'env' is not an object of strings",
		"env name with =");
	rejects(HEAD "\"env\":{\"\":\"1\"}," TAIL, "'env' is not an object of strings",
		"empty env name");
	rejects(HEAD "\"env\":{\"A\\u0000\":\"1\"}," TAIL, "'env' has an invalid name",
		"env name with \\u0000");
	rejects(HEAD "\"key\":\"\"," TAIL, "invalid 'key'", "empty key");
	rejects(HEAD "\"key\":7," TAIL, "invalid 'key'", "numeric key");
	rejects(HEAD "\"secret_env\":[1]," TAIL, "'secret_env' is not an array of strings",
		"secret_env with a number");
	rejects(HEAD "\"cwd\":\"/\",\"created_at\":\"2026-11-23T19:20:00.123Z\"} x", "malformed JSON",
		"trailing garbage");
	{
		struct job job;
		char *huge = xmalloc(JOB_MAX_SIZE + 2);

		memset(huge, ' ', JOB_MAX_SIZE + 1);
		memcpy(huge, HEAD TAIL, strlen(HEAD TAIL));
		is_int(job_parse(&job, huge, JOB_MAX_SIZE + 1, why, sizeof(why)), -1,
		       "job_parse rejects a file over 1 MiB");
		is_str(why, "job file larger than 1048576 bytes", "reason: over 1 MiB");
		is_int(job_parse(&job, huge, JOB_MAX_SIZE, why, sizeof(why)), 0,
		       "job_parse accepts a file of exactly 1 MiB");
		job_release(&job);
		free(huge);
	}
	{
		/* A key of exactly KEY_MAX bytes is fine, one more is not. */
		struct job job;
		struct buf b = BUF_INIT;

		buf_adds(&b, HEAD "\"key\":\"");
		for (int i = 0; i < KEY_MAX; i++)
			buf_addc(&b, 'k');
		buf_adds(&b, "\"," TAIL);
		is_int(job_parse(&job, b.s, b.len, why, sizeof(why)), 0, "a key of 200 bytes");
		is_int(job.key ? (long long)strlen(job.key) : -1, KEY_MAX, "the key's length");
		job_release(&job);
		buf_reset(&b);
		buf_adds(&b, HEAD "\"key\":\"");
		for (int i = 0; i < KEY_MAX + 1; i++)
			buf_addc(&b, 'k');
		buf_adds(&b, "\"," TAIL);
		rejects(b.s, "invalid 'key'", "a key of 201 bytes");
		buf_release(&b);
	}
}

static void test_ids(void)
{
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1];

	id_new(a, T_2026);
	is_int(strlen(a), ID_LEN, "id_new makes 14 characters");
	ok(id_valid(a), "id_new makes a valid id: %s", a);
	ok(!strncmp(a, "1m84xkmvv", 9), "the first 9 characters encode the time: %s", a);
	id_new(b, T_2026);
	ok(strcmp(a, b) != 0, "two ids of the same millisecond differ: %s %s", a, b);
	id_new(c, T_2026 + 1);
	ok(strcmp(a, c) < 0 && strcmp(b, c) < 0, "an id of a later millisecond sorts after");
	id_new(a, 0);
	ok(!strncmp(a, "000000000", 9) && id_valid(a), "id_new(0): %s", a);
	id_new(b, 1);
	ok(!strncmp(b, "000000001", 9) && strcmp(a, b) < 0, "id_new(1) sorts after id_new(0)");
	id_new(a, 35184372088831LL); /* 2^45 - 1, in the year 3084 */
	ok(!strncmp(a, "zzzzzzzzz", 9) && id_valid(a), "id_new(2^45-1): %s", a);
	is_int(id_time(a), 35184372088831LL, "id_time reads the time back: %s", a);
	id_new(a, T_2026);
	is_int(id_time(a), T_2026, "id_time of an id of 2026");
	is_int(id_time("not-an-id"), -1, "id_time of something else: -1");
	{
		int sorted = 1;

		for (int64_t t = 1; t < 1LL << 44; t = t * 3 + 1) {
			id_new(a, t - 1);
			id_new(b, t);
			if (strcmp(a, b) >= 0)
				sorted = 0;
		}
		ok(sorted, "ids sort by time across magnitudes");
	}

	ok(id_valid("0123456789abcd"), "id_valid 0123456789abcd");
	ok(id_valid("efghjkmnpqrstv"), "id_valid efghjkmnpqrstv");
	ok(id_valid("wxyzwxyzwxyzwx"), "id_valid wxyz...");
	ok(!id_valid(""), "id_valid empty");
	ok(!id_valid("0123456789abc"), "id_valid 13 characters");
	ok(!id_valid("0123456789abcde"), "id_valid 15 characters");
	ok(!id_valid("0123456789ABCD"), "id_valid upper case");
	ok(!id_valid("0123456789abci"), "id_valid i");
	ok(!id_valid("0123456789abcl"), "id_valid l");
	ok(!id_valid("0123456789abco"), "id_valid o");
	ok(!id_valid("0123456789abcu"), "id_valid u");
	ok(!id_valid("../x"), "id_valid ../x");
	ok(!id_valid("0123456789ab/c"), "id_valid with a slash");
	ok(!id_valid("0123456789ab.c"), "id_valid with a dot");
	ok(!id_valid("0123456789abc "), "id_valid with a space");
	ok(!id_valid("0123456789abc\xc3"), "id_valid with a high byte");

	ok(id_prefix_valid("0"), "id_prefix_valid 1 character");
	ok(id_prefix_valid("01jfw"), "id_prefix_valid 5 characters");
	ok(id_prefix_valid(ID1), "id_prefix_valid a whole id");
	ok(!id_prefix_valid(""), "id_prefix_valid empty");
	ok(!id_prefix_valid("01jfw8m7hq3xzkk"), "id_prefix_valid 15 characters");
	ok(!id_prefix_valid("../x"), "id_prefix_valid ../x");
	ok(!id_prefix_valid(".."), "id_prefix_valid ..");
	ok(!id_prefix_valid("."), "id_prefix_valid .");
	ok(!id_prefix_valid("/"), "id_prefix_valid /");
	ok(!id_prefix_valid("01JFW"), "id_prefix_valid upper case");
	ok(!id_prefix_valid("-1"), "id_prefix_valid -1");
	ok(!id_prefix_valid("*"), "id_prefix_valid *");
	ok(!id_prefix_valid("01jf w"), "id_prefix_valid with a space");
}

static void test_priority(void)
{
	struct job job;

	is_int(priority_parse("high"), 2, "priority high");
	is_int(priority_parse("normal"), 5, "priority normal");
	is_int(priority_parse("low"), 8, "priority low");
	is_int(priority_parse("0"), 0, "priority 0");
	is_int(priority_parse("7"), 7, "priority 7");
	is_int(priority_parse("9"), 9, "priority 9");
	is_int(priority_parse("10"), -1, "priority 10");
	is_int(priority_parse("-1"), -1, "priority -1");
	is_int(priority_parse(""), -1, "priority empty");
	is_int(priority_parse("HIGH"), -1, "priority HIGH");
	is_int(priority_parse("hi"), -1, "priority hi");
	is_int(priority_parse(" 5"), -1, "priority ' 5'");
	is_int(priority_parse("5 "), -1, "priority '5 '");
	is_int(priority_parse("05"), -1, "priority 05");
	is_int(priority_parse("a"), -1, "priority a");

	ok(job_type_find("exec") && job_type_find("exec")->run == RUN_EXEC, "exec runs a command");
	ok(job_type_find("git") && job_type_find("git")->run == RUN_HELPER &&
	   !strcmp(job_type_find("git")->helper, "q-git"), "git runs the helper q-git");
	ok(!job_type_find("EXEC") && !job_type_find(""), "type names are exact");

	job_init(&job);
	strv_push(&job.secret_env, "NPM_TOKEN");
	ok(env_is_secret(&job, "GH_TOKEN", 8), "GH_TOKEN is secret");
	ok(env_is_secret(&job, "GITHUB_TOKEN=x", 12), "GITHUB_TOKEN is secret (length given)");
	ok(env_is_secret(&job, "NPM_TOKEN", 9), "a --secret-env name is secret");
	ok(!env_is_secret(&job, "NPM_TOKEN", 8), "a prefix of a secret name is not secret");
	ok(!env_is_secret(&job, "GH_TOKENS", 9), "a longer name is not secret");
	ok(!env_is_secret(&job, "PATH", 4), "PATH is not secret");
	job_release(&job);
}

int main(void)
{
	test_parse_full();
	test_defaults();
	test_round_trip();
	test_reject();
	test_ids();
	test_priority();
	return done_testing();
}
