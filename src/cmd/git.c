/*
 * q git: queue a git job (clone, fetch, pull, push, worktree add and
 * remove) for the helper q-git, which runs it with libgit2 under a
 * worker.  This file only turns the command line into the job's args
 * (spool-format.md, "Job types"); bin/q never links libgit2.
 *
 * Jobs on one repository run one at a time: git_job_prepare
 * (gitargs.h) gives each the queue of its repository.
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitargs.h"
#include "json.h"

enum { G_BRANCH = A_LAST, G_LAST };

/* A subcommand: its name on the command line, its op in args, its operands. */
struct git_sub {
	const char *name;
	const char *op;
	int min, max;  /* operands; max -1: any number */
	int (*fill)(struct jw *w, char **ops, int n, const char *branch);
};

/* ---------------------------------------------------------- paths */

static int has(const char *dir, const char *name, int want_dir)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int r;

	buf_addf(&p, "%s/%s", dir, name);
	r = !lstat(p.s, &st) && (want_dir < 0 || (S_ISDIR(st.st_mode) ? 1 : 0) == want_dir);
	buf_release(&p);
	return r;
}

/*
 * p as an absolute path without symbolic links where it exists (its
 * parent, for a path that does not exist yet), else joined to the
 * current directory.  NULL (said) when the current directory is gone.
 */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *p = xstrdup(path), *real, *slash, *parent;
	size_t n = strlen(p);
	struct buf b = BUF_INIT;

	/* "dir/" names dir. */
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	real = realpath(p, NULL);
	if (real) {
		free(p);
		return real;
	}
	slash = strrchr(p, '/');
	parent = slash ? xstrndup(p, slash == p ? 1 : (size_t)(slash - p)) : xstrdup(".");
	real = slash && !slash[1] ? NULL : realpath(parent, NULL);
	free(parent);
	if (real) {
		buf_addf(&b, "%s%s%s", real, strcmp(real, "/") ? "/" : "",
			 slash ? slash + 1 : p);
		free(real);
	} else if (p[0] == '/') {
		buf_adds(&b, p);
	} else if (getcwd(cwd, sizeof(cwd))) {
		buf_addf(&b, "%s/%s", cwd, p);
	} else {
		error_errno("cannot get the current directory");
	}
	free(p);
	return b.len ? buf_detach(&b) : NULL;
}

/*
 * The repository the current directory is in: a bare repository when
 * it is one, else the nearest directory upwards that has a .git.
 */
static char *repo_here(void)
{
	char cwd[PATH_MAX], *slash;

	if (!getcwd(cwd, sizeof(cwd))) {
		error_errno("cannot get the current directory");
		return NULL;
	}
	if (has(cwd, "HEAD", 0) && has(cwd, "objects", 1) && has(cwd, "refs", 1) &&
	    !has(cwd, ".git", -1))
		return xstrdup(cwd);
	for (;;) {
		if (has(cwd, ".git", -1))
			return xstrdup(cwd);
		slash = strrchr(cwd, '/');
		if (!slash || slash == cwd)
			break;
		*slash = '\0';
	}
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	error("not in a git repository: '%s'", cwd);
	return NULL;
}

/* ------------------------------------------------------------ args */

static void put(struct jw *w, const char *key, const char *val)
{
	if (!val)
		return;
	jw_key(w, key);
	jw_str(w, val);
}

/* Is s a URL (scheme://, or scp-like user@host:path) rather than a local path? */
static int is_url(const char *s)
{
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');

	return strstr(s, "://") || (colon && colon != s && (!slash || colon < slash));
}

/*
 * A URL whose user part has a password would put a secret in the job
 * file: refused.  Tokens come from GH_TOKEN or GITHUB_TOKEN at run time.
 */
static int url_has_password(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;

	if (!p)
		return 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', end - p);
	colon = at ? memchr(p, ':', at - p) : NULL;
	return colon != NULL;
}

/* The directory git clone would pick: the URL's last part, less ".git". */
static char *clone_dir(const char *url)
{
	size_t n = strlen(url);
	const char *start;

	while (n > 1 && url[n - 1] == '/')
		n--;
	if (n > 4 && !strncmp(url + n - 4, ".git", 4))
		n -= 4;
	while (n > 1 && url[n - 1] == '/')
		n--;
	start = url + n;
	while (start > url && start[-1] != '/' && start[-1] != ':')
		start--;
	if (start == url + n || (url + n - start == 1 && *start == '.') ||
	    (url + n - start == 2 && !strncmp(start, "..", 2)))
		return NULL;
	return xstrndup(start, url + n - start);
}

static int fill_clone(struct jw *w, char **ops, int n, const char *branch)
{
	char *url, *name = NULL, *dir;

	if (url_has_password(ops[0]))
		return usage_error("git", "the URL has a password in it; q would store it in the "
					  "job: set GH_TOKEN instead");
	url = is_url(ops[0]) ? xstrdup(ops[0]) : absolute(ops[0]);
	if (!url)
		return EXIT_RUNTIME;
	if (n < 2 && !(name = clone_dir(url))) {
		free(url);
		return usage_error("git", "cannot guess a directory name from '%s': give DIR",
				   ops[0]);
	}
	dir = absolute(n > 1 ? ops[1] : name);
	free(name);
	if (!dir) {
		free(url);
		return EXIT_RUNTIME;
	}
	put(w, "url", url);
	put(w, "dir", dir);
	put(w, "branch", branch);
	free(url);
	free(dir);
	return EXIT_OK;
}

/* The repository here as args.repo. */
static int put_repo(struct jw *w)
{
	char *repo = repo_here();

	if (!repo)
		return EXIT_USAGE;
	put(w, "repo", repo);
	free(repo);
	return EXIT_OK;
}

static int fill_remote(struct jw *w, char **ops, int n, const char *branch)
{
	int ret = put_repo(w);

	if (!ret && n > 0)
		put(w, "remote", ops[0]);
	if (!ret && n > 1)
		put(w, "branch", ops[1]);
	return ret;
}

static int fill_push(struct jw *w, char **ops, int n, const char *branch)
{
	int ret = fill_remote(w, ops, n > 1 ? 1 : n, NULL);

	if (ret || n < 2)
		return ret;
	jw_key(w, "refspecs");
	jw_arr(w);
	for (int i = 1; i < n; i++)
		jw_str(w, ops[i]);
	jw_arr_end(w);
	return EXIT_OK;
}

static int fill_worktree(struct jw *w, char **ops, int n, const char *branch)
{
	int ret = put_repo(w);
	char *path;

	if (ret)
		return ret;
	if (!(path = absolute(ops[0])))
		return EXIT_RUNTIME;
	put(w, "path", path);
	free(path);
	if (n > 1)
		put(w, "branch", ops[1]);
	return EXIT_OK;
}

static const struct git_sub subs[] = {
	{ "clone", "clone", 1, 2, fill_clone },
	{ "fetch", "fetch", 0, 1, fill_remote },
	{ "pull", "pull", 0, 2, fill_remote },
	{ "push", "push", 0, -1, fill_push },
	{ "worktree add", "worktree_add", 1, 2, fill_worktree },
	{ "worktree remove", "worktree_remove", 1, 1, fill_worktree },
	{ NULL, NULL, 0, 0, NULL },
};

/* -------------------------------------------------------- the job */

/* Which subcommand argv names; *used gets how many words it took. */
static const struct git_sub *find_sub(int argc, char **argv, int *used)
{
	for (const struct git_sub *s = subs; s->name; s++) {
		const char *sp = strchr(s->name, ' ');

		if (!sp && !strcmp(argv[1], s->name)) {
			*used = 1;
			return s;
		}
		if (sp && argc > 2 && !strncmp(argv[1], s->name, sp - s->name) &&
		    !argv[1][sp - s->name] && !strcmp(argv[2], sp + 1)) {
			*used = 2;
			return s;
		}
	}
	return NULL;
}

int cmd_git(int argc, char **argv)
{
	struct opt opts[A_LAST + 2];
	const struct git_sub *sub;
	struct jobopts o;
	struct strv ops = { NULL, 0 };
	struct buf args = BUF_INIT;
	struct jw w;
	struct json j;
	const char *arg, *branch = NULL, *why;
	char reason[200];
	int i, id, used, ret = EXIT_OK;

	if (argc < 2)
		return usage_error("git", "no subcommand given");
	if (!(sub = find_sub(argc, argv, &used)))
		return usage_error("git", "no subcommand '%s%s%s'", argv[1],
				   argc > 2 && !strcmp(argv[1], "worktree") ? " " : "",
				   argc > 2 && !strcmp(argv[1], "worktree") ? argv[2] : "");
	/* q add's options, and --branch for clone. */
	memcpy(opts, add_options, (A_LAST - 1) * sizeof(*opts));
	opts[A_LAST - 1] = (struct opt){ "branch", 'b', 1, G_BRANCH };
	opts[A_LAST] = (struct opt){ NULL, 0, 0, 0 };

	jobopts_init(&o);
	o.defaults = git_job_prepare;
	i = 1 + used;
	while ((id = opt_mixed(argc, argv, &i, opts, &arg, "git")) > 0) {
		if (id == OPT_OPERAND)
			strv_push(&ops, arg);
		else if (id == G_BRANCH)
			branch = arg;
		else if ((ret = jobopts_set(&o, id, arg, "git")))
			goto out;
	}
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (ops.n < sub->min || (sub->max >= 0 && ops.n > sub->max)) {
		ret = usage_error("git", "git %s takes %s operands", sub->name,
				  ops.n < sub->min ? "more" : "fewer");
		goto out;
	}
	if (o.batch || o.job.queue) {
		ret = usage_error("git", "%s", o.batch ? "--batch is for q add"
						       : "git jobs queue by repository: no --queue");
		goto out;
	}
	if (branch && strcmp(sub->op, "clone")) {
		ret = usage_error("git", "--branch is for git clone");
		goto out;
	}
	for (int k = 0; k < ops.n; k++)
		if (!utf8_valid(ops.v[k], strlen(ops.v[k]))) {
			ret = usage_error("git", "operand %d is not valid UTF-8", k + 1);
			goto out;
		}

	jw_init(&w, &args);
	jw_obj(&w);
	put(&w, "op", sub->op);
	if ((ret = sub->fill(&w, ops.v, ops.n, branch)))
		goto out;
	jw_obj_end(&w);
	/* The same check a worker makes: say here what it would refuse. */
	if (json_parse(&j, args.s, args.len, &why)) {
		ret = usage_error("git", "bad args: %s", why);
		goto out;
	}
	o.job.type = job_type_find("git");
	if (o.job.type->check(&j, 0, reason, sizeof(reason))) {
		json_release(&j);
		ret = usage_error("git", "%s", reason);
		goto out;
	}
	json_release(&j);
	/* The queue of its repository and git's defaults: git_job_prepare, with the settings. */
	o.job.args = buf_detach(&args);
	ret = jobopts_submit(&o, "git");
out:
	buf_release(&args);
	strv_clear(&ops);
	jobopts_release(&o);
	return ret;
}
