src/spool/log.o: src/spool/log.c src/spool/internal.h src/file.h \
 src/util.h src/spool.h src/config.h src/event.h src/json.h src/job.h \
 src/json.h
src/spool/internal.h:
src/file.h:
src/util.h:
src/spool.h:
src/config.h:
src/event.h:
src/json.h:
src/job.h:
src/json.h:
