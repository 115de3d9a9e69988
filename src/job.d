src/job.o: src/job.c src/job.h src/util.h src/json.h
src/job.h:
src/util.h:
src/json.h:
