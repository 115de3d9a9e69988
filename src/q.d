src/q.o: src/q.c src/cmd/cmd.h src/spool.h src/config.h src/event.h \
 src/json.h src/util.h src/job.h src/util.h src/view.h src/spool.h \
 src/ops.h
src/cmd/cmd.h:
src/spool.h:
src/config.h:
src/event.h:
src/json.h:
src/util.h:
src/job.h:
src/util.h:
src/view.h:
src/spool.h:
src/ops.h:
