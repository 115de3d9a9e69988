/*
 * types.c: the table of job types (job.h, struct job_type) and the
 * check of each type's args.  spool-format.md documents each schema.
 *
 * A q built with -DQ_EXEC_ONLY knows only exec jobs: the test suite
 * uses it as the "older q" that shares a spool with this one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh.h"
#include "job.h"
#include "json.h"

/* ------------------------------------------------------------- exec */

static void exec_describe(struct buf *b, const struct job *job)
{
	for (int i = 0; i < job->argv.n; i++) {
		if (i)
			buf_addc(b, ' ');
		shell_quote(b, job->argv.v[i]);
	}
}

/* String field key of the args (prompt text, git op) for describe. */
char *job_arg_str(const struct job *job, const char *key)
{
	struct json j;
	const char *why;
	char *s = NULL;
	int k;

	if (!job->args || json_parse(&j, job->args, strlen(job->args), &why))
		return NULL;
	k = json_get(&j, 0, key);
	if (k < 0 || json_string(&j, k, &s))
		s = NULL;
	json_release(&j);
	return s;
}

#ifndef Q_EXEC_ONLY
/* ---------------------------------------------------------- args */

/*
 * Check string field key of object t: present when required, a
 * non-empty string without control characters, absolute when path is
 * set.  Returns 0 or -1 with why.
 */
static int want_str(const struct json *j, int t, const char *key, int required, int path,
		    char *why, size_t whylen)
{
	int k = json_get(j, t, key);
	char *s;
	int bad;

	if (k < 0 || json_is_null(j, k)) {
		if (!required)
			return 0;
		snprintf(why, whylen, "args: '%s' is missing", key);
		return -1;
	}
	if (json_string(j, k, &s)) {
		snprintf(why, whylen, "args: '%s' is not a string", key);
		return -1;
	}
	bad = !*s || (path && s[0] != '/');
	for (const char *p = s; *p && !bad; p++)
		bad = (unsigned char)*p < 0x20;
	free(s);
	if (bad)
		snprintf(why, whylen, "args: '%s' is not %s", key,
			 path ? "an absolute path" : "a non-empty string of one line");
	return bad ? -1 : 0;
}

/* -------------------------------------------------------------- git */

/*
 * The git operations: the fields each needs besides "op" (R required,
 * O optional, both paths when named dir, repo or path).
 */
static const struct git_op {
	const char *op;
	const char *required[3];
	const char *optional[3];
} git_ops[] = {
	{ "clone", { "url", "dir" }, { "branch" } },
	{ "fetch", { "repo" }, { "remote" } },
	{ "pull", { "repo" }, { "remote", "branch" } },
	{ "push", { "repo" }, { "remote" } },
	{ "worktree_add", { "repo", "path" }, { "branch" } },
	{ "worktree_remove", { "repo", "path" }, { NULL } },
};

static int is_path_key(const char *key)
{
	return !strcmp(key, "dir") || !strcmp(key, "repo") || !strcmp(key, "path");
}

static int git_check(const struct json *j, int t, char *why, size_t whylen)
{
	const struct git_op *op = NULL;
	int k = json_get(j, t, "op");

	for (size_t i = 0; k >= 0 && i < sizeof(git_ops) / sizeof(*git_ops); i++)
		if (json_eq(j, k, git_ops[i].op))
			op = &git_ops[i];
	if (!op) {
		snprintf(why, whylen, "args: 'op' is not clone, fetch, pull, push, worktree_add "
				      "or worktree_remove");
		return -1;
	}
	for (int i = 0; i < 3 && op->required[i]; i++)
		if (want_str(j, t, op->required[i], 1, is_path_key(op->required[i]), why, whylen))
			return -1;
	for (int i = 0; i < 3 && op->optional[i]; i++)
		if (want_str(j, t, op->optional[i], 0, 0, why, whylen))
			return -1;
	k = json_get(j, t, "refspecs");
	if (k >= 0) {
		if (strcmp(op->op, "push") || j->tok[k].type != JSON_ARRAY) {
			snprintf(why, whylen, "args: 'refspecs' is an array of strings, for push only");
			return -1;
		}
		for (int i = 0, c = k + 1; i < j->tok[k].size; i++, c++)
			if (j->tok[c].type != JSON_STRING) {
				snprintf(why, whylen, "args: 'refspecs' is an array of strings");
				return -1;
			}
	}
	return 0;
}

/* "git OP" and its operands in the order of q git's command line. */
static void git_describe(struct buf *b, const struct job *job)
{
	static const char *const shown[] = { "url", "dir", "path", "remote", "branch", "refspecs" };
	struct json j;
	const char *why;
	char *op = job_arg_str(job, "op");

	buf_adds(b, "git ");
	for (const char *p = op ? op : "?"; *p; p++)
		buf_addc(b, *p == '_' ? ' ' : *p);
	if (!job->args || json_parse(&j, job->args, strlen(job->args), &why))
		goto out;
	for (size_t i = 0; i < sizeof(shown) / sizeof(*shown); i++) {
		int k = json_get(&j, 0, shown[i]), n = k < 0 ? 0 : j.tok[k].type == JSON_ARRAY
									 ? j.tok[k].size : 1;

		for (int e = 0; e < n; e++) {
			char *v;

			if (json_string(&j, j.tok[k].type == JSON_ARRAY ? k + 1 + e : k, &v))
				continue;
			buf_adds(b, op && !strcmp(op, "clone") && !strcmp(shown[i], "branch") ? " -b "
												: " ");
			shell_quote(b, v);
			free(v);
		}
	}
	json_release(&j);
out:
	free(op);
}

/* ----------------------------------------------------------- prompt */

/* A prompt for an agent session: args {"text": TEXT}, any number of lines. */
static int prompt_check(const struct json *j, int t, char *why, size_t whylen)
{
	int k = json_get(j, t, "text");
	char *s = NULL;
	int bad = k < 0 || json_string(j, k, &s) || !*s;

	free(s);
	if (bad)
		snprintf(why, whylen, "args: 'text' is not a non-empty string");
	return bad ? -1 : 0;
}

/* "prompt: " and the text's first line, control characters as spaces. */
static void prompt_describe(struct buf *b, const struct job *job)
{
	char *text = job_arg_str(job, "text");
	const char *p = text ? text : "?";

	buf_adds(b, "prompt: ");
	while (*p == '\n' || *p == ' ')
		p++;
	for (; *p && *p != '\n' && b->len < 4096; p++)
		buf_addc(b, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
	free(text);
}
#endif /* Q_EXEC_ONLY */

const struct job_type job_types[] = {
	{ "exec", RUN_EXEC, NULL, NULL, exec_describe },
#ifndef Q_EXEC_ONLY
	{ "git", RUN_HELPER, "q-git", git_check, git_describe },
	/* GitHub API calls (src/gh.c has the args schema) */
	{ "github", RUN_HELPER, "q-github", gh_args_check, gh_describe },
	{ "prompt", RUN_LEASE, NULL, prompt_check, prompt_describe },
#endif
	{ NULL, RUN_EXEC, NULL, NULL, NULL },
};

const struct job_type *job_type_find(const char *name)
{
	for (const struct job_type *t = job_types; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}
