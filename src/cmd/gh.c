/*
 * q gh: queue GitHub API calls.  Each command writes one job of type
 * "github" (src/gh.h; run by the helper q-github) and prints its id at
 * once; the mode (sync.mode, --sync, --async, --manual) decides when
 * it is sent.  An issue q has not created yet is named by the id of
 * the job that creates it: the new job waits for that one and reads
 * the number from its result.  Jobs on one issue wait for each other
 * in the order they were queued.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "gh.h"
#include "json.h"
#include "ops.h"
#include "worker.h"

enum {
	G_REPO = 1, G_TITLE, G_BODY, G_LABEL, G_ASSIGNEE, G_ADD_LABEL, G_REMOVE_LABEL,
	G_ADD_ASSIGNEE, G_REMOVE_ASSIGNEE, G_REASON, G_FIELD, G_INPUT, G_SYNC, G_ASYNC, G_MANUAL,
	G_JSON
};

static const struct opt gh_options[] = {
	{ "repo", 'R', 1, G_REPO },
	{ "title", 't', 1, G_TITLE },
	{ "body", 'b', 1, G_BODY },
	{ "label", 'l', 1, G_LABEL },
	{ "assignee", 'a', 1, G_ASSIGNEE },
	{ "add-label", 0, 1, G_ADD_LABEL },
	{ "remove-label", 0, 1, G_REMOVE_LABEL },
	{ "add-assignee", 0, 1, G_ADD_ASSIGNEE },
	{ "remove-assignee", 0, 1, G_REMOVE_ASSIGNEE },
	{ "reason", 0, 1, G_REASON },
	{ "field", 'f', 1, G_FIELD },
	{ "input", 0, 1, G_INPUT },
	{ "sync", 0, 0, G_SYNC },
	{ "async", 0, 0, G_ASYNC },
	{ "manual", 0, 0, G_MANUAL },
	{ "json", 0, 0, G_JSON },
	{ NULL, 0, 0, 0 },
};

#define BIT(o) (1u << (o))
#define COMMON (BIT(G_REPO) | BIT(G_SYNC) | BIT(G_ASYNC) | BIT(G_MANUAL) | BIT(G_JSON))

/* The commands: words, the op of their jobs, operands (after the words), options. */
static const struct gh_cmd {
	const char *w1, *w2;
	const char *op;
	int operands;          /* api: METHOD PATH; label: REF NAME; edit, close, comment: REF */
	unsigned opts;
} gh_cmds[] = {
	{ "api", NULL, "api", 2, COMMON | BIT(G_FIELD) | BIT(G_INPUT) },
	{ "issue", "create", "issue_create", 0,
	  COMMON | BIT(G_TITLE) | BIT(G_BODY) | BIT(G_LABEL) | BIT(G_ASSIGNEE) },
	{ "issue", "edit", "issue_edit", 1,
	  COMMON | BIT(G_TITLE) | BIT(G_BODY) | BIT(G_ADD_LABEL) | BIT(G_REMOVE_LABEL) |
		  BIT(G_ADD_ASSIGNEE) | BIT(G_REMOVE_ASSIGNEE) },
	{ "issue", "close", "issue_close", 1, COMMON | BIT(G_REASON) },
	{ "issue", "comment", "issue_comment", 1, COMMON | BIT(G_BODY) },
	{ "label", "add", "label_add", 2, COMMON },
	{ "label", "remove", "label_remove", 2, COMMON },
};

/* What the command line asked for. */
struct gh_req {
	const struct gh_cmd *cmd;
	const char *operand[2];
	const char *title, *body, *reason, *repo, *input;
	struct strv labels, assignees, add_labels, remove_labels, add_assignees, remove_assignees;
	struct strv fields;      /* KEY=VALUE */
	int mode, json;
};

/* The issue a command is about, and where it is. */
struct target {
	struct gh_api api;
	char repo[GH_REPO_MAX];
	int64_t number;             /* -1: not known yet */
	char creator[ID_LEN + 1];   /* the job that creates it, when number is not known */
	char order[GH_HOST_MAX + GH_REPO_MAX + 40];  /* the key of gh_order_begin */
};

static void req_release(struct gh_req *r)
{
	strv_clear(&r->labels);
	strv_clear(&r->assignees);
	strv_clear(&r->add_labels);
	strv_clear(&r->remove_labels);
	strv_clear(&r->add_assignees);
	strv_clear(&r->remove_assignees);
	strv_clear(&r->fields);
}

/* One line of UTF-8 without control characters (a title, a label, a login). */
static int one_line(const char *s)
{
	if (!*s || !utf8_valid(s, strlen(s)))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int parse(int argc, char **argv, struct gh_req *r)
{
	struct strv words = { NULL, 0 };
	const char *arg;
	int i = 1, id, ret = EXIT_OK;

	/* Options are checked against the command once it is known (options_allowed). */
	r->mode = -1;
	while ((id = opt_mixed(argc, argv, &i, gh_options, &arg, "gh")) > 0) {
		struct strv *list = NULL;

		if (id == OPT_OPERAND) {
			strv_push(&words, arg);
			continue;
		}
		switch (id) {
		case G_REPO: r->repo = arg; break;
		case G_TITLE: r->title = arg; break;
		case G_BODY: r->body = arg; break;
		case G_REASON: r->reason = arg; break;
		case G_INPUT: r->input = arg; break;
		case G_LABEL: list = &r->labels; break;
		case G_ASSIGNEE: list = &r->assignees; break;
		case G_ADD_LABEL: list = &r->add_labels; break;
		case G_REMOVE_LABEL: list = &r->remove_labels; break;
		case G_ADD_ASSIGNEE: list = &r->add_assignees; break;
		case G_REMOVE_ASSIGNEE: list = &r->remove_assignees; break;
		case G_FIELD: list = &r->fields; break;
		case G_JSON: r->json = 1; break;
		default:
			if (r->mode >= 0) {
				ret = usage_error("gh", "--sync, --async and --manual exclude each other");
				goto out;
			}
			r->mode = id == G_SYNC ? MODE_SYNC : id == G_ASYNC ? MODE_ASYNC : MODE_MANUAL;
		}
		if (list && !one_line(arg)) {
			ret = usage_error("gh", "bad value '%s': want one line of text", arg);
			goto out;
		}
		if (list)
			strv_push(list, arg);
	}
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	for (; i < argc; i++)
		strv_push(&words, argv[i]);
	for (size_t k = 0; k < sizeof(gh_cmds) / sizeof(*gh_cmds) && !r->cmd; k++) {
		const struct gh_cmd *c = &gh_cmds[k];

		if (words.n >= 1 && !strcmp(words.v[0], c->w1) &&
		    (!c->w2 || (words.n >= 2 && !strcmp(words.v[1], c->w2))))
			r->cmd = c;
	}
	if (!r->cmd) {
		ret = usage_error("gh", words.n ? "unknown command 'gh %s%s%s'" : "no command given",
				  words.n ? words.v[0] : "", words.n > 1 ? " " : "",
				  words.n > 1 ? words.v[1] : "");
		goto out;
	}
	{
		int skip = r->cmd->w2 ? 2 : 1, n = words.n - skip;

		if (n != r->cmd->operands) {
			ret = usage_error("gh", "'gh %s%s%s' takes %d argument%s, not %d", r->cmd->w1,
					  r->cmd->w2 ? " " : "", r->cmd->w2 ? r->cmd->w2 : "",
					  r->cmd->operands, r->cmd->operands == 1 ? "" : "s", n);
			goto out;
		}
		for (int k = 0; k < n; k++)
			r->operand[k] = xstrdup(words.v[skip + k]);
	}
out:
	strv_clear(&words);
	return ret;
}

/* Were only options of this command given?  (Checked by scanning argv again.) */
static int options_allowed(int argc, char **argv, const struct gh_req *r)
{
	const char *arg;
	int i = 1, id;

	while ((id = opt_mixed(argc, argv, &i, gh_options, &arg, "gh")) > 0) {
		if (id == OPT_OPERAND || (r->cmd->opts & BIT(id)))
			continue;
		for (const struct opt *o = gh_options; o->name; o++)
			if (o->id == id)
				return usage_error("gh", "option '--%s' is not one of 'gh %s%s%s'",
						   o->name, r->cmd->w1, r->cmd->w2 ? " " : "",
						   r->cmd->w2 ? r->cmd->w2 : "");
	}
	return EXIT_OK;
}

/* ------------------------------------------------------------ targets */

/* The repository of --repo [HOST/]OWNER/REPO, or of the git remote. */
static int repo_target(struct spool *sp, const char *repo, struct target *t)
{
	char cwd[PATH_MAX];

	if (repo) {
		const char *s1 = strchr(repo, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
		struct buf url = BUF_INIT;
		int bad;

		if (!s2) {
			bad = !gh_repo_valid(repo) ||
			      gh_api_parse(sp->cfg.github_api_url, &t->api) ||
			      xsnprintf(t->repo, sizeof(t->repo), "%s", repo);
		} else {
			buf_addf(&url, "https://%s", repo);
			bad = gh_remote_parse(url.s, sp->cfg.github_api_url, &t->api, t->repo);
		}
		buf_release(&url);
		if (bad)
			return usage_error("gh", "bad repository '%s': want [HOST/]OWNER/REPO", repo);
		return EXIT_OK;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return error_errno("cannot get the current directory"), EXIT_RUNTIME;
	return gh_repo_from_git(cwd, sp->cfg.github_api_url, &t->api, t->repo) ? EXIT_RUNTIME
									     : EXIT_OK;
}

static char *json_field(const struct json *j, const char *key)
{
	int k = json_get(j, 0, key);
	char *s;

	return k >= 0 && !json_string(j, k, &s) ? s : NULL;
}

/*
 * The issue REF names: a number (12 or #12) in the repository of
 * --repo or the remote, or a GitHub job about an issue (the job that
 * creates it, or one on it): its repository, and its number once known.
 */
static int ref_target(struct spool *sp, const char *ref, const char *repo, struct target *t)
{
	struct jobref jr;
	struct job job;
	struct json j;
	struct buf res = BUF_INIT;
	const char *why, *digits = ref[0] == '#' ? ref + 1 : ref;
	char *op = NULL, *s = NULL;
	long long n;
	int ret;

	t->number = -1;
	t->creator[0] = '\0';
	if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
		if (parse_int(digits, 1, INT32_MAX, &n))
			return usage_error("gh", "bad issue number '%s'", ref);
		if ((ret = repo_target(sp, repo, t)))
			return ret;
		t->number = n;
		snprintf(t->order, sizeof(t->order), "%s %s#%lld", t->api.host, t->repo, n);
		return EXIT_OK;
	}
	if (!id_prefix_valid(ref))
		return usage_error("gh", "bad issue '%s': want a number or the id of a GitHub job",
				   ref);
	if ((ret = cmd_find(sp, ref, &jr)))
		return ret;
	job_init(&job);
	if (spool_load(sp, &jr, &job, NULL)) {
		job_release(&job);
		return EXIT_RUNTIME;
	}
	ret = EXIT_USAGE;
	if (!job.type || strcmp(job.type->name, "github") || !job.args ||
	    json_parse(&j, job.args, strlen(job.args), &why)) {
		error("job %s is not a GitHub job", jr.id);
		goto out;
	}
	op = json_field(&j, "op");
	s = json_field(&j, "api_url");
	if (!op || !strcmp(op, "api") || !s || gh_api_parse(s, &t->api)) {
		error("job %s is not about an issue", jr.id);
		goto done;
	}
	free(s);
	s = json_field(&j, "repo");
	snprintf(t->repo, sizeof(t->repo), "%s", s ? s : "");
	if (repo) {
		/* --repo may only say the same as the job does. */
		struct target given;

		if ((ret = repo_target(sp, repo, &given)))
			goto done;
		ret = EXIT_USAGE;
		if (strcmp(given.repo, t->repo) || strcmp(given.api.host, t->api.host)) {
			error("job %s is about %s on %s, not %s", jr.id, t->repo, t->api.host, repo);
			goto done;
		}
	}
	free(s);
	s = NULL;
	if (!strcmp(op, "issue_create")) {
		memcpy(t->creator, jr.id, ID_LEN + 1);
	} else if ((s = json_field(&j, "issue_job"))) {
		snprintf(t->creator, sizeof(t->creator), "%s", s);
	} else {
		int64_t v;
		int k = json_get(&j, 0, "issue");

		if (k < 0 || json_int(&j, k, &v))
			goto done;
		t->number = v;
	}
	if (t->creator[0]) {
		struct jobref cr;
		int found = spool_locate(sp, t->creator, &cr);

		snprintf(t->order, sizeof(t->order), "%s %s#%s", t->api.host, t->repo, t->creator);
		if (found == SP_OK && cr.state == ST_DONE) {
			/* It has created the issue: its result has the number. */
			struct json rj;
			int64_t v;
			int k;

			if (!spool_result_load(sp, t->creator, &res) && res.len &&
			    !json_parse(&rj, res.s, res.len, &why)) {
				if ((k = json_get(&rj, 0, "number")) >= 0 && !json_int(&rj, k, &v) && v > 0)
					t->number = v;
				json_release(&rj);
			}
			if (t->number < 0) {
				error("job %s completed without an issue number", t->creator);
				ret = EXIT_NO;
				goto done;
			}
		} else if (found != SP_OK || state_final(cr.state)) {
			error("job %s, which creates the issue, is %s: no issue to act on "
			      "(q sync retry %s)", t->creator,
			      found == SP_OK ? state_name(cr.state) : "gone", t->creator);
			ret = EXIT_NO;
			goto done;
		}
	} else {
		snprintf(t->order, sizeof(t->order), "%s %s#%lld", t->api.host, t->repo,
			 (long long)t->number);
	}
	ret = EXIT_OK;
done:
	json_release(&j);
out:
	free(op);
	free(s);
	buf_release(&res);
	job_release(&job);
	return ret;
}

/* ---------------------------------------------------------------- args */

static void put_list(struct jw *w, const char *key, const struct strv *v)
{
	if (!v->n)
		return;
	jw_key(w, key);
	jw_arr(w);
	for (int i = 0; i < v->n; i++)
		jw_str(w, v->v[i]);
	jw_arr_end(w);
}

static void put_str(struct jw *w, const char *key, const char *s)
{
	if (!s)
		return;
	jw_key(w, key);
	jw_str(w, s);
}

/* PATH with {owner} and {repo} filled in (as gh api does). */
static void fill_path(struct buf *b, const char *path, const char *repo)
{
	const char *slash = strchr(repo, '/');

	if (path[0] != '/')
		buf_addc(b, '/');
	while (*path) {
		if (!strncmp(path, "{owner}", 7)) {
			buf_add(b, repo, slash - repo);
			path += 7;
		} else if (!strncmp(path, "{repo}", 6)) {
			buf_adds(b, slash + 1);
			path += 6;
		} else {
			buf_addc(b, *path++);
		}
	}
}

/* The API call of q gh api: METHOD, PATH, fields or --input. */
static int api_args(struct spool *sp, const struct gh_req *r, struct target *t, struct jw *w)
{
	struct buf path = BUF_INIT, in = BUF_INIT;
	char method[8];
	const char *m = r->operand[0], *p = r->operand[1];
	int ret = EXIT_OK, fd;
	size_t i;

	for (i = 0; m[i] && i + 1 < sizeof(method); i++)
		method[i] = (char)(m[i] >= 'a' && m[i] <= 'z' ? m[i] - 32 : m[i]);
	method[i] = '\0';
	if (m[i] || (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PATCH") &&
		     strcmp(method, "PUT") && strcmp(method, "DELETE")))
		return usage_error("gh", "bad method '%s': want GET, POST, PATCH, PUT or DELETE", m);
	if (strstr(p, "://") || !one_line(p) || strchr(p, ' '))
		return usage_error("gh", "bad path '%s': want an API path like /repos/OWNER/REPO", p);
	if (strstr(p, "{owner}") || strstr(p, "{repo}") || r->repo) {
		if ((ret = repo_target(sp, r->repo, t)))
			return ret;
	} else if (gh_api_parse(sp->cfg.github_api_url, &t->api)) {
		return error("bad github.api_url '%s'", sp->cfg.github_api_url), EXIT_RUNTIME;
	}
	fill_path(&path, p, t->repo[0] ? t->repo : "-/-");
	if (!gh_path_valid(path.s) || path.s[path.len - 1] == '/') {
		ret = usage_error("gh", "bad path '%s': an empty part, a trailing '/' or a '#'", p);
		goto out;
	}
	put_str(w, "method", method);
	put_str(w, "path", path.s);
	if (r->input && r->fields.n) {
		ret = usage_error("gh", "--input and -f exclude each other");
		goto out;
	}
	if (r->fields.n) {
		jw_key(w, "fields");
		jw_obj(w);
		for (int k = 0; k < r->fields.n; k++) {
			const char *eq = strchr(r->fields.v[k], '=');
			char *key;

			if (!eq || eq == r->fields.v[k]) {
				ret = usage_error("gh", "bad field '%s': want KEY=VALUE", r->fields.v[k]);
				goto out;
			}
			key = xstrndup(r->fields.v[k], eq - r->fields.v[k]);
			jw_key(w, key);
			jw_str(w, eq + 1);
			free(key);
		}
		jw_obj_end(w);
	}
	if (r->input) {
		fd = strcmp(r->input, "-") ? open(r->input, O_RDONLY | O_CLOEXEC) : 0;
		if (fd < 0 || f_read_all(fd, JOB_ARGS_MAX / 2, &in)) {
			ret = EXIT_RUNTIME;
			error_errno("cannot read '%s'", r->input);
		} else if (!utf8_valid(in.s ? in.s : "", in.len) || (in.len && memchr(in.s, 0, in.len))) {
			ret = usage_error("gh", "'%s' is not UTF-8 text", r->input);
		} else {
			put_str(w, "input", in.s ? in.s : "");
		}
		if (fd > 0)
			close(fd);
	}
out:
	buf_release(&path);
	buf_release(&in);
	return ret;
}

/* The args of the request; fills t.  EXIT_OK or a status (said). */
static int build_args(struct spool *sp, const struct gh_req *r, struct target *t, struct buf *out)
{
	const char *op = r->cmd->op;
	struct jw w;
	int ret;

	if (r->title && !one_line(r->title))
		return usage_error("gh", "bad title: want one line of text");
	if (r->body && !utf8_valid(r->body, strlen(r->body)))
		return usage_error("gh", "bad body: want UTF-8 text");
	if (r->reason && strcmp(r->reason, "completed") && strcmp(r->reason, "not_planned"))
		return usage_error("gh", "bad reason '%s': want completed or not_planned", r->reason);
	if (!strcmp(op, "issue_create") && !r->title)
		return usage_error("gh", "'gh issue create' needs --title");
	if (!strcmp(op, "issue_comment") && (!r->body || !*r->body))
		return usage_error("gh", "'gh issue comment' needs --body");
	if (!strcmp(op, "issue_edit") && !r->title && !r->body && !r->add_labels.n &&
	    !r->remove_labels.n && !r->add_assignees.n && !r->remove_assignees.n)
		return usage_error("gh", "'gh issue edit' needs something to change");
	if (!strncmp(op, "label_", 6) && !one_line(r->operand[1]))
		return usage_error("gh", "bad label '%s'", r->operand[1]);
	if (r->fields.n && strcmp(op, "api"))
		return usage_error("gh", "-f is for 'gh api'");

	t->number = -1;
	t->creator[0] = t->repo[0] = t->order[0] = '\0';
	jw_init(&w, out);
	jw_obj(&w);
	put_str(&w, "op", op);
	if (!strcmp(op, "api")) {
		ret = api_args(sp, r, t, &w);
	} else if (!strcmp(op, "issue_create")) {
		ret = repo_target(sp, r->repo, t);
	} else {
		ret = ref_target(sp, r->operand[0], r->repo, t);
	}
	if (ret)
		return ret;
	put_str(&w, "api_url", t->api.url);
	if (strcmp(op, "api"))
		put_str(&w, "repo", t->repo);
	if (t->number > 0) {
		jw_key(&w, "issue");
		jw_int(&w, t->number);
	} else if (t->creator[0]) {
		put_str(&w, "issue_job", t->creator);
	}
	put_str(&w, "title", r->title);
	put_str(&w, "body", r->body);
	put_list(&w, "labels", &r->labels);
	put_list(&w, "assignees", &r->assignees);
	put_list(&w, "add_labels", &r->add_labels);
	put_list(&w, "remove_labels", &r->remove_labels);
	put_list(&w, "add_assignees", &r->add_assignees);
	put_list(&w, "remove_assignees", &r->remove_assignees);
	put_str(&w, "state_reason", r->reason);
	if (!strncmp(op, "label_", 6))
		put_str(&w, "label", r->operand[1]);
	jw_obj_end(&w);
	if (out->len > JOB_ARGS_MAX)
		return usage_error("gh", "the request is larger than %d KiB", JOB_ARGS_MAX >> 10);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- run */

/*
 * --sync: send it now and print what the helper printed.  A job that
 * cannot go now (offline, rate limited, waiting for another) stays
 * queued for a detached worker: exit 5 with why.
 */
static int run_now(struct spool *sp, const char *id, enum state initial)
{
	struct worker_opts o = { .once = 1, .jobs = 1, .only = id, .slot = -1 };
	struct worker_stats stats;
	struct jobref ref;
	int64_t next;

	if (initial == ST_WAITING && spool_promote(sp, &next, NULL) < 0)
		return EXIT_RUNTIME;
	if (spool_locate(sp, id, &ref) != SP_OK)
		return error("job '%s' vanished", id), EXIT_RUNTIME;
	if (ref.state == ST_PENDING && worker_run(sp, &o, &stats))
		return EXIT_RUNTIME;
	if (spool_locate(sp, id, &ref) != SP_OK)
		return error("job '%s' vanished", id), EXIT_RUNTIME;
	if (print_logs(sp, &ref, 1, "out", 0))
		return EXIT_RUNTIME;
	if (!state_final(ref.state)) {
		error("job %s is %s: not sent yet; a worker sends it later (q sync status)", id,
		      state_name(ref.state));
		if (!spool_paused(sp))
			op_spawn_worker(sp);
		return EXIT_PENDING;
	}
	if (ref.state != ST_DONE)
		error("job %s %s (q sync status)", id, state_status(ref.state));
	return job_exit_status(ref.state);
}

static int enqueue(struct spool *sp, const struct gh_req *r, struct target *t, struct buf *args)
{
	const struct config *cfg = &sp->cfg;
	struct job job;
	struct json j;
	const char *why = NULL;
	char cwd[PATH_MAX], prev[ID_LEN + 1] = "", dup[ID_LEN + 1], check[200];
	enum state initial;
	int order = -1, ret = EXIT_OK, mode = r->mode >= 0 ? r->mode : cfg->mode;

	if (json_parse(&j, args->s, args->len, &why) || gh_args_check(&j, 0, check, sizeof(check))) {
		json_release(&j);
		return error("cannot queue the request: %s", why ? why : check), EXIT_RUNTIME;
	}
	if (!getcwd(cwd, sizeof(cwd)) || !utf8_valid(cwd, strlen(cwd)))
		return error_errno("cannot get the current directory"), EXIT_RUNTIME;
	job_init(&job);
	job.type = job_type_find("github");
	job.args = xstrndup(args->s, args->len);
	job.cwd = xstrdup(cwd);
	op_capture_env(&job, NULL);
	job.created_at = now_ms();
	job.max_interrupts = -1;
	job.backoff_ms = -1;
	gh_job_prepare(cfg, &job, &j, 0);
	json_release(&j);
	if (t->order[0]) {
		if ((order = gh_order_begin(sp, t->order, prev)) < 0) {
			ret = EXIT_RUNTIME;
			goto out;
		}
		if (prev[0] && strcmp(prev, t->creator))
			strv_push(&job.after, prev);
	}
	switch (op_add(sp, &job, 0, &initial, dup)) {
	case OP_OK: break;
	case OP_FULL: ret = EXIT_FULL; goto out;
	default: ret = EXIT_RUNTIME; goto out;
	}
	if (order >= 0) {
		gh_order_end(sp, order, t->order, job.id);
		order = -1;
	}
	if (r->json)
		printf("{\"id\":\"%s\"}\n", job.id);
	else
		printf("%s\n", job.id);
	if ((ret = cmd_id_printed(sp, &job, initial)))
		goto out;
	if (mode == MODE_SYNC)
		ret = run_now(sp, job.id, initial);
	else if (mode == MODE_ASYNC && !spool_paused(sp))
		op_spawn_worker(sp);
out:
	if (order >= 0)
		gh_order_end(sp, order, t->order, NULL);
	job_release(&job);
	return ret;
}

int cmd_gh(int argc, char **argv)
{
	struct gh_req r;
	struct spool sp;
	struct target t;
	struct buf args = BUF_INIT;
	int ret;

	memset(&r, 0, sizeof(r));
	if ((ret = parse(argc, argv, &r)) || (ret = options_allowed(argc, argv, &r)))
		goto out;
	if ((ret = cmd_open(&sp, 1, NULL)))
		goto out;
	if (!(ret = build_args(&sp, &r, &t, &args)))
		ret = enqueue(&sp, &r, &t, &args);
	spool_release(&sp);
out:
	free((char *)r.operand[0]);
	free((char *)r.operand[1]);
	buf_release(&args);
	req_release(&r);
	return ret;
}
