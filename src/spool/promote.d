src/spool/promote.o: src/spool/promote.c src/spool/internal.h src/file.h \
 src/util.h src/spool.h src/config.h src/event.h src/json.h src/job.h
src/spool/internal.h:
src/file.h:
src/util.h:
src/spool.h:
src/config.h:
src/event.h:
src/json.h:
src/job.h:
