/* t_gh.c: the GitHub parts bin/q and q-github share (src/gh.c). */
#include <stdlib.h>
#include <string.h>

#include "gh.h"
#include "job.h"
#include "json.h"

#include "tap.h"

#define DOTCOM "https://api.github.com"

static void remote(const char *url, const char *api, const char *host, const char *repo)
{
	struct gh_api a;
	char r[GH_REPO_MAX] = "";
	int rc = gh_remote_parse(url, DOTCOM, &a, r);

	if (!api) {
		is_int(rc, -1, "not a GitHub remote: %s", url);
		return;
	}
	is_int(rc, 0, "remote %s", url);
	is_str(rc ? "" : a.url, api, "  its API");
	is_str(rc ? "" : a.host, host, "  its host");
	is_str(r, repo, "  its repository");
}

static void test_remotes(void)
{
	struct gh_api a;
	char r[GH_REPO_MAX];

	remote("https://github.com/octo/demo.git", DOTCOM, "api.github.com", "octo/demo");
	remote("https://github.com/octo/demo", DOTCOM, "api.github.com", "octo/demo");
	remote("https://user@github.com/octo/demo/", DOTCOM, "api.github.com", "octo/demo");
	remote("git@github.com:octo/demo.git", DOTCOM, "api.github.com", "octo/demo");
	remote("ssh://git@github.com:22/octo/demo.git", DOTCOM, "api.github.com", "octo/demo");
	remote("git@ghe.example.com:team/tool.git", "https://ghe.example.com/api/v3",
	       "ghe.example.com", "team/tool");
	remote("https://acme.ghe.com/o/r", "https://api.acme.ghe.com", "api.acme.ghe.com", "o/r");
	remote("https://gitlab.example/only-one", NULL, NULL, NULL);
	remote("https://github.com/a/b/c", NULL, NULL, NULL);
	remote("/srv/git/repo.git", NULL, NULL, NULL);
	remote("git@github.com:../../etc", NULL, NULL, NULL);
	/* An API the settings name on purpose serves every remote. */
	is_int(gh_remote_parse("git@ghe.example.com:o/r", "http://127.0.0.1:8", &a, r), 0,
	       "with github.api_url set");
	is_str(a.url, "http://127.0.0.1:8", "  every remote uses it");
}

static void test_apis(void)
{
	struct gh_api a;

	is_int(gh_api_parse("https://api.github.com/", &a), 0, "an API URL");
	is_str(a.url, DOTCOM, "  without its trailing '/'");
	is_int(gh_api_parse("http://127.0.0.1:8080/api/v3", &a), 0, "with a port and a path");
	is_str(a.host, "127.0.0.1:8080", "  host[:port]");
	is_int(gh_api_parse("HTTPS://x", &a), -1, "the scheme in lower case");
	is_int(gh_api_parse("ftp://x", &a), -1, "no ftp");
	is_int(gh_api_parse("https://tok@api.github.com", &a), -1, "no credential in the URL");
	is_int(gh_api_parse("https://api.github.com/x?y", &a), -1, "no query");
	is_int(gh_api_parse("https:///x", &a), -1, "a host");

	ok(gh_repo_valid("octo/demo.js"), "OWNER/REPO");
	ok(!gh_repo_valid("octo"), "no slash");
	ok(!gh_repo_valid("octo/.."), "no ..");
	ok(!gh_repo_valid("oc to/x"), "no blank");
	ok(!gh_repo_valid("a/b/c"), "two slashes");
}

static void test_tokens(void)
{
	const char *names;

	setenv("GH_TOKEN", "dotcom", 1);
	setenv("GITHUB_TOKEN", "dotcom-2", 1);
	setenv("GITHUB_ENTERPRISE_TOKEN", "ghes-2", 1);
	unsetenv("GH_ENTERPRISE_TOKEN");
	is_str(gh_token("api.github.com", &names), "dotcom", "github.com: GH_TOKEN first");
	is_str(names, "GH_TOKEN or GITHUB_TOKEN", "  names");
	is_str(gh_token("api.acme.ghe.com", NULL), "dotcom", "ghe.com is github.com's");
	is_str(gh_token("ghe.example.com", &names), "ghes-2", "another host: an enterprise token");
	is_str(names, "GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN", "  names");
	unsetenv("GITHUB_ENTERPRISE_TOKEN");
	ok(gh_token("127.0.0.1:8", NULL) == NULL, "never github.com's token for another host");
	unsetenv("GH_TOKEN");
	is_str(gh_token("api.github.com", NULL), "dotcom-2", "GITHUB_TOKEN after GH_TOKEN");
	unsetenv("GITHUB_TOKEN");
}

static int check(const char *text, char *why, size_t n)
{
	struct json j;
	const char *e;
	int r;

	why[0] = '\0';
	if (json_parse(&j, text, strlen(text), &e))
		return snprintf(why, n, "%s", e), -2;
	r = gh_args_check(&j, 0, why, n);
	json_release(&j);
	return r;
}

static void good(const char *text)
{
	char why[200];

	is_int(check(text, why, sizeof(why)), 0, "good args: %s", tap_esc(text));
	if (why[0])
		diag("%s", why);
}

static void bad(const char *text, const char *want)
{
	char why[200];

	is_int(check(text, why, sizeof(why)), -1, "bad args: %s", tap_esc(text));
	is_str(why, want, "  why");
}

#define API "\"api_url\":\"https://api.github.com\""

static void test_args(void)
{
	good("{\"op\":\"issue_create\"," API ",\"repo\":\"o/r\",\"title\":\"t\",\"body\":\"a\\nb\","
	     "\"labels\":[\"bug\"]}");
	good("{\"op\":\"issue_comment\"," API ",\"repo\":\"o/r\",\"issue_job\":\"1m84xkmvvkbt85\","
	     "\"body\":\"x\"}");
	good("{\"op\":\"api\"," API ",\"method\":\"GET\",\"path\":\"/user\",\"fields\":{\"a\":\"1\"}}");
	bad("{\"op\":\"frob\"," API "}",
	    "args: 'op' is not api, issue_create, issue_edit, issue_close, issue_comment, label_add "
	    "or label_remove");
	bad("{\"op\":\"api\",\"method\":\"GET\",\"path\":\"/x\"}", "args: 'api_url' is missing");
	bad("{\"op\":\"api\",\"api_url\":\"file:///x\",\"method\":\"GET\",\"path\":\"/x\"}",
	    "args: 'api_url' is not an http(s) URL");
	bad("{\"op\":\"api\"," API ",\"method\":\"GET\",\"path\":\"//evil.example/x\"}",
	    "args: 'path' is not an absolute API path");
	bad("{\"op\":\"api\"," API ",\"method\":\"TRACE\",\"path\":\"/x\"}",
	    "args: 'method' is not GET, POST, PATCH, PUT or DELETE");
	bad("{\"op\":\"issue_create\"," API ",\"repo\":\"o/r\",\"title\":\"a\\nb\"}",
	    "args: 'title' is not a non-empty string of one line");
	bad("{\"op\":\"issue_close\"," API ",\"repo\":\"o/r\"}",
	    "args: one of 'issue' and 'issue_job' is needed");
	bad("{\"op\":\"issue_close\"," API ",\"repo\":\"o/r\",\"issue\":3,\"issue_job\":\"1m84xkmvvkbt85\"}",
	    "args: one of 'issue' and 'issue_job' is needed");
	bad("{\"op\":\"issue_close\"," API ",\"repo\":\"o/r\",\"issue\":0}",
	    "args: 'issue' is not a positive integer");
	bad("{\"op\":\"issue_close\"," API ",\"repo\":\"o/r\",\"issue\":1,\"state_reason\":\"done\"}",
	    "args: 'state_reason' is not completed or not_planned");
	bad("{\"op\":\"label_add\"," API ",\"repo\":\"o\",\"issue\":1,\"label\":\"x\"}",
	    "args: 'repo' is not OWNER/REPO");
	bad("{\"op\":\"issue_create\"," API ",\"repo\":\"o/r\",\"title\":\"t\",\"labels\":[1]}",
	    "args: 'labels' is not an array of strings");
	bad("{\"op\":\"api\"," API ",\"method\":\"POST\",\"path\":\"/x\",\"fields\":{\"a\":1}}",
	    "args: 'fields' is an object of strings");
}

static void describe(const char *args, const char *want)
{
	struct job job;
	struct buf b = BUF_INIT;

	job_init(&job);
	job.type = job_type_find("github");
	job.args = strdup(args);
	job_describe(&b, &job, 0);
	is_str(b.s, want, "describe %s", want);
	buf_release(&b);
	job_release(&job);
}

static void test_describe(void)
{
	struct buf m = BUF_INIT;

	describe("{\"op\":\"issue_create\"," API ",\"repo\":\"o/r\",\"title\":\"Two words\"}",
		 "gh issue create o/r 'Two words'");
	describe("{\"op\":\"issue_comment\"," API ",\"repo\":\"o/r\",\"issue\":12,\"body\":\"x\"}",
		 "gh issue comment o/r#12");
	describe("{\"op\":\"label_remove\"," API ",\"repo\":\"o/r\",\"issue_job\":\"1m84xkmvvkbt85\","
		 "\"label\":\"bug\"}",
		 "gh label remove o/r#(job 1m84xkmvvkbt85) bug");
	describe("{\"op\":\"api\"," API ",\"method\":\"PATCH\",\"path\":\"/repos/o/r\"}",
		 "gh api PATCH /repos/o/r");
	gh_marker(&m, "1m84xkmvvkbt85");
	is_str(m.s, "<!-- q:1m84xkmvvkbt85 -->", "the marker");
	buf_release(&m);
}

int main(void)
{
	test_remotes();
	test_apis();
	test_tokens();
	test_args();
	test_describe();
	return done_testing();
}
