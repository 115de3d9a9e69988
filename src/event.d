src/event.o: src/event.c src/event.h src/json.h src/util.h
src/event.h:
src/json.h:
src/util.h:
