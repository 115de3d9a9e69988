src/file.o: src/file.c src/file.h src/util.h
src/file.h:
src/util.h:
