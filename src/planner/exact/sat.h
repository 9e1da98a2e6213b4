/* A small CDCL satisfiability solver (sat.c), for the planner's no-slack
 * problems (exact_sat.c encodes them). Conflict-driven clause learning in
 * the manner of MiniSat and Glucose: two watched literals, VSIDS, first-UIP
 * clauses with recursive minimisation, phase saving, restarts on the
 * learnt clauses' quality (LBD), and a learnt-clause database halved on a
 * schedule. It is incremental in the simple sense: clauses may be added
 * between calls, and a call stopped by its budget keeps what it learnt. No
 * graph or planner knowledge here. */
#ifndef MI_PLANNER_SAT_H
#define MI_PLANNER_SAT_H

#include "common/internal.h"

#include <stdint.h>

typedef struct mi__sat mi__sat;

typedef enum mi__sat_result {
    MI__SAT_UNKNOWN = 0, /* the budget ran out or stop() said so */
    MI__SAT_SAT = 10,
    MI__SAT_UNSAT = 20,
} mi__sat_result;

/* Literals as in DIMACS: variable v (0-based) is v + 1, its negation -(v + 1). */
mi_status mi__sat_create(mi__sat **out);
void mi__sat_destroy(mi__sat *s); /* NULL: no-op */
/* n new variables; *first receives the first one's index. With decide 0
 * the search does not branch on them while others are unassigned: meant
 * for variables that propagation fixes once the others are (the nodes of
 * an encoded constraint), which would only lengthen the search. */
mi_status mi__sat_new_vars(mi__sat *s, uint32_t n, int decide, uint32_t *first);
uint32_t mi__sat_nvars(const mi__sat *s);
/* A clause over existing variables (duplicates and tautologies allowed). */
mi_status mi__sat_add(mi__sat *s, const int32_t *lits, size_t n);
/* Searches for at most `conflicts` more conflicts (0: no limit); stop (may
 * be NULL) is polled now and then and ends the call when it returns true. */
mi_status mi__sat_solve(mi__sat *s, uint64_t conflicts, int (*stop)(void *), void *arg,
                        mi__sat_result *res);
/* The same, stopped too after about `ticks` more ticks (0: no limit):
 * a tick is a watch visited in propagation, which is where the time goes,
 * so ticks bound the time of a call on any formula, conflicts do not. */
mi_status mi__sat_solve_limited(mi__sat *s, uint64_t conflicts, uint64_t ticks,
                                int (*stop)(void *), void *arg, mi__sat_result *res);
uint64_t mi__sat_ticks(const mi__sat *s);
/* After MI__SAT_SAT: the value of variable v (0 or 1). */
int mi__sat_value(const mi__sat *s, uint32_t v);
uint64_t mi__sat_conflicts(const mi__sat *s);
/* Seed 0 (the default) starts every variable alike; another seed gives
 * the branched-on variables created after the call small random initial
 * activities and random first phases, so that searches of one formula
 * differ. */
void mi__sat_set_seed(mi__sat *s, uint64_t seed);

#endif
