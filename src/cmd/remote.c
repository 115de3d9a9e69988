/* q remote: the PostgreSQL remote, run by its helper q-remote. */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

int remote_exec(int argc, char **argv)
{
	struct buf path = BUF_INIT;
	char **av = xcalloc(argc + 2, sizeof(*av));

	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* So q-remote starts this q for what is q's (job.on_finish calls). */
	if (n > 0 && !memmem(self, n, " (deleted)", 10)) {
		self[n] = '\0';
		setenv("Q_BIN", self, 1);
	}
	buf_addf(&path, "%s/q-remote", worker_exec_dir());
	av[0] = path.s;
	for (int i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	fflush(stdout);
	execv(path.s, av);
	error("cannot run '%s': %s%s", path.s, strerror(errno),
	      errno == ENOENT ? " (built when libpq is there: contrib/install-deps helpers)" : "");
	free(av);
	buf_release(&path);
	return EXIT_RUNTIME;
}

int cmd_remote(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("remote", "no subcommand given");
	return remote_exec(argc - 1, argv + 1);
}
