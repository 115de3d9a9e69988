src/cmd/progress.o: src/cmd/progress.c src/cmd/cmd.h src/spool.h \
 src/config.h src/event.h src/json.h src/util.h src/job.h src/util.h \
 src/view.h src/spool.h
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
