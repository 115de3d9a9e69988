src/config.o: src/config.c src/config.h src/file.h src/util.h
src/config.h:
src/file.h:
src/util.h:
