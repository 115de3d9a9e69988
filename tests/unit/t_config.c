/* t_config.c: the settings parser (a subset of git-config syntax). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

#include "tap.h"

/* error() messages land here instead of stderr. */
static char last_error[1024];
static int nerrors;

static void record_error(const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
	nerrors++;
}

/*
 * Parse text over a config whose every field is set to a value no
 * setting produces, so a test sees what the text changed.
 */
static int parse(struct config *c, const char *text)
{
	config_defaults(c);
	c->mode = -1;
	last_error[0] = '\0';
	nerrors = 0;
	return config_parse(c, text, strlen(text), "t.conf");
}

static void parses(const char *text, struct config *c, const char *desc)
{
	is_int(parse(c, text), 0, "parses: %s", desc);
	is_str(last_error, "", "no error: %s", desc);
}

static void fails(const char *text, const char *want, const char *desc)
{
	struct config c;

	is_int(parse(&c, text), -1, "fails: %s", desc);
	is_str(last_error, want, "message: %s", desc);
	is_int(nerrors, 1, "one message: %s", desc);
}

static void mode_is(const char *text, int want, const char *desc)
{
	struct config c;

	parses(text, &c, desc);
	is_int(c.mode, want, "sync.mode: %s", desc);
}

static void dur_is(const char *value, int64_t want)
{
	struct config c;
	char text[128];

	snprintf(text, sizeof(text), "[job]\ntimeout = %s\n", value);
	parses(text, &c, "job.timeout duration");
	is_int(c.timeout_ms, want, "job.timeout = %s", value);
}

static void test_values(void)
{
	struct config c;

	/* The form the design documents use. */
	mode_is("[sync]\n\tmode = \"async\"\n", MODE_ASYNC, "tab-indented quoted async");
	mode_is("[sync]\n\tmode = \"sync\"", MODE_SYNC, "no newline at the end");
	mode_is("[sync]\nmode = manual # comment\n", MODE_MANUAL, "# comment after the value");
	mode_is("[sync]\nmode = manual; comment\n", MODE_MANUAL, "; comment after the value");
	mode_is("; comment\n# comment\n[sync] ; comment\n  ; indented comment\nmode=sync\n",
		MODE_SYNC, "comment lines");
	mode_is("\n\n[sync]\n\n\nmode\t=\tmanual\t \n\n", MODE_MANUAL, "blank lines and tabs");
	mode_is("[sync]\nmode = \"man\"ual\n", MODE_MANUAL, "a quoted part then a bare part");
	mode_is("[sync]\nmode = man\\\nual\n", MODE_MANUAL, "continuation line");
	mode_is("[sync]\r\nmode = manual\r\n", MODE_MANUAL, "CRLF line ends");
	mode_is("[SYNC]\nMODE = sync\n", MODE_SYNC, "upper-case section and key");
	mode_is("[Sync]\nMoDe = manual\n", MODE_MANUAL, "mixed-case section and key");
	mode_is("[sync]\nmode = sync\n[sync]\nmode = manual\n", MODE_MANUAL, "the last one wins");
	mode_is("[sync]\nmode = sync\nmode = async\n", MODE_ASYNC, "the last line wins");
	mode_is("[sync \"x\"]\nmode = bogus\n[sync]\nmode = sync\n", MODE_SYNC,
		"[sync \"x\"] is another section");

	parses("[job]\nattempts = 3\n", &c, "job.attempts");
	is_int(c.attempts, 3, "job.attempts = 3");
	parses("[job]\nbackoff = 2s:1m\n", &c, "job.backoff BASE:MAX");
	is_int(c.backoff_ms, 2000, "job.backoff base");
	is_int(c.backoff_max_ms, 60000, "job.backoff max");
	parses("[job]\nbackoff = 250ms\n", &c, "job.backoff BASE");
	is_int(c.backoff_ms, 250, "job.backoff base alone");
	is_int(c.backoff_max_ms, 300000, "job.backoff max keeps its default");
	parses("[job]\nkill_grace = 2s\n", &c, "job.kill_grace (underscore in a key)");
	is_int(c.kill_grace_ms, 2000, "job.kill_grace");
	dur_is("500ms", 500);
	dur_is("1.5s", 1500);
	dur_is("10m", 600000);
	dur_is("1h", 3600000);
	dur_is("2d", 172800000);
	dur_is("45", 45000);
	dur_is("0", 0);

	parses("[queue]\nmax_pending = 0\n[worker]\nmax = 8\njobs = 2\nlinger = 5s\nidle = 1m\n"
	       "[gc]\ncompleted = 1d\nfailed = 2d\ninterval = 30m\n",
	       &c, "every section");
	is_int(c.max_pending, 0, "queue.max_pending = 0");
	is_int(c.worker_max, 8, "worker.max");
	is_int(c.worker_jobs, 2, "worker.jobs");
	is_int(c.linger_ms, 5000, "worker.linger");
	is_int(c.idle_ms, 60000, "worker.idle");
	is_int(c.gc_completed_ms, 86400000, "gc.completed");
	is_int(c.gc_failed_ms, 172800000, "gc.failed");
	is_int(c.gc_interval_ms, 1800000, "gc.interval");

	parses("[sync]\nfoo = bar\nmodes = nonsense\n[unknown]\nmode = 1\nx\n", &c,
	       "unknown keys and sections are ignored");
	is_int(c.mode, -1, "unknown keys change nothing");
	parses("[remote \"origin\"]\n\turl = https://example.com/x.git\n", &c,
	       "[section \"sub\"] accepted");
	parses("[a.b]\nc = d\n", &c, "dotted section name");
	parses("[x]\nflag\n", &c, "a bare key");
	parses("", &c, "the empty file");
	is_int(c.mode, -1, "the empty file changes nothing");
	parses("\n\n   \n", &c, "blank lines only");
	parses("[sync]", &c, "a section header at the end of the file");
	parses("[sync]\nmode = sync # \"unterminated in a comment\n", &c,
	       "a quote inside a comment");
	parses("[job]\ntimeout = 5s\\\n\n", &c, "continuation onto an empty line");
	is_int(c.timeout_ms, 5000, "continuation onto an empty line: value");
	/* git drops blanks until the value starts, even after a continuation. */
	mode_is("[sync]\nmode = \\\n  sync\n", MODE_SYNC, "continuation then indentation");
}

static void test_errors(void)
{
	/* A bare key means true, which is no sync mode and no integer. */
	fails("[job]\nattempts\n",
	      "t.conf:2: bad value 'true' for 'job.attempts': want a positive integer",
	      "a bare key is true");
	/* What a quoted value contains, shown by the error message. */
	fails("[sync]\nmode = \"a#b\\\"c\\\\d;e\"  # trailing comment\n",
	      "t.conf:2: bad value 'a#b\"c\\d;e' for 'sync.mode': want sync, async or manual",
	      "# ; \\\" \\\\ inside quotes");
	fails("[sync]\nmode = \"  sync  \"\n",
	      "t.conf:2: bad value '  sync  ' for 'sync.mode': want sync, async or manual",
	      "spaces inside quotes are kept");
	fails("[sync]\nmode = \"x\\ty\\nz\\b\"\n",
	      "t.conf:2: bad value 'x\ty\nz\b' for 'sync.mode': want sync, async or manual",
	      "\\t \\n \\b escapes");
	fails("[sync]\nmode =  two words  \n",
	      "t.conf:2: bad value 'two words' for 'sync.mode': want sync, async or manual",
	      "inner spaces kept, outer ones trimmed");
	fails("[sync]\nmode =\n", "t.conf:2: bad value '' for 'sync.mode': want sync, async or manual",
	      "an empty value");

	fails("\n[sync\nmode = sync\n", "t.conf:2: missing ']' in section header",
	      "missing ]");
	fails("[sync\n", "t.conf:1: missing ']' in section header", "missing ] at line 1");
	fails("[sync", "t.conf:1: missing ']' in section header", "missing ] at the end");
	fails("[]\n", "t.conf:1: bad section name", "empty section name");
	fails("[sy nc]\n", "t.conf:1: bad section header", "space in a section name");
	fails("[sync \"sub]\n", "t.conf:1: unterminated subsection name", "unterminated subsection");
	fails("[sync]\n\n\nmode = \"async\n", "t.conf:4: unterminated quoted value",
	      "unterminated quote");
	fails("[sync]\nmode = \"async", "t.conf:2: unterminated quoted value",
	      "unterminated quote at the end of the file");
	fails("[sync]\nmode = \"a\\\nsync\n", "t.conf:2: unterminated quoted value",
	      "unterminated quote after a continuation");
	fails("[sync]\n# x\nmode = fast\n",
	      "t.conf:3: bad value 'fast' for 'sync.mode': want sync, async or manual",
	      "bad value for sync.mode");
	fails("[sync]\nmode = Async\n",
	      "t.conf:2: bad value 'Async' for 'sync.mode': want sync, async or manual",
	      "values are case-sensitive");
	fails("[job]\ntimeout = 5 min\n", "t.conf:2: bad duration '5 min' for 'job.timeout'",
	      "bad duration");
	fails("[job]\ntimeout = -1s\n", "t.conf:2: bad duration '-1s' for 'job.timeout'",
	      "negative duration");
	fails("[job]\nbackoff = 1m:1s\n",
	      "t.conf:2: bad value '1m:1s' for 'job.backoff': want BASE[:MAX]",
	      "backoff MAX below BASE");
	fails("[job]\nattempts = 0\n",
	      "t.conf:2: bad value '0' for 'job.attempts': want a positive integer",
	      "attempts 0");
	fails("[queue]\nmax_pending = -1\n",
	      "t.conf:2: bad value '-1' for 'queue.max_pending': want an integer",
	      "negative max_pending");
	fails("mode = sync\n", "t.conf:1: key outside any section", "key outside section");
	fails("# settings\n\nmode = sync\n[sync]\n", "t.conf:3: key outside any section",
	      "key outside section after comments");
	fails("[sync] mode = sync\n", "t.conf:1: junk after section header",
	      "junk after section header");
	fails("[sync]\n[job]x\n", "t.conf:2: junk after section header",
	      "junk right after ]");
	fails("[sync]\nmode sync\n", "t.conf:2: expected '=' after key", "missing =");
	fails("[sync]\n=sync\n", "t.conf:2: syntax error", "missing key");
	fails("[sync]\n1mode = sync\n", "t.conf:2: syntax error", "key starting with a digit");
	fails("[sync]\nmode = \"\\q\"\n", "t.conf:2: unknown escape in value", "unknown escape");
	fails("[sync]\nmode = sync\\", "t.conf:2: backslash at end of file",
	      "backslash at the end of the file");

	/* Line numbers count continuation lines. */
	fails("[sync]\nmode = a\\\nsync\n[job\n", "t.conf:4: missing ']' in section header",
	      "line number after a continuation");
	fails("[job]\ntimeout = 1\\\n0\\\nx\n", "t.conf:2: bad duration '10x' for 'job.timeout'",
	      "a continued value is reported at its first line");
	fails("[sync]\r\n\r\nmode = x\r\n",
	      "t.conf:3: bad value 'x' for 'sync.mode': want sync, async or manual",
	      "line numbers with CRLF");

	{
		struct config c;
		static const char text[] = "[sync]\nmode = sync\0\n";

		config_defaults(&c);
		last_error[0] = '\0';
		is_int(config_parse(&c, text, sizeof(text) - 1, "t.conf"), -1,
		       "a NUL byte in a value is refused");
		is_str(last_error, "t.conf:2: NUL byte in value", "NUL byte message");
	}
}

static void test_helpers(void)
{
	struct config c;
	int64_t base = -1, max = -1;

	is_int(mode_parse("async"), MODE_ASYNC, "mode_parse async");
	is_int(mode_parse("sync"), MODE_SYNC, "mode_parse sync");
	is_int(mode_parse("manual"), MODE_MANUAL, "mode_parse manual");
	is_int(mode_parse(""), -1, "mode_parse empty");
	is_int(mode_parse("SYNC"), -1, "mode_parse SYNC");

	is_int(backoff_parse("1s:5m", &base, &max), 0, "backoff_parse 1s:5m");
	is_int(base, 1000, "backoff base");
	is_int(max, 300000, "backoff max");
	max = -7;
	is_int(backoff_parse("750ms", &base, &max), 0, "backoff_parse 750ms");
	is_int(base, 750, "backoff base alone");
	is_int(max, -7, "backoff without MAX leaves max alone");
	is_int(backoff_parse("1s:1s", &base, &max), 0, "backoff MAX equal to BASE");
	is_int(backoff_parse("2s:1s", &base, &max), -1, "backoff MAX below BASE");
	is_int(backoff_parse(":1s", &base, &max), -1, "backoff empty BASE");
	is_int(backoff_parse("1s:", &base, &max), -1, "backoff empty MAX");
	is_int(backoff_parse("1s:2s:3s", &base, &max), -1, "backoff with two colons");
	is_int(backoff_parse("x:1s", &base, &max), -1, "backoff bad BASE");

	config_defaults(&c);
	last_error[0] = '\0';
	is_int(config_set(&c, "Worker.Max", "3", "env"), 0, "config_set is case-insensitive");
	is_int(c.worker_max, 3, "config_set worker.max");
	is_int(config_set(&c, "worker.max", "0", "Q_WORKER_MAX"), -1, "config_set worker.max 0");
	is_str(last_error, "Q_WORKER_MAX: bad value '0' for 'worker.max': want a positive integer",
	       "config_set message names where");
	is_int(config_set(&c, "no.such", "x", "env"), 0, "config_set ignores unknown keys");
}

/* For each remote url of a git config: "name=url;". */
static int remote_fn(const char *key, const char *value, const char *where, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%s;", key, value);
	return 0;
}

static void test_github(void)
{
	struct config c;
	char seen[256] = "";

	config_defaults(&c);
	is_int(c.sync_max_retries, 3, "sync.max_retries defaults to 3");
	is_int(c.sync_batch_size, 10, "sync.batch_size defaults to 10");
	is_int(c.sync_auto_retry, 1, "sync.auto_retry defaults to true");
	is_str(c.github_api_url, "https://api.github.com", "github.api_url default");
	is_str(c.github_api_version, "2022-11-28", "github.api_version default");
	is_int(c.github_write_interval_ms, 1000, "github.write_interval defaults to 1s");
	parses("[sync]\n\tauto_retry = off\n\tmax_retries = 0\n[github]\n"
	       "\tapi_url = https://ghe.example.com/api/v3/\n\tapi_version = 2026-03-10\n"
	       "\ttimeout = 5s\n\twrite_interval = 0\n",
	       &c, "the GitHub keys");
	is_int(c.sync_auto_retry, 0, "auto_retry = off");
	is_int(c.sync_max_retries, 0, "max_retries = 0");
	is_str(c.github_api_url, "https://ghe.example.com/api/v3", "api_url loses its trailing '/'");
	is_str(c.github_api_version, "2026-03-10", "api_version");
	is_int(c.github_timeout_ms, 5000, "github.timeout");
	is_int(c.github_write_interval_ms, 0, "github.write_interval 0");
	parses("[sync]\n\tauto_retry\n", &c, "a boolean key alone");
	is_int(c.sync_auto_retry, 1, "a key alone is true");
	fails("[sync]\nauto_retry = maybe\n",
	      "t.conf:2: bad value 'maybe' for 'sync.auto_retry': want true or false", "bad boolean");
	fails("[github]\napi_url = ftp://x\n",
	      "t.conf:2: bad value 'ftp://x' for 'github.api_url': want http(s)://HOST[/PATH]",
	      "api_url must be http(s)");
	fails("[github]\napi_url = https://user:pw@x\n",
	      "t.conf:2: bad value 'https://user:pw@x' for 'github.api_url': want http(s)://HOST[/PATH]",
	      "no credentials in api_url");
	fails("[github]\napi_version = latest\n",
	      "t.conf:2: bad value 'latest' for 'github.api_version': want a date like 2022-11-28",
	      "api_version is a date");
	fails("[sync]\nbatch_size = 0\n",
	      "t.conf:2: bad value '0' for 'sync.batch_size': want a positive integer",
	      "batch_size is positive");

	is_int(config_parse_each("[remote \"Origin\"]\n\turl = git@github.com:o/r.git\n[core]\n"
				 "\tbare = false\n",
				 69, "c", remote_fn, seen), 0, "config_parse_each parses");
	is_str(seen, "remote.Origin.url=git@github.com:o/r.git;core.bare=false;",
	       "config_parse_each: every key, subsections as written");
}

int main(void)
{
	error_hook = record_error;
	test_values();
	test_errors();
	test_helpers();
	test_github();
	return done_testing();
}
