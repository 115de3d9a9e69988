src/cmd/watch.o: src/cmd/watch.c src/cmd/cmd.h src/spool.h src/config.h \
 src/event.h src/json.h src/util.h src/job.h src/util.h src/view.h \
 src/spool.h src/file.h src/json.h
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
src/file.h:
src/json.h:
