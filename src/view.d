src/view.o: src/view.c src/view.h src/event.h src/json.h src/util.h \
 src/spool.h src/config.h src/job.h
src/view.h:
src/event.h:
src/json.h:
src/util.h:
src/spool.h:
src/config.h:
src/job.h:
