#ifndef Q_GITARGS_H
#define Q_GITARGS_H
/*
 * Git jobs (type "git", run by the helper q-git): what every git job
 * gets, whichever front end queues it (q git, q mcp).  No libgit2 here:
 * bin/q links libc only.
 */
#include "config.h"
#include "job.h"

/* A hung transfer's limit when job.timeout is 0 (libgit2 1.5 has no network timeouts). */
#define GIT_TIMEOUT_MS (10 * 60 * 1000)
/* Attempts at least (a timed-out attempt is tried again). */
#define GIT_ATTEMPTS 3

/*
 * For a git job whose args (job->args, checked) are set: the queue of
 * its repository, "git:" and the directory that holds the repository's
 * .idlergear (the same for all its worktrees; for a clone, its new
 * directory), with room for one job, so that jobs on one repository run
 * one at a time; and, where the caller left them unset (negative), a
 * time limit (job.timeout, else GIT_TIMEOUT_MS) and at least
 * GIT_ATTEMPTS attempts; a timed-out attempt is always tried again.
 */
void git_job_prepare(const struct config *cfg, struct job *job);

#endif
