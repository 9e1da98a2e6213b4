/* Test hook over the library's one allocation path.
 *
 * Tests link the static library and call these to make the n-th
 * allocation (counting from 1 after the call) fail, then check that the
 * function under test returns MI_ERR_NO_MEMORY and that no allocation is
 * left outstanding. Not part of the public API. */
#ifndef MI_ALLOC_HOOK_H
#define MI_ALLOC_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* Fail the n-th allocation from now (n >= 1); 0 disables injection. */
void mi__alloc_fail_at(uint64_t n);
/* Allocations attempted since the last mi__alloc_fail_at / reset. */
uint64_t mi__alloc_count(void);
/* Blocks allocated and not yet freed by the library (all time). */
int64_t mi__alloc_outstanding(void);
/* True once the injected failure has fired. */
int mi__alloc_failed(void);

#endif
