/*
 * Allocation counter for the "no allocation on the per-sample path" tests:
 * malloc, calloc and realloc are interposed in the executable that includes
 * this (once: it defines them; glibc lets the program's definitions win and
 * they forward to __libc_malloc & co.). Set `counting` around the code
 * under test and read `allocs`. Not for builds with the sanitizers, which
 * interpose malloc themselves.
 */
#ifndef ODO_TEST_ALLOC_COUNT_H
#define ODO_TEST_ALLOC_COUNT_H

#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static volatile int counting;
static volatile long allocs;

void *malloc(size_t n)
{
	if (counting)
		allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (counting)
		allocs++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		allocs++;
	return __libc_realloc(p, n);
}

#endif
