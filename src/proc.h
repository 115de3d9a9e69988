#ifndef Q_PROC_H
#define Q_PROC_H
/*
 * Processes, as /proc shows them: a process's parent and start time
 * (which, with its pid, names it for good: a pid is reused, a pid with
 * its start time is not), its children, and signalling a process only
 * while it is still the one we mean (pidfd).
 */
#include <stdint.h>
#include <sys/types.h>

/*
 * Read /proc/PID/stat: the parent's pid and the start time (clock ticks
 * since boot).  0, or -1 when the process is gone or unreadable.
 */
int proc_stat(pid_t pid, pid_t *ppid, int64_t *start);

/*
 * The pids whose parent is parent, into pids (at most max; the count is
 * returned, or -1 if /proc cannot be read).  Scans /proc: for the rare
 * paths only (what a job left running after it ended).
 */
int proc_children(pid_t parent, pid_t *pids, int max);

/*
 * Send sig to pid if it is still the process that started at start
 * (from proc_stat): 1 sent, 0 it is gone or another process, -1 error.
 */
int proc_signal(pid_t pid, int64_t start, int sig);

/*
 * Detached q processes this process started (a worker, q notify): a
 * subreaper adopts them when their short-lived parent exits, and must
 * not take them for what a killed job left behind.  proc_spawned_add
 * records one, proc_spawned_is tells, proc_spawned_reaped forgets one
 * that was waited for.
 */
void proc_spawned_add(pid_t pid);
int proc_spawned_is(pid_t pid);
void proc_spawned_reaped(pid_t pid);

#endif
