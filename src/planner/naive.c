/* naive: every buffer its own region, in the order given. The baseline
 * that every saving is measured against. */
#include "planner_internal.h"

mi_status mi__plan_naive(const mi__prob *p, size_t *offsets, size_t *pool) {
    size_t at = 0;
    for (size_t i = 0; i < p->n; i++) {
        offsets[i] = at;
        at += p->size[i]; /* cannot overflow: the sum is p->naive */
    }
    *pool = at;
    return MI_OK;
}
