/* q remote: the PostgreSQL remote, run by its helper q-remote. */
#include "cmd.h"

#include "ops.h"

int cmd_remote(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("remote", "no subcommand given");
	return op_remote_exec(argc - 1, argv + 1);
}
