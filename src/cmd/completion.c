/*
 * q completion: a completion script for bash, zsh or fish, made from the
 * command table (q.c): the commands, each one's options, and job ids
 * (from q list) where a command takes an ID.
 */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

/* Append the options of c ("-p --priority ..."), space-separated, to b. */
static void options_of(const struct cmd *c, struct buf *b, int longs_only)
{
	for (const char *p = c->options; p && *p;) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl : p + strlen(p);

		/* An option line starts with "-x, --name" or "    --name". */
		while (p < e && *p == ' ')
			p++;
		while (p < e && *p == '-') {
			const char *w = p;

			while (p < e && *p != ' ' && *p != ',')
				p++;
			if (!longs_only || (p - w > 2 && w[1] == '-')) {
				if (b->len)
					buf_addc(b, ' ');
				buf_add(b, w, p - w);
			}
			while (p < e && (*p == ',' || *p == ' '))
				p++;
		}
		p = nl ? nl + 1 : e;
	}
}

/* Append s in single quotes: a quote inside as '\'' (POSIX shells) or \' (fish). */
static void quoted(struct buf *b, const char *s, int fish)
{
	buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, fish ? "\\'" : "'\\''");
		else if (*s == '\\' && fish)
			buf_adds(b, "\\\\");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

/* Does the command take job ids? */
static int takes_ids(const struct cmd *c)
{
	const char *u = strstr(c->usage, " ID");

	return u && (u[3] == ' ' || u[3] == '.' || u[3] == ']' || u[3] == '\0');
}

/* Every command's name, space-separated. */
static void command_names(struct buf *b)
{
	for (const struct cmd *c = commands; c->name; c++)
		buf_addf(b, "%s%s", c == commands ? "" : " ", c->name);
}

/* A case arm per command with options: "INDENT NAME) BEFORE OPTIONS AFTER ;;". */
static void option_arms(struct buf *b, const char *indent, const char *before, const char *after)
{
	for (const struct cmd *c = commands; c->name; c++) {
		struct buf o = BUF_INIT;

		options_of(c, &o, 0);
		if (o.len)
			buf_addf(b, "%s%s) %s%s%s ;;\n", indent, c->name, before, o.s, after);
		buf_release(&o);
	}
}

/* The commands that take job ids, as a case pattern: "cancel|log|...". */
static void id_commands(struct buf *b)
{
	for (const struct cmd *c = commands, *first = NULL; c->name; c++)
		if (takes_ids(c)) {
			buf_addf(b, "%s%s", first ? "|" : "", c->name);
			first = c;
		}
}

static void bash(struct buf *b)
{
	buf_adds(b, "# q completion for bash: eval \"$(q completion bash)\" in ~/.bashrc\n"
		    "_q() {\n"
		    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} i=1 cmd opts\n"
		    "\t# Skip the global option -C DIR.\n"
		    "\twhile [ \"${COMP_WORDS[i]}\" = -C ] && [ $i -lt $COMP_CWORD ]; do i=$((i + 2)); done\n"
		    "\tif [ $COMP_CWORD -le $i ]; then\n"
		    "\t\tCOMPREPLY=($(compgen -W \"");
	command_names(b);
	buf_adds(b, "\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcmd=${COMP_WORDS[i]}\n\tcase $cmd in\n");
	option_arms(b, "\t", "opts=\"", "\"");
	buf_adds(b, "\tesac\n"
		    "\tif [[ $cur == -* ]]; then\n"
		    "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
		    "\t\treturn\n"
		    "\tfi\n"
		    "\tcase $cmd in\n\t");
	id_commands(b);
	buf_adds(b, ")\n"
		    "\t\tCOMPREPLY=($(compgen -W \"@ $(q list 2>/dev/null | cut -d' ' -f1)\" -- \"$cur\")) ;;\n"
		    "\thelp | completion)\n"
		    "\t\tCOMPREPLY=($(compgen -W \"");
	command_names(b);
	buf_adds(b, " bash zsh fish\" -- \"$cur\")) ;;\n"
		    "\t*) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
		    "\tesac\n"
		    "}\n"
		    "complete -F _q q\n");
}

static void zsh(struct buf *b)
{
	buf_adds(b, "#compdef q\n"
		    "# q completion for zsh: q completion zsh > ~/.zfunc/_q (with ~/.zfunc in fpath)\n"
		    "_q() {\n"
		    "\tlocal -a cmds\n"
		    "\tcmds=(\n");
	for (const struct cmd *c = commands; c->name; c++) {
		struct buf d = BUF_INIT;

		buf_addf(&d, "%s:%s", c->name, c->help);
		buf_adds(b, "\t\t");
		quoted(b, d.s, 0);
		buf_addc(b, '\n');
		buf_release(&d);
	}
	buf_adds(b, "\t)\n"
		    "\tif (( CURRENT == 2 )); then\n"
		    "\t\t_describe 'command' cmds\n"
		    "\t\treturn\n"
		    "\tfi\n"
		    "\tif [[ $words[CURRENT] == -* ]]; then\n"
		    "\t\tcase $words[2] in\n");
	option_arms(b, "\t\t", "compadd -- ", "");
	buf_adds(b, "\t\tesac\n"
		    "\t\treturn\n"
		    "\tfi\n"
		    "\tcase $words[2] in\n\t");
	id_commands(b);
	buf_adds(b, ")\n"
		    "\t\tcompadd -- @ ${(f)\"$(q list 2>/dev/null | cut -d' ' -f1)\"} ;;\n"
		    "\t*) _files ;;\n"
		    "\tesac\n"
		    "}\n"
		    "compdef _q q\n");
}

static void fish(struct buf *b)
{
	buf_adds(b, "# q completion for fish: q completion fish > ~/.config/fish/completions/q.fish\n"
		    "complete -c q -f\n");
	for (const struct cmd *c = commands; c->name; c++) {
		struct buf o = BUF_INIT;
		const char *p;

		buf_addf(b, "complete -c q -n __fish_use_subcommand -a %s -d ", c->name);
		quoted(b, c->help, 1);
		buf_addc(b, '\n');
		options_of(c, &o, 0);
		for (p = o.s; p && *p;) {
			const char *e = strchr(p, ' ');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			if (n > 2 && p[1] == '-')
				buf_addf(b, "complete -c q -n '__fish_seen_subcommand_from %s' -l %.*s\n",
					 c->name, (int)n - 2, p + 2);
			else if (n == 2)
				buf_addf(b, "complete -c q -n '__fish_seen_subcommand_from %s' -s %c\n",
					 c->name, p[1]);
			p = e ? e + 1 : p + n;
		}
		buf_release(&o);
		if (takes_ids(c))
			buf_addf(b, "complete -c q -n '__fish_seen_subcommand_from %s' "
				    "-a '@ (q list 2>/dev/null | string split -f1 \" \")'\n", c->name);
	}
}

int cmd_completion(int argc, char **argv)
{
	struct buf b = BUF_INIT;

	if (argc != 2)
		return usage_error("completion", argc < 2 ? "no shell given (bash, zsh or fish)"
							  : "too many arguments");
	if (!strcmp(argv[1], "bash"))
		bash(&b);
	else if (!strcmp(argv[1], "zsh"))
		zsh(&b);
	else if (!strcmp(argv[1], "fish"))
		fish(&b);
	else
		return usage_error("completion", "unknown shell '%s': want bash, zsh or fish", argv[1]);
	out_buf(&b);
	buf_release(&b);
	return EXIT_OK;
}
