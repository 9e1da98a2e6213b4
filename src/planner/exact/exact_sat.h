/* The no-slack decision as satisfiability (exact_sat.c), beside the
 * skyline search of exact.c. Internal to the exact strategy. */
#ifndef MI_EXACT_SAT_H
#define MI_EXACT_SAT_H

#include "exact_internal.h"
#include "sat.h"

/* The SAT search is charged as nodes (and as much work) by whichever is
 * more: MI__XSAT_COST per conflict, or a node per MI__XSAT_TICKS watches
 * visited, about what the skyline search does in the same time (here
 * about 0.6 M nodes and 40 M watches a second). Both are counts, so node
 * budgets bound both searches and results repeat; the ticks keep a part
 * with a huge formula, where one conflict costs a millisecond, within
 * auto's budget too. */
#define MI__XSAT_COST 50
#define MI__XSAT_TICKS 128

/* Is there a plan of part q, which has no slack at cap, within cap? Runs
 * the SAT search (encoded on the first call for the part and kept, with
 * what it learnt, for the next) for about `nodes` nodes. On OUT_FOUND
 * s->sol holds the plan of the part's buffers; OUT_INFEASIBLE is a proof. */
mi_status mi__xsat_decide(solver *s, uint32_t q, size_t cap, uint64_t nodes, outcome *out);
/* False once part q is known to be too large to encode. */
int mi__xsat_usable(const solver *s, uint32_t q);
void mi__xsat_free(mi__xsat *x);

#endif
