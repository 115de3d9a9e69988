src/worker.o: src/worker.c src/worker.h src/spool.h src/config.h \
 src/event.h src/json.h src/util.h src/job.h src/file.h src/proc.h
src/worker.h:
src/spool.h:
src/config.h:
src/event.h:
src/json.h:
src/util.h:
src/job.h:
src/file.h:
src/proc.h:
