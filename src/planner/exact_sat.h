/* The no-slack decision as satisfiability (exact_sat.c), beside the
 * skyline search of exact.c. Internal to the exact strategy. */
#ifndef MI_EXACT_SAT_H
#define MI_EXACT_SAT_H

#include "exact_internal.h"
#include "sat.h"

/* A conflict of the SAT search is charged as this many nodes (and as much
 * work), about what the skyline search does in the same time, so that
 * node budgets bound both and results repeat. */
#define MI__XSAT_COST 50

/* Is there a plan of part q, which has no slack at cap, within cap? Runs
 * the SAT search (encoded on the first call for the part and kept, with
 * what it learnt, for the next) for about `nodes` nodes. On OUT_FOUND
 * s->sol holds the plan of the part's buffers; OUT_INFEASIBLE is a proof. */
mi_status mi__xsat_decide(solver *s, uint32_t q, size_t cap, uint64_t nodes, outcome *out);
/* False once part q is known to be too large to encode. */
int mi__xsat_usable(const solver *s, uint32_t q);
void mi__xsat_free(mi__xsat *x);

#endif
